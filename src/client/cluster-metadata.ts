// What a client knows of the cluster, from Metadata answers: the live brokers (node id → address)
// and, per topic, each partition's leader and leader epoch; refreshed on demand, and marked stale
// when an answer says leadership moved. From it, where a partition's requests go (its Route).
//
// A route names the leader's node; the bootstrap connection (whichever broker the client reached
// through its bootstrap list) stands in where the answers name no leader to go to: a topic or
// partition they do not know, no leader right now (an election), or a leader whose address no
// answer gave. That broker then answers for itself (UNKNOWN_TOPIC_OR_PARTITION,
// NOT_LEADER_OR_FOLLOWER), and the caller acts on the answer as on any other.
// A lone broker (an answer naming one broker) is reached through the bootstrap connection too, not
// its advertised address: a proxy or port forward in front of a single broker keeps working as it
// always did, and a cluster down to one live broker is that broker either way.
//
// Refreshes of the same topics coalesce. No connections here: BrokerClient sends the requests.

import { SluiceError, isErrorCode, type ErrorCode } from '../errors.js';
import type { MetadataResponse } from '../protocol/messages.js';

/** Where a request goes: a broker by node id, or the broker the bootstrap connection reached. */
export type BrokerTarget = number | 'bootstrap';

export interface Route {
  target: BrokerTarget;
  /** The leader epoch the answers named (-1: none, as from a lone broker, which does not check it). */
  leaderEpoch: number;
}

export interface BrokerAddress {
  host: string;
  port: number;
}

/** Answers that say what the client knows of a partition's leader is out of date: refresh, back off, ask again. */
export const LEADERSHIP_ERRORS: ReadonlySet<ErrorCode> = new Set<ErrorCode>(['NOT_LEADER_OR_FOLLOWER', 'LEADER_NOT_AVAILABLE', 'FENCED_LEADER_EPOCH', 'UNKNOWN_LEADER_EPOCH']);

export function isLeadershipError(code: string | undefined): boolean {
  return code !== undefined && LEADERSHIP_ERRORS.has(code as ErrorCode);
}

/** Sends one Metadata request for `topics` (BrokerClient's, over the bootstrap connection). */
export type MetadataFetcher = (topics: string[], allowAutoCreate: boolean) => Promise<MetadataResponse>;

interface TopicEntry {
  /** Per partition index: its leader (-1: none now) and leader epoch (-1: not named). */
  partitions: Array<{ leader: number; leaderEpoch: number }>;
  /** The answer's error for the topic (it does not exist, or may not be described). */
  error: SluiceError | undefined;
  /** An answer since said leadership moved: ask again before routing by it. */
  stale: boolean;
}

const BOOTSTRAP_ROUTE: Route = { target: 'bootstrap', leaderEpoch: -1 };

export class ClusterMetadata {
  readonly #fetch: MetadataFetcher;
  /** The live brokers as the last answer named them. */
  #brokers = new Map<number, BrokerAddress>();
  /** Addresses learnt elsewhere (a FindCoordinator answer), for nodes the last Metadata answer did not name. */
  readonly #learnt = new Map<number, BrokerAddress>();
  #answered = false;
  readonly #topics = new Map<string, TopicEntry>();
  /** Refreshes in flight, by `allowAutoCreate` and topic: a topic asked for again joins its request. */
  readonly #inFlight = new Map<string, Promise<void>>();

  constructor(fetch: MetadataFetcher) {
    this.#fetch = fetch;
  }

  /** Whether any Metadata answer arrived yet (the brokers are known). */
  get answered(): boolean {
    return this.#answered;
  }

  /** One broker, or none known yet: it is reached through the bootstrap connection. */
  get lone(): boolean {
    return this.#brokers.size <= 1;
  }

  /** The address of broker `nodeId`, as an answer named it. */
  address(nodeId: number): BrokerAddress | undefined {
    return this.#brokers.get(nodeId) ?? this.#learnt.get(nodeId);
  }

