// A client's link to the cluster: its connections (the bootstrap connection, to the first broker of
// the bootstrap list that answers, for requests any broker can answer; and one per broker node,
// opened when a request is routed to it), typed calls that turn error responses into
// SluiceErrors, a retry helper with backoff for retriable errors, and the cluster metadata
// (cluster-metadata.ts: brokers, partition leaders, refreshed on demand) that routes each
// partition's requests to its leader. The producer, consumer, admin and subscription each hold one
// or more of these. Against a single broker, every request goes over the bootstrap connection.

import { SluiceError } from '../errors.js';
import { ApiKey, type ErrorBody, type ListOffsetsResponse, type MetadataResponse } from '../protocol/messages.js';
import type { FindCoordinatorResponse } from '../protocol/group-messages.js';
import type { TopicPartition } from '../vocabulary.js';
import { ClusterMetadata, isLeadershipError, type BrokerAddress, type BrokerTarget, type Route } from './cluster-metadata.js';
import { authenticate, Connection, responseError, type Response } from './connection.js';

export type { BrokerTarget, Route };

export interface ClientOptions {
  /** `host:port` of a broker, or several, comma-separated (a bootstrap list; default `127.0.0.1:9292`). */
  broker?: string;
  clientId?: string;
  connectTimeoutMs?: number;
  /**
   * How long a request may go unanswered beyond what it asks the broker to wait before its
   * connection is given up (REQUEST_TIMED_OUT, retriable; Kafka's request.timeout.ms; default 30 s).
   */
  requestTimeoutMs?: number;
  /** Attempts after the first for retriable errors (default 5). */
  retries?: number;
  /** Authenticates every connection with this token (brokers run with --auth-file need one). */
  token?: string;
  /** First backoff between attempts; doubles each time, up to 5 s (default 100 ms). */
  retryBackoffMs?: number;
}

export const DEFAULT_PORT = 9292;
export const DEFAULT_BROKER = `127.0.0.1:${DEFAULT_PORT}`;

/** `host:port`, or a host alone for the default port (9292), as kcat's `-b localhost` means its default. */
export function parseBroker(address: string): { host: string; port: number } {
  const trimmed = address.trim();
  // A bare host: a name, an IPv4 address, or a bracketed or plain IPv6 address (two colons or more).
  if (trimmed !== '' && (/^[^:]+$/.test(trimmed) || /^\[[^\]]+\]$/.test(trimmed) || (trimmed.split(':').length > 2 && !/^\[/.test(trimmed)))) {
    return { host: trimmed.replace(/^\[(.*)\]$/, '$1'), port: DEFAULT_PORT };
  }
  const m = /^(.*):(\d+)$/.exec(trimmed);
  const port = m ? Number(m[2]) : NaN;
  if (!m || !m[1] || !Number.isInteger(port) || port < 1 || port > 65535) {
    throw new SluiceError('INVALID_CONFIG', `broker address must be host:port, got ${JSON.stringify(address)}`);
  }
  return { host: m[1].replace(/^\[(.*)\]$/, '$1'), port };
}

/** A bootstrap list: `host:port` entries (each as parseBroker reads it), comma-separated. */
export function parseBrokers(list: string): Array<{ host: string; port: number }> {
  return list.split(',').map(parseBroker);
}

/** One answer per partition of a partition-keyed request (ListOffsets, DeleteRecords, DescribeProducers). */
type PartitionAnswer = TopicPartition & { error?: ErrorBody };

/** A connection being opened or open, shared by the requests that need it (they share one attempt). */
interface Link {
  address: BrokerAddress;
  connection: Promise<Connection> | undefined;
}

