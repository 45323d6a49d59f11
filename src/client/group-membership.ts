// A Consumer's side of its consumer group: the group's own connection, the member's identity
// (memberId, generationId) and subscribed topics, JoinGroup/SyncGroup (with the leader's partition
// assignment), background heartbeats, LeaveGroup, and the OffsetCommit and OffsetFetch requests.
// What to commit, and where each partition's position starts, stays with the Consumer, which owns
// the positions; this module hands it the partitions it gains and asks it to let go of the old ones.
//
// The member joins on its own connection because the broker holds JoinGroup and SyncGroup until
// the group is ready, and fetches on the Consumer's connection must not wait behind them. The
// leader assigns partitions with the first strategy all members support. A heartbeat answered
// REBALANCE_IN_PROGRESS (or UNKNOWN_MEMBER_ID, ILLEGAL_GENERATION) sets `needsJoin`; the Consumer's
// iterator then calls `join` before it fetches again. A lost connection (a broker restart) is
// retried with backoff; the member rejoins under a new memberId when the broker no longer knows it.
//
// A Consumer with a groupId that uses assign() instead of subscribe() has one of these too, only
// for committed offsets: it never joins, and commits outside any generation.
//
// Every group request goes to the group's coordinator, as FindCoordinator (asked of the bootstrap
// broker) names it; an answer NOT_COORDINATOR or COORDINATOR_NOT_AVAILABLE, or a lost connection,
// makes the next request ask again.

import { SluiceError } from '../errors.js';
import { ApiKey } from '../protocol/messages.js';
import type { JoinGroupResponse, OffsetCommitResponse, OffsetFetchResponse } from '../protocol/group-messages.js';
import { ASSIGNORS, decodeAssignment, decodeMemberMetadata, encodeAssignment, encodeMemberMetadata } from './assignors.js';
import { BrokerClient, sleep, type BrokerTarget, type ClientOptions } from './broker-client.js';
import type { TopicPartition } from '../vocabulary.js';

export interface GroupMembershipOptions {
  groupId: string;
  /** For the group's own connection. */
  client: ClientOptions;
  /** The Consumer's connection, on which the leader looks up partition counts (refreshing its cache). */
  metadataClient: BrokerClient;
  sessionTimeoutMs: number;
  rebalanceTimeoutMs: number;
  heartbeatIntervalMs: number;
  /** Assignment strategies, preferred first; the Consumer has checked that they are known. */
  assignors: readonly string[];
}

/** The Consumer's side of a rebalance, called by `join` in this order. */
export interface RebalanceHooks {
  /** Lets go of the old assignment (commit, onRevoked) before the member rejoins. */
  revoke(): Promise<void>;
  /** Takes the new assignment (positions, onAssigned); heartbeats already run. */
  assign(partitions: TopicPartition[]): Promise<void>;
}

/** Answers after which the coordinator is looked up again. */
const COORDINATOR_MOVED: ReadonlySet<string> = new Set(['NOT_COORDINATOR', 'COORDINATOR_NOT_AVAILABLE', 'NETWORK_EXCEPTION', 'BROKER_NOT_AVAILABLE']);

/** Answers that mean this member must join again rather than retry. */
const REJOIN_CODES: ReadonlySet<string> = new Set(['UNKNOWN_MEMBER_ID', 'ILLEGAL_GENERATION', 'REBALANCE_IN_PROGRESS']);
const NO_MEMBER: Readonly<{ memberId: string; generationId: number }> = { memberId: '', generationId: -1 };

export class GroupMembership {
  readonly groupId: string;
  readonly #options: GroupMembershipOptions;
  readonly #client: BrokerClient;
  #topics: string[] | null = null;
  #member = NO_MEMBER;
  #needsJoin = false;
  /** From the start of a rebalance until the new assignment is taken: heartbeats are skipped, as the member may change under them. */
  #joining = false;
  #heartbeatTimer: NodeJS.Timeout | undefined;
  #stopped = false;
  /** The coordinator, once FindCoordinator named it. */
  #coordinator: Promise<BrokerTarget> | undefined;