  /** The live brokers' node ids, as the last answer named them. */
  nodeIds(): number[] {
    return [...this.#brokers.keys()];
  }

  /** Every live broker's address (more places to bootstrap from when the list given fails). */
  addresses(): BrokerAddress[] {
    return [...this.#brokers.values()];
  }

  /** Where requests for broker `nodeId` go; `address` (from an answer that named it) is kept for it. */
  target(nodeId: number, address?: BrokerAddress): BrokerTarget {
    if (address && !this.#brokers.has(nodeId)) this.#learnt.set(nodeId, address);
    if (this.lone && (this.#brokers.size === 0 || this.#brokers.has(nodeId))) return 'bootstrap';
    return this.address(nodeId) ? nodeId : 'bootstrap';
  }

  /** The topic's partition count, if known and not stale (an unknown topic has none). */
  partitionCount(topic: string): number | undefined {
    const entry = this.#topics.get(topic);
    return entry && !entry.stale && !entry.error ? entry.partitions.length : undefined;
  }

  /** Known and not stale: routes by it need no refresh first. */
  fresh(topic: string): boolean {
    const entry = this.#topics.get(topic);
    return entry !== undefined && !entry.stale;
  }

  /** The answer's error for `topic` (undefined: none, or not asked yet). */
  topicError(topic: string): SluiceError | undefined {
    return this.#topics.get(topic)?.error;
  }

  /** Where the partition's requests go, by the last answer (fresh or not); the bootstrap broker where it names no leader. */
  route(topic: string, partition: number): Route {
    const placed = this.#topics.get(topic)?.partitions[partition];
    if (!placed || placed.leader < 0) return BOOTSTRAP_ROUTE;
    return { target: this.target(placed.leader), leaderEpoch: placed.leaderEpoch };
  }

  /** The next route lookup for `topic` waits for a new answer (the counts too: the topic may have changed). */
  markStale(topic: string): void {
    const entry = this.#topics.get(topic);
    if (entry) entry.stale = true;
  }

  /** Asks for `topics` (those already being asked for join that request); rejects when no broker answered. */
  refresh(topics: readonly string[], allowAutoCreate: boolean): Promise<void> {
    const waits: Array<Promise<void>> = [];
    const ask: string[] = [];
    for (const topic of new Set(topics)) {
      const pending = this.#inFlight.get(flightKey(allowAutoCreate, topic));
      if (pending) waits.push(pending);
      else ask.push(topic);
    }
    if (ask.length > 0 || waits.length === 0) {
      const request = this.#fetch(ask, allowAutoCreate).then((answer) => this.#learn(ask, answer));
      const done = request.finally(() => {
        for (const topic of ask) if (this.#inFlight.get(flightKey(allowAutoCreate, topic)) === done) this.#inFlight.delete(flightKey(allowAutoCreate, topic));
      });
      for (const topic of ask) this.#inFlight.set(flightKey(allowAutoCreate, topic), done);
      waits.push(done);
    }
    return Promise.all(waits).then(() => undefined);
  }

  #learn(asked: readonly string[], answer: MetadataResponse): void {
    this.#answered = true;
    this.#brokers = new Map(answer.brokers.map((b) => [b.nodeId, { host: b.host, port: b.port }]));
    for (const id of this.#brokers.keys()) this.#learnt.delete(id);
    for (const t of answer.topics) {
      const error = t.error ? new SluiceError(isErrorCode(t.error.code) ? t.error.code : 'UNKNOWN_SERVER_ERROR', t.error.message) : undefined;
      const partitions: TopicEntry['partitions'] = [];
      for (const p of t.partitions) partitions[p.partition] = { leader: p.leader, leaderEpoch: p.leaderEpoch ?? -1 };
      this.#topics.set(t.name, { partitions, error, stale: false });
    }
    // A topic the answer left out is as good as unknown (the broker answers for it when asked).
    for (const topic of asked) {
      if (!answer.topics.some((t) => t.name === topic)) this.#topics.set(topic, { partitions: [], error: new SluiceError('UNKNOWN_TOPIC_OR_PARTITION', `the Metadata answer did not name ${topic}`), stale: false });
    }
  }
}

function flightKey(allowAutoCreate: boolean, topic: string): string {
  return `${allowAutoCreate ? 1 : 0}\u0000${topic}`;
}