export class BrokerClient {
  readonly clientId: string;
  readonly retries: number;
  readonly retryBackoffMs: number;
  /** Brokers, partition leaders and epochs, as Metadata answers named them. */
  readonly metadata: ClusterMetadata;
  readonly #bootstrap: readonly BrokerAddress[];
  /** The bootstrap candidate that answered last: the next bootstrap connection tries it first. */
  #bootstrapAt = 0;
  #bootstrapConnection: Promise<Connection> | undefined;
  readonly #nodes = new Map<number, Link>();
  readonly #connectTimeoutMs: number;
  readonly #requestTimeoutMs: number | undefined;
  readonly #token: string | undefined;
  #closed = false;

  constructor(options: ClientOptions = {}) {
    this.#bootstrap = parseBrokers(options.broker ?? DEFAULT_BROKER);
    this.clientId = options.clientId ?? 'sluice-client';
    this.#connectTimeoutMs = options.connectTimeoutMs ?? 10_000;
    this.#requestTimeoutMs = options.requestTimeoutMs;
    this.#token = options.token;
    this.retries = options.retries ?? 5;
    this.retryBackoffMs = options.retryBackoffMs ?? 100;
    this.metadata = new ClusterMetadata((topics, allowAutoCreate) => this.call<MetadataResponse>(ApiKey.Metadata, allowAutoCreate ? { topics } : { topics, allowAutoCreate }));
  }

  /** Sends a request to the bootstrap broker; an error response becomes a thrown SluiceError. */
  async call<T>(apiKey: number, body: unknown, data: readonly Uint8Array[] = []): Promise<T> {
    return (await this.request(apiKey, body, data)).body as T;
  }

  async request(apiKey: number, body: unknown, data: readonly Uint8Array[] = []): Promise<Response> {
    return this.requestAt('bootstrap', apiKey, body, data);
  }

  /** The bootstrap connection (opened, and authenticated, if need be). */
  connection(): Promise<Connection> {
    return this.connectionAt('bootstrap');
  }

  /** A request that gets no response (produce with acks=0), to the bootstrap broker. */
  async send(apiKey: number, body: unknown, data: readonly Uint8Array[] = []): Promise<void> {
    return this.sendAt('bootstrap', apiKey, body, data);
  }

  /** `call`, to a broker of the cluster (a partition's leader, a group's coordinator). */
  async callAt<T>(target: BrokerTarget, apiKey: number, body: unknown, data: readonly Uint8Array[] = []): Promise<T> {
    return (await this.requestAt(target, apiKey, body, data)).body as T;
  }

  async requestAt(target: BrokerTarget, apiKey: number, body: unknown, data: readonly Uint8Array[] = []): Promise<Response> {
    const connection = await this.connectionAt(target);
    const response = await connection.request(apiKey, 0, body, data);
    const err = responseError(response.body);
    if (err) throw err;
    return response;
  }

  async sendAt(target: BrokerTarget, apiKey: number, body: unknown, data: readonly Uint8Array[] = []): Promise<void> {
    (await this.connectionAt(target)).send(apiKey, 0, body, data);
  }

