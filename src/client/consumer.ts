// The consumer: reads records from assigned partitions, alone (`assign`) or as a member of a
// consumer group (`subscribe`), as an async iterator of messages or of batches.
//
// Delivery is at least once. A message counts as processed when the iterator is asked for the
// next one (a batch, when the next batch is asked for); auto-commit (every `autoCommitIntervalMs`,
// before a rebalance and on close) commits the offset after the last processed message, so a
// crash re-delivers only unprocessed or uncommitted work, never skips it.
//
// Fetching: each fetch long-polls (`maxWaitMs`, `minBytes`) and the next one is sent as soon as a
// response arrives, so the broker is working on the next batch while the app processes this one.
// A seek, pause, or rebalance discards what was prefetched and rewinds to the processed position.
// Each partition is fetched from its leader (broker-client.ts routes by the cluster metadata), one
// Fetch per leader broker at a time, all of them at once; whichever answers first is delivered
// first, and that broker is asked again while the others still wait. Each partition's Fetch names
// the leader epoch the metadata gave. An answer that says leadership moved (NOT_LEADER_OR_FOLLOWER,
// LEADER_NOT_AVAILABLE, FENCED_LEADER_EPOCH, UNKNOWN_LEADER_EPOCH), an unknown partition, or a lost
// connection marks the topic's metadata stale: after a backoff its leaders are asked for again and
// the partition is fetched from the same offset at the leader named then.
//
// Groups: membership (join, sync, heartbeats, leave, the commit requests) is GroupMembership's, in
// group-membership.ts; this file owns the positions a rebalance moves. When the group rebalances,
// the iterator commits, calls `onRevoked`, rejoins, and calls `onAssigned` before it fetches again.

import { SluiceError, type ErrorCode } from '../errors.js';
import type { FetchPartitionResponse, FetchResponse, ListOffsetsResponse } from '../protocol/messages.js';
import { ApiKey } from '../protocol/messages.js';
import { decodeRecordBatches, type RecordHeader } from '../protocol/record-batch.js';
import { ASSIGNORS } from './assignors.js';
import { BrokerClient, sleep, type BrokerTarget, type ClientOptions, type Route } from './broker-client.js';
import { isLeadershipError } from './cluster-metadata.js';
import { GroupMembership } from './group-membership.js';
import type { TopicPartition } from '../vocabulary.js';

export type { TopicPartition };

export interface Message extends TopicPartition {
  offset: bigint;
  timestampMs: number;
  key: Buffer | null;
  value: Buffer | null;
  headers: RecordHeader[];
}

export interface MessageBatch extends TopicPartition {
  messages: Message[];
  highWatermark: bigint;
}

export interface ConsumerOptions extends ClientOptions {
  /** Consumer group: committed offsets, and with `subscribe`, shared partitions. */
  groupId?: string;
  /** Where to start when there is no committed offset: the beginning (true) or the end (default). */
  fromBeginning?: boolean;
  /** Or the first batch at or after this time (ms). */
  fromTimestampMs?: number;
  /** Commit processed offsets in the background (default true with a groupId). */
  autoCommit?: boolean;
  autoCommitIntervalMs?: number;
  sessionTimeoutMs?: number;
  rebalanceTimeoutMs?: number;
  heartbeatIntervalMs?: number;
  maxWaitMs?: number;
  minBytes?: number;
  maxBytes?: number;
  maxBytesPerPartition?: number;
  /** Assignment strategies, preferred first (default range, roundrobin). */
  assignors?: string[];
  onAssigned?: (partitions: TopicPartition[]) => void | Promise<void>;
  onRevoked?: (partitions: TopicPartition[]) => void | Promise<void>;
}

const keyOf = (topic: string, partition: number) => `${topic}\u0000${partition}`;

/** A Fetch in flight to one broker (one at a time per broker); its partitions are not fetched again until it answers. */
interface BrokerFetch {
  epoch: number;
  /** Set once it answered: the batches it brought (none if the epoch moved meanwhile), or its error. */
  outcome: { batches: MessageBatch[] } | { error: unknown } | undefined;
  /** Settles (never rejects) once `outcome` is set. */
  done: Promise<void>;
}

type FetchPartition = TopicPartition & { key: string; offset: bigint; leaderEpoch: number };