  constructor(options: GroupMembershipOptions) {
    this.groupId = options.groupId;
    this.#options = options;
    this.#client = new BrokerClient({ clientId: 'sluice-consumer', ...options.client });
  }

  /** Whether the Consumer subscribed (is a member) rather than assigning its own partitions. */
  get subscribed(): boolean {
    return this.#topics !== null;
  }

  /** A subscription changed or the group rebalances: `join` before fetching again. */
  get needsJoin(): boolean {
    return this.#needsJoin;
  }

  /** Sets the topics this member asks for; takes effect at the next `join`. */
  subscribe(topics: readonly string[]): void {
    this.#topics = [...topics];
    this.#needsJoin = true;
  }

  /**
   * Leaves the old assignment (`hooks.revoke`) and joins until this member has a new one
   * (`hooks.assign`). Returns without one if `stop` is called meanwhile.
   */
  async join(hooks: RebalanceHooks): Promise<void> {
    this.#joining = true;
    try {
      await hooks.revoke();
      const partitions = await this.#joinAndSync();
      if (partitions === undefined) return;
      this.#needsJoin = false;
      this.#startHeartbeats();
      await hooks.assign(partitions);
    } finally {
      this.#joining = false;
    }
  }

  /** Commits offsets (each the next offset to consume); returns the broker's answer per partition, in order. */
  async commitOffsets(offsets: ReadonlyArray<TopicPartition & { offset: bigint }>): Promise<OffsetCommitResponse['partitions']> {
    const response = await this.#call<OffsetCommitResponse>(ApiKey.OffsetCommit, {
      groupId: this.groupId,
      // A consumer that assigns its own partitions is no member: it commits outside any generation.
      generationId: this.#topics ? this.#member.generationId : -1,
      memberId: this.#topics ? this.#member.memberId : '',
      offsets: offsets.map((o) => ({ topic: o.topic, partition: o.partition, offset: o.offset })),
    });
    return response.partitions;
  }

  /** The group's committed offsets for these partitions (retrying retriable errors); partitions with none are left out. */
  async committedOffsets(partitions: readonly TopicPartition[]): Promise<Array<TopicPartition & { offset: bigint }>> {
    const r = await this.#client.withRetries(() =>
      this.#call<OffsetFetchResponse>(ApiKey.OffsetFetch, { groupId: this.groupId, partitions: partitions.map((p) => ({ topic: p.topic, partition: p.partition })) }),
    );
    return r.partitions.flatMap((p) => (p.offset === null ? [] : [{ topic: p.topic, partition: p.partition, offset: p.offset }]));
  }

  /** Stops heartbeats and any join in progress; the connection stays open for a last commit and `leave`. */
  stop(): void {
    this.#stopped = true;
    clearInterval(this.#heartbeatTimer);
  }

  /** Tells the broker this member is gone, so the group rebalances now rather than after the session timeout. Never throws. */
  async leave(): Promise<void> {
    if (!this.#topics || !this.#member.memberId) return;
    await this.#call(ApiKey.LeaveGroup, { groupId: this.groupId, memberId: this.#member.memberId }).catch(() => undefined);
  }

  async close(): Promise<void> {
    await this.#client.close();
  }

  /** A request to the group's coordinator (looked up first when not known, or no longer). */
  async #call<T>(apiKey: number, body: unknown): Promise<T> {
    const current = (this.#coordinator ??= this.#client.coordinator(this.groupId));
    let target: BrokerTarget;
    try {
      target = await current;
    } catch (err) {
      if (this.#coordinator === current) this.#coordinator = undefined;
      throw err;
    }
    try {
      return await this.#client.callAt<T>(target, apiKey, body);
    } catch (err) {
      if (this.#coordinator === current && (!(err instanceof SluiceError) || COORDINATOR_MOVED.has(err.code))) this.#coordinator = undefined;
      throw err;
    }
  }

  /** JoinGroup then SyncGroup until they succeed; the partitions assigned, or undefined once stopped. */
  async #joinAndSync(): Promise<TopicPartition[] | undefined> {
    const group = this.#client;
    const groupId = this.groupId;
    let assignment: Map<string, number[]>;
    for (let attempt = 0; ; attempt++) {
      if (this.#stopped) return undefined;
      try {
        const joined = await this.#call<JoinGroupResponse>(ApiKey.JoinGroup, {
          groupId,
          memberId: this.#member.memberId,
          sessionTimeoutMs: this.#options.sessionTimeoutMs,
          rebalanceTimeoutMs: this.#options.rebalanceTimeoutMs,
          protocolType: 'consumer',
          protocols: this.#options.assignors.map((name) => ({ name, metadata: encodeMemberMetadata(this.#topics!) })),
        });
        this.#member = { memberId: joined.memberId, generationId: joined.generationId };
        const assignments = joined.leaderId === joined.memberId ? await this.#assignAsLeader(joined) : null;
        const synced = await this.#call<{ assignment: Uint8Array }>(ApiKey.SyncGroup, { groupId, generationId: joined.generationId, memberId: joined.memberId, assignments });
        assignment = decodeAssignment(synced.assignment);
        break;
      } catch (err) {
        if (!(err instanceof SluiceError)) throw err;
        if (err.code === 'UNKNOWN_MEMBER_ID' || err.code === 'ILLEGAL_GENERATION') this.#member = NO_MEMBER;
        else if (!REJOIN_CODES.has(err.code) && !err.retriable) throw err;
        // A rejoin answer is retried at once (with the memberId reset if the broker forgot it); anything
        // else retriable, like a lost connection, backs off first.
        if (!REJOIN_CODES.has(err.code)) await sleep(group.backoffMs(Math.min(attempt, 6)));
      }
    }
    return [...assignment].flatMap(([topic, partitions]) => partitions.map((partition) => ({ topic, partition })));
  }

  async #assignAsLeader(joined: JoinGroupResponse): Promise<Array<{ memberId: string; assignment: Buffer }>> {
    const assignor = ASSIGNORS.get(joined.protocolName ?? '') ?? ASSIGNORS.get(this.#options.assignors[0]!)!;
    const members = joined.members.map((m) => ({ memberId: m.memberId, topics: decodeMemberMetadata(m.metadata) }));
    const counts = new Map<string, number>();
    for (const topic of new Set(members.flatMap((m) => m.topics))) {
      try {
        counts.set(topic, await this.#options.metadataClient.partitionCount(topic, true));
      } catch (err) {
        // A topic that does not exist yet gets no partitions; members are assigned the rest.
        if (!(err instanceof SluiceError) || err.code !== 'UNKNOWN_TOPIC_OR_PARTITION') throw err;
      }
    }
    return [...assignor.assign(members, counts)].map(([memberId, a]) => ({ memberId, assignment: encodeAssignment(a) }));
  }

  #startHeartbeats(): void {
    clearInterval(this.#heartbeatTimer);
    this.#heartbeatTimer = setInterval(() => void this.#heartbeat(), this.#options.heartbeatIntervalMs);
    this.#heartbeatTimer.unref();
  }

  async #heartbeat(): Promise<void> {
    if (this.#joining || this.#needsJoin || this.#stopped) return;
    try {
      await this.#call(ApiKey.Heartbeat, { groupId: this.groupId, generationId: this.#member.generationId, memberId: this.#member.memberId });
    } catch (err) {
      if (!(err instanceof SluiceError) || !REJOIN_CODES.has(err.code)) return; // a lost connection: the next beat retries
      // REBALANCE_IN_PROGRESS keeps the memberId; the others mean the broker no longer knows it.
      if (err.code !== 'REBALANCE_IN_PROGRESS') this.#member = NO_MEMBER;
      this.#needsJoin = true;
    }
  }
}