  /** The open connection to `target`, or a new one when there is none or it failed (callers share one attempt). */
  async connectionAt(target: BrokerTarget): Promise<Connection> {
    for (;;) {
      if (this.#closed) throw new SluiceError('NETWORK_EXCEPTION', 'the client is closed');
      const current = target === 'bootstrap' ? (this.#bootstrapConnection ??= this.#openBootstrap()) : this.#nodeLink(target).connection!;
      const forget = () => {
        if (target === 'bootstrap') {
          if (this.#bootstrapConnection === current) this.#bootstrapConnection = undefined;
        } else {
          const link = this.#nodes.get(target);
          if (link?.connection === current) link.connection = undefined;
        }
      };
      try {
        const c = await current;
        if (!c.closed) return c;
      } catch (err) {
        forget();
        throw err;
      }
      forget();
    }
  }

  /** Runs `fn`, retrying retriable errors (a lost connection included) with exponential backoff. */
  async withRetries<T>(fn: () => Promise<T>): Promise<T> {
    for (let attempt = 0; ; attempt++) {
      try {
        return await fn();
      } catch (err) {
        if (this.#closed || attempt >= this.retries || !(err instanceof SluiceError) || !err.retriable) throw err;
        await sleep(this.backoffMs(attempt));
      }
    }
  }

  backoffMs(attempt: number): number {
    return Math.min(5_000, this.retryBackoffMs * 2 ** attempt);
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** Partition count of `topic` (cached); UNKNOWN_TOPIC_OR_PARTITION if it does not exist. Auto-creates where the broker does. */
  async partitionCount(topic: string, refresh = false): Promise<number> {
    if (!refresh) {
      const cached = this.metadata.partitionCount(topic);
      if (cached !== undefined) return cached;
    }
    await this.metadata.refresh([topic], true);
    const error = this.metadata.topicError(topic);
    if (error) throw error;
    return this.metadata.partitionCount(topic) ?? 0;
  }

  /** The cached partition count of `topic`, if any (no request). */
  cachedPartitionCount(topic: string): number | undefined {
    return this.metadata.partitionCount(topic);
  }

  /** The next look-up of `topic` (its count, its leaders) asks the cluster again. */
  forgetTopic(topic: string): void {
    this.metadata.markStale(topic);
  }

  /**
   * Routes for partitions: the metadata of topics not known, or stale, is asked for first (without
   * creating topics); a refresh no broker answers leaves the routes as they were.
   */
  async routes(partitions: readonly TopicPartition[]): Promise<Route[]> {
    const unknown = [...new Set(partitions.map((p) => p.topic))].filter((t) => !this.metadata.fresh(t));
    if (unknown.length > 0) await this.metadata.refresh(unknown, false).catch(() => undefined);
    return partitions.map((p) => this.metadata.route(p.topic, p.partition));
  }

  /**
   * Where group `groupId`'s requests go: its coordinator, as FindCoordinator (asked of the bootstrap
   * broker) names it; over the bootstrap connection when the cluster is one broker.
   */
  async coordinator(groupId: string): Promise<BrokerTarget> {
    const [found] = await Promise.all([
      this.call<FindCoordinatorResponse>(ApiKey.FindCoordinator, { groupId }),
      this.metadata.answered ? undefined : this.metadata.refresh([], false),
    ]);
    return this.metadata.target(found.nodeId, { host: found.host, port: found.port });
  }

  /**
   * A partition-keyed request sent to each partition's leader (one request per broker, all at once;
   * `ask` sends one and returns its answers in the order of the partitions given it), answered in
   * the order of `partitions`. A partition whose answer says leadership moved, or whose request
   * failed in a way worth retrying (a lost connection), is asked again at its leader after a
   * metadata refresh and a backoff, up to `retries` times; then its last answer stands (or the
   * last request's error is thrown when it has none).
   */
  async perLeader<P extends TopicPartition, A extends PartitionAnswer>(partitions: readonly P[], ask: (target: BrokerTarget, parts: P[], routes: Route[]) => Promise<A[]>): Promise<A[]> {
    const answers = new Array<A | undefined>(partitions.length);
    let pending = partitions.map((_, i) => i);
    for (let attempt = 0; ; attempt++) {
      const routes = await this.routes(pending.map((i) => partitions[i]!));
      const byTarget = new Map<BrokerTarget, number[]>();
      pending.forEach((i, k) => {
        const list = byTarget.get(routes[k]!.target);
        if (list) list.push(k);
        else byTarget.set(routes[k]!.target, [k]);
      });
      const again: number[] = [];
      let failure: unknown;
      await Promise.all(
        [...byTarget].map(async ([target, ks]) => {
          const parts = ks.map((k) => partitions[pending[k]!]!);
          try {
            const got = await ask(target, parts, ks.map((k) => routes[k]!));
            ks.forEach((k, j) => {
              const i = pending[k]!;
              answers[i] = got[j];
              if (isLeadershipError(got[j]?.error?.code)) {
                this.metadata.markStale(partitions[i]!.topic);
                again.push(i);
              }
            });
          } catch (err) {
            if (!(err instanceof SluiceError) || !err.retriable) throw err;
            failure = err;
            for (const p of parts) this.metadata.markStale(p.topic);
            again.push(...ks.map((k) => pending[k]!));
          }
        }),
      );
      if (again.length === 0 || attempt >= this.retries || this.#closed) {
        if (answers.some((a) => a === undefined)) throw failure;
        return answers as A[];
      }
      await sleep(this.backoffMs(attempt));
      pending = again.sort((a, b) => a - b);
    }
  }

  /** ListOffsets at each partition's leader: earliest (-2), latest (-1), or the first record at or after a time (ms). */
  listOffsets(partitions: ReadonlyArray<TopicPartition & { timestamp: bigint }>): Promise<ListOffsetsResponse['partitions']> {
    return this.perLeader(partitions, async (target, parts) => (await this.callAt<ListOffsetsResponse>(target, ApiKey.ListOffsets, { partitions: parts.map((p) => ({ topic: p.topic, partition: p.partition, timestamp: p.timestamp })) })).partitions);
  }

  async close(): Promise<void> {
    this.#closed = true;
    const all = [this.#bootstrapConnection, ...[...this.#nodes.values()].map((l) => l.connection)];
    this.#bootstrapConnection = undefined;
    this.#nodes.clear();
    await Promise.all(all.map((c) => c?.then((conn) => conn.close(), () => undefined)));
  }

  /**
   * The bootstrap connection: the candidate that answered last first, then the others in turn (the
   * list given, then in a cluster the brokers the metadata names); the last failure if none connects.
   */
  async #openBootstrap(): Promise<Connection> {
    const candidates = [...this.#bootstrap];
    if (!this.metadata.lone) {
      for (const a of this.metadata.addresses()) if (!candidates.some((c) => c.host === a.host && c.port === a.port)) candidates.push(a);
    }
    let failure: unknown;
    for (let k = 0; k < candidates.length; k++) {
      const i = (this.#bootstrapAt + k) % candidates.length;
      try {
        const c = await this.#open(candidates[i]!);
        this.#bootstrapAt = i;
        return c;
      } catch (err) {
        // Refused or unreachable: the next candidate may answer. Anything else (a refused token) is the answer.
        if (this.#closed || !(err instanceof SluiceError) || err.code !== 'NETWORK_EXCEPTION') throw err;
        failure = err;
      }
    }
    throw failure;
  }

  /** Node `nodeId`'s link, its connection opening if there is none; a new one when its address changed. */
  #nodeLink(nodeId: number): Link {
    const address = this.metadata.address(nodeId);
    if (!address) {
      // Routed by an answer since replaced: the caller refreshes and asks again.
      return { address: { host: '', port: 0 }, connection: Promise.reject(new SluiceError('BROKER_NOT_AVAILABLE', `no Metadata answer names broker ${nodeId} now`)) };
    }
    let link = this.#nodes.get(nodeId);
    if (link && (link.address.host !== address.host || link.address.port !== address.port)) {
      void link.connection?.then((c) => c.close(), () => undefined);
      link = undefined;
    }
    if (!link) this.#nodes.set(nodeId, (link = { address, connection: undefined }));
    link.connection ??= this.#open(address);
    return link;
  }

  #open(address: BrokerAddress): Promise<Connection> {
    const timeouts = { connectTimeoutMs: this.#connectTimeoutMs, ...(this.#requestTimeoutMs !== undefined ? { requestTimeoutMs: this.#requestTimeoutMs } : {}) };
    return Connection.connect({ host: address.host, port: address.port, clientId: this.clientId, ...timeouts }).then((c) =>
      this.#token === undefined ? c : authenticate(c, this.#token),
    );
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