export class Consumer {
  readonly #options: Required<Omit<ConsumerOptions, keyof ClientOptions | 'groupId' | 'fromTimestampMs' | 'onAssigned' | 'onRevoked'>> & ConsumerOptions;
  readonly #fetchClient: BrokerClient;
  /** With a groupId: committed offsets, and after subscribe, membership. */
  #group: GroupMembership | undefined;
  readonly #assigned = new Map<string, TopicPartition>();
  /** Next offset to fetch. */
  readonly #positions = new Map<string, bigint>();
  /** Offset after the last processed message. */
  readonly #processed = new Map<string, bigint>();
  readonly #committed = new Map<string, bigint>();
  readonly #paused = new Set<string>();
  #epoch = 0;
  #prefetch: { epoch: number; result: Promise<MessageBatch[]> } | undefined;
  readonly #fetches = new Map<BrokerTarget, BrokerFetch>();
  /** Partitions in a fetch in flight. */
  readonly #fetching = new Set<string>();
  #commitTimer: NodeJS.Timeout | undefined;
  #closed = false;

  readonly #userOptions: ConsumerOptions;

  constructor(options: ConsumerOptions = {}) {
    this.#userOptions = options;
    this.#options = {
      fromBeginning: false,
      autoCommit: options.groupId !== undefined,
      autoCommitIntervalMs: 5_000,
      sessionTimeoutMs: 30_000,
      rebalanceTimeoutMs: 60_000,
      heartbeatIntervalMs: 3_000,
      maxWaitMs: 500,
      minBytes: 1,
      maxBytes: 50 * 1024 * 1024,
      maxBytesPerPartition: 1024 * 1024,
      assignors: ['range', 'roundrobin'],
      ...options,
    };
    for (const a of this.#options.assignors) if (!ASSIGNORS.has(a)) throw new SluiceError('INVALID_CONFIG', `unknown assignor ${a} (known: ${[...ASSIGNORS.keys()].join(', ')})`);
    this.#fetchClient = new BrokerClient({ clientId: 'sluice-consumer', ...options });
    if (options.groupId !== undefined) this.#group = this.#newGroup(options.groupId);
  }

  /** Joins the group (`options.group`, else the constructor's groupId) and consumes the partitions it assigns from `topics`. */
  subscribe(topics: readonly string[], options: { group?: string } = {}): void {
    if (options.group !== undefined && options.group !== this.#group?.groupId) {
      if (this.#group) throw new SluiceError('INVALID_CONFIG', `this consumer already belongs to group ${this.#group.groupId}`);
      this.#options.autoCommit = this.#userOptions.autoCommit ?? true;
      this.#group = this.#newGroup(options.group);
    }
    if (!this.#group) throw new SluiceError('INVALID_CONFIG', 'subscribe needs a group (subscribe(topics, { group }) or the groupId option); use assign() without one');
    if (this.#assigned.size > 0 && !this.#group.subscribed) throw new SluiceError('INVALID_CONFIG', 'this consumer uses assign(); it cannot also subscribe');
    this.#group.subscribe(topics);
  }

  /** Consumes exactly these partitions, from `offset`, else the committed offset (with a groupId), else the reset policy. */
  async assign(partitions: ReadonlyArray<TopicPartition & { offset?: bigint }>): Promise<void> {
    if (this.#group?.subscribed) throw new SluiceError('INVALID_CONFIG', 'this consumer subscribed to a group; it cannot also assign()');
    this.#bump();
    this.#assigned.clear();
    for (const p of partitions) this.#assigned.set(keyOf(p.topic, p.partition), { topic: p.topic, partition: p.partition });
    await this.#initPositions(partitions.filter((p) => p.offset === undefined));
    for (const p of partitions) if (p.offset !== undefined) this.#setPosition(p.topic, p.partition, p.offset);
  }

  assignment(): TopicPartition[] {
    return [...this.#assigned.values()];
  }

  /** The next offset this consumer will return for a partition. */
  position(topic: string, partition: number): bigint | undefined {
    return this.#processed.get(keyOf(topic, partition));
  }

  seek(topic: string, partition: number, offset: bigint): void {
    this.#bump();
    this.#setPosition(topic, partition, offset);
  }

  pause(partitions: readonly TopicPartition[]): void {
    this.#bump();
    for (const p of partitions) this.#paused.add(keyOf(p.topic, p.partition));
  }

  resume(partitions: readonly TopicPartition[]): void {
    for (const p of partitions) this.#paused.delete(keyOf(p.topic, p.partition));
  }

  /** Batches of messages, one partition each, in fetch order. */
  async *batches(): AsyncGenerator<MessageBatch> {
    while (!this.#closed) {
      if (this.#group?.needsJoin) await this.#rebalance(this.#group);
      const epoch = this.#epoch;
      let batches: MessageBatch[];
      try {
        batches = await this.#nextFetch();
      } catch (err) {
        if (this.#closed) return;
        throw err;
      }
      for (const b of batches) {
        if (this.#epoch !== epoch || this.#group?.needsJoin || this.#closed) break;
        if (b.messages.length === 0) continue;
        yield b;
        if (this.#epoch === epoch) this.#markProcessed(b.topic, b.partition, b.messages.at(-1)!.offset + 1n);
      }
    }
  }

  async *[Symbol.asyncIterator](): AsyncGenerator<Message> {
    for await (const batch of this.batches()) {
      const epoch = this.#epoch;
      for (const m of batch.messages) {
        if (this.#epoch !== epoch || this.#group?.needsJoin || this.#closed) break;
        yield m;
        if (this.#epoch === epoch) this.#markProcessed(m.topic, m.partition, m.offset + 1n);
      }
    }
  }

  /**
   * Commits `offsets` (each the next offset to consume), or every processed position not yet
   * committed. Needs a groupId.
   */
  async commit(offsets?: ReadonlyArray<TopicPartition & { offset: bigint }>): Promise<void> {
    const group = this.#group;
    if (!group) throw new SluiceError('INVALID_CONFIG', 'commit needs a groupId');
    const list =
      offsets ??
      [...this.#processed].filter(([k, o]) => this.#assigned.has(k) && (this.#committed.get(k) ?? -1n) < o).map(([k, offset]) => ({ ...this.#assigned.get(k)!, offset }));
    if (list.length === 0) return;
    const results = await group.commitOffsets(list);
    const failed = results.find((p) => p.error);
    list.forEach((o, i) => {
      if (results[i]?.error) return;
      const k = keyOf(o.topic, o.partition);
      this.#committed.set(k, o.offset);
      if ((this.#processed.get(k) ?? -1n) < o.offset) this.#processed.set(k, o.offset);
    });
    if (failed?.error) throw new SluiceError(failed.error.code as ErrorCode, `commit of ${failed.topic}-${failed.partition}: ${failed.error.message}`);
  }

  /** Stops fetching, commits what was processed (auto-commit), leaves the group, closes the connections. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#group?.stop();
    clearInterval(this.#commitTimer);
    if (this.#options.autoCommit) await this.commit().catch(() => undefined);
    await this.#group?.leave();
    await Promise.all([this.#fetchClient.close(), this.#group?.close()]);
  }

  #newGroup(groupId: string): GroupMembership {
    return new GroupMembership({
      groupId,
      client: this.#userOptions,
      metadataClient: this.#fetchClient,
      sessionTimeoutMs: this.#options.sessionTimeoutMs,
      rebalanceTimeoutMs: this.#options.rebalanceTimeoutMs,
      heartbeatIntervalMs: this.#options.heartbeatIntervalMs,
      assignors: this.#options.assignors,
    });
  }

  #markProcessed(topic: string, partition: number, next: bigint): void {
    const k = keyOf(topic, partition);
    if ((this.#processed.get(k) ?? -1n) < next) this.#processed.set(k, next);
  }

  #setPosition(topic: string, partition: number, offset: bigint): void {
    const k = keyOf(topic, partition);
    this.#positions.set(k, offset);
    this.#processed.set(k, offset);
  }

  /** Discards prefetched data and rewinds every partition to what was processed. */
  #bump(): void {
    this.#epoch += 1;
    this.#prefetch = undefined;
    for (const [k, o] of this.#processed) this.#positions.set(k, o);
  }

  #nextFetch(): Promise<MessageBatch[]> {
    const prefetched = this.#prefetch?.epoch === this.#epoch ? this.#prefetch.result : undefined;
    const result = prefetched ?? this.#fetchOnce(this.#epoch);
    // The next fetch starts when this one's response arrives, not when the app is done with it.
    const epoch = this.#epoch;
    const next = result.then(
      () => (this.#closed || this.#group?.needsJoin || this.#epoch !== epoch ? [] : this.#fetchOnce(epoch)),
      () => [],
    );
    this.#prefetch = { epoch, result: next };
    next.catch(() => undefined);
    return result;
  }

  /**
   * The batches of the next broker fetches to answer: starts a Fetch at each leader with fetchable
   * partitions and none in flight, then waits for any to answer (what answered meanwhile is taken
   * at once).
   */
  async #fetchOnce(epoch: number): Promise<MessageBatch[]> {
    for (;;) {
      if (epoch !== this.#epoch || this.#closed) return [];
      const answered = [...this.#fetches].filter(([, f]) => f.outcome);
      if (answered.length > 0) {
        const out: MessageBatch[] = [];
        let failure: { error: unknown } | undefined;
        for (const [target, f] of answered) {
          this.#fetches.delete(target);
          if (f.epoch !== epoch) continue;
          if ('error' in f.outcome!) failure ??= f.outcome;
          else out.push(...f.outcome!.batches);
        }
        if (failure) throw failure.error;
        return out;
      }
      await this.#startFetches(epoch);
      if (this.#fetches.size === 0) {
        await sleep(Math.min(this.#options.maxWaitMs, 100));
        return [];
      }
      await Promise.race([...this.#fetches.values()].map((f) => f.done));
    }
  }

  /** One Fetch per leader broker for the fetchable partitions not in a fetch now, at brokers with none in flight. */
  async #startFetches(epoch: number): Promise<void> {
    const idle = () => [...this.#assigned].filter(([k]) => !this.#paused.has(k) && this.#positions.has(k) && !this.#fetching.has(k));
    const candidates = idle();
    if (candidates.length === 0) return;
    const routes = new Map<string, Route>();
    (await this.#fetchClient.routes(candidates.map(([, p]) => p))).forEach((r, i) => routes.set(candidates[i]![0], r));
    if (epoch !== this.#epoch || this.#closed) return;
    const byTarget = new Map<BrokerTarget, FetchPartition[]>();
    for (const [k, p] of idle()) {
      const route = routes.get(k);
      if (!route || this.#fetches.has(route.target)) continue;
      const list = byTarget.get(route.target) ?? [];
      byTarget.set(route.target, list);
      list.push({ ...p, key: k, offset: this.#positions.get(k)!, leaderEpoch: route.leaderEpoch });
    }
    for (const [target, parts] of byTarget) {
      for (const p of parts) this.#fetching.add(p.key);
      const f: BrokerFetch = { epoch, outcome: undefined, done: Promise.resolve() };
      f.done = this.#fetchFrom(target, parts, epoch)
        .then(
          (batches) => void (f.outcome = { batches }),
          (error: unknown) => void (f.outcome = { error }),
        )
        .finally(() => {
          for (const p of parts) this.#fetching.delete(p.key);
        });
      this.#fetches.set(target, f);
    }
  }

  /** One Fetch at `target`: its partitions' batches, with positions moved past them. */
  async #fetchFrom(target: BrokerTarget, requested: readonly FetchPartition[], epoch: number): Promise<MessageBatch[]> {
    let response;
    try {
      response = await this.#fetchClient.requestAt(target, ApiKey.Fetch, {
        maxWaitMs: this.#options.maxWaitMs,
        minBytes: this.#options.minBytes,
        maxBytes: this.#options.maxBytes,
        partitions: requested.map((p) => ({
          topic: p.topic,
          partition: p.partition,
          offset: p.offset,
          maxBytes: this.#options.maxBytesPerPartition,
          ...(p.leaderEpoch >= 0 ? { leaderEpoch: p.leaderEpoch } : {}),
        })),
      });
    } catch (err) {
      if (this.#closed || !(err instanceof SluiceError) || !err.retriable) throw err;
      // The broker may be gone, and its partitions led elsewhere now: ask before fetching them again.
      for (const p of requested) this.#fetchClient.forgetTopic(p.topic);
      await sleep(this.#fetchClient.retryBackoffMs);
      return [];
    }
    if (epoch !== this.#epoch) return [];
    const out: MessageBatch[] = [];
    let at = 0;
    let backOff = false;
    const partitions = (response.body as FetchResponse).partitions;
    for (const [i, p] of partitions.entries()) {
      const data = response.data.subarray(at, at + p.bytes);
      at += p.bytes;
      const req = requested[i]!;
      if (p.error) {
        backOff = (await this.#onFetchError(req, p)) || backOff;
        continue;
      }
      const messages: Message[] = [];
      let next = req.offset;
      for (const batch of decodeRecordBatches(data)) {
        next = batch.baseOffset + BigInt(batch.lastOffsetDelta) + 1n;
        for (const r of batch.records) {
          if (r.offset < req.offset) continue; // the first batch may start before the offset asked for
          messages.push({ topic: p.topic, partition: p.partition, offset: r.offset, timestampMs: r.timestampMs, key: r.key, value: r.value, headers: r.headers });
        }
      }
      if (next > req.offset && epoch === this.#epoch) this.#positions.set(req.key, next);
      out.push({ topic: p.topic, partition: p.partition, messages, highWatermark: p.highWatermark });
    }
    if (backOff) await sleep(this.#fetchClient.retryBackoffMs);
    return out;
  }

  /** Acts on a partition's fetch error; true when the partition waits a backoff before it is fetched again. */
  async #onFetchError(req: FetchPartition, p: FetchPartitionResponse): Promise<boolean> {
    const code = p.error?.code;
    if (code === 'OFFSET_OUT_OF_RANGE') {
      await this.#initPositions([req], true);
      return false;
    }
    if (code === 'UNKNOWN_TOPIC_OR_PARTITION' || isLeadershipError(code)) {
      // Fetched again from the same offset, at the leader the cluster names after a refresh.
      this.#fetchClient.forgetTopic(p.topic);
      return true;
    }
    throw new SluiceError((code ?? 'UNKNOWN_SERVER_ERROR') as ErrorCode, `fetch of ${p.topic}-${p.partition}: ${p.error?.message}`);
  }

  /** Positions for partitions: committed offsets (with a groupId), else the reset policy. */
  async #initPositions(parts: readonly TopicPartition[], skipCommitted = false): Promise<void> {
    if (parts.length === 0) return;
    const committed = new Map<string, bigint>();
    if (this.#group && !skipCommitted) {
      for (const p of await this.#group.committedOffsets(parts)) committed.set(keyOf(p.topic, p.partition), p.offset);
    }
    for (const [k, o] of committed) this.#committed.set(k, o);
    // A committed -2 or -1 (a reset by a tool, as Kafka's tools commit it) means earliest or
    // latest; other negative offsets, like none, mean the reset policy.
    const reset = this.#options.fromTimestampMs !== undefined ? BigInt(this.#options.fromTimestampMs) : this.#options.fromBeginning ? -2n : -1n;
    const tools = new Map<string, bigint>();
    for (const [k, o] of committed) {
      if (o >= 0n) continue;
      committed.delete(k);
      if (o === -2n || o === -1n) tools.set(k, o);
    }
    const rest = parts.filter((p) => !committed.has(keyOf(p.topic, p.partition)));
    const byTimestamp = new Map<bigint, TopicPartition[]>();
    for (const p of rest) {
      const timestamp = tools.get(keyOf(p.topic, p.partition)) ?? reset;
      byTimestamp.set(timestamp, [...(byTimestamp.get(timestamp) ?? []), p]);
    }
    const found = (await Promise.all([...byTimestamp].map(([timestamp, list]) => this.#listOffsets(list, timestamp)))).flat();
    const late = found.filter((f) => f.offset === null || f.offset === undefined);
    const latest = late.length === 0 ? [] : await this.#listOffsets(late, -1n);
    for (const p of parts) {
      const k = keyOf(p.topic, p.partition);
      const offset = committed.get(k) ?? [...found, ...latest].find((f) => keyOf(f.topic, f.partition) === k && f.offset != null)?.offset;
      if (offset != null) this.#setPosition(p.topic, p.partition, offset);
    }
  }

  async #listOffsets(parts: readonly TopicPartition[], timestamp: bigint): Promise<ListOffsetsResponse['partitions']> {
    const r = await this.#fetchClient.listOffsets(parts.map((p) => ({ topic: p.topic, partition: p.partition, timestamp })));
    const failed = r.find((p) => p.error);
    if (failed?.error) throw new SluiceError(failed.error.code as ErrorCode, `${failed.topic}-${failed.partition}: ${failed.error.message}`);
    return r;
  }

  /** Lets go of the old assignment (commit, onRevoked), rejoins, and takes the new one (positions, onAssigned). */
  #rebalance(group: GroupMembership): Promise<void> {
    return group.join({
      revoke: async () => {
        if (this.#assigned.size > 0) {
          if (this.#options.autoCommit) await this.commit().catch(() => undefined);
          await this.#options.onRevoked?.(this.assignment());
        }
        this.#bump();
        this.#assigned.clear();
        this.#positions.clear();
        this.#processed.clear();
      },
      assign: async (parts) => {
        for (const p of parts) this.#assigned.set(keyOf(p.topic, p.partition), p);
        this.#startAutoCommit();
        await this.#initPositions(parts);
        await this.#options.onAssigned?.(parts);
      },
    });
  }

  /** Auto-commit runs once this consumer first has a group assignment; with assign() it commits on close only. */
  #startAutoCommit(): void {
    if (this.#options.autoCommit && !this.#commitTimer) {
      this.#commitTimer = setInterval(() => void this.commit().catch(() => undefined), this.#options.autoCommitIntervalMs);
      this.#commitTimer.unref();
    }
  }
}
