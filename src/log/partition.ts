// One partition of a topic as the broker sees it: its PartitionLog plus the listeners that wait
// for appends (parked long-poll fetches). Appends go through here so that every append wakes the
// fetches waiting on this partition; nothing polls.
//
// Everything that changes the log (append, retention, deleting records, close) goes through here too, so the
// partition can keep what fetches ask for over and over until the log changes: its high watermark
// and log start offset, and the last slice made. The fetches one append wakes (tailing consumers,
// all at the same offset) then share one native slice instead of a napi round trip each.
//
// In a cluster a partition also has a role (replication.ts for the leader's side): a leader
// stamps its epoch into what it appends and exposes only what its in-sync replicas hold (the high
// watermark); a follower appends its leader's batches byte for byte and truncates a divergent tail.
// Alone (no role), the high watermark is the log end, as it always was.

import { systemClock } from '../clock.js';
import { SluiceError } from '../errors.js';
import type { AppendResult, LogSlice, PartitionLog } from '../storage/partition-log.js';
import { LeaderEpochCache } from './leader-epochs.js';
import { readBatchHeaders } from '../protocol/record-batch.js';
import { LeaderReplication, type ReplicationSetup } from './replication.js';
import { DEFAULT_PRODUCER_ID_EXPIRATION_MS, DEFAULT_SNAPSHOT_INTERVAL_BYTES, PartitionProducers, type ProducerStateOptions } from './partition-producers.js';

export type AppendListener = () => void;

/** What a partition is in a cluster: led here (with its followers' state) or copied from a leader elsewhere. */
export type ReplicaRole =
  | { kind: 'leader'; epoch: number; replication: LeaderReplication; minInsyncReplicas: number }
  | { kind: 'follower'; epoch: number; leaderId: number };

/** Where a batch header holds its partitionLeaderEpoch (after baseOffset and batchLength). */
const PARTITION_LEADER_EPOCH_AT = 12;

export class Partition {
  readonly topic: string;
  readonly index: number;
  readonly log: PartitionLog;
  /** Idempotent producers' sequences and epochs (partition-producers.ts). */
  readonly producers: PartitionProducers;
  readonly #listeners = new Set<AppendListener>();
  /** Open push subscriptions (log/subscription.ts), for the metrics. */
  readonly subscriptions = new Set<object>();
  #closed = false;
  /** Read from the log on first use after each change; undefined until then. */
  #highWatermark: bigint | undefined;
  #logStartOffset: bigint | undefined;
  /** The last slice made, kept until the log changes (a slice is immutable and reusable: its ranges hold their files open). */
  #lastSlice: { offset: bigint; maxBytes: number; maxOffset: bigint | undefined; slice: LogSlice } | undefined;
  #role: ReplicaRole | undefined;
  /** Read from disk when the partition first takes a role (a single broker keeps no epochs). */
  #epochs: LeaderEpochCache | undefined;
  /** A follower's high watermark: its leader's, as far as this log reaches. */
  #followerHighWatermark = 0n;
  /** Settles once the truncations under way (off the event loop) are done: a new leader waits for it. */
  #truncating: Promise<void> = Promise.resolve();

  constructor(topic: string, index: number, log: PartitionLog, producers?: ProducerStateOptions) {
    this.topic = topic;
    this.index = index;
    this.log = log;
    this.producers = new PartitionProducers(
      log,
      producers ?? { dir: log.dir, expirationMs: DEFAULT_PRODUCER_ID_EXPIRATION_MS, snapshotIntervalBytes: DEFAULT_SNAPSHOT_INTERVAL_BYTES, clock: systemClock },
    );
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** The offset after the last batch in the log (the core calls it the high watermark: alone, it is). */
  get logEndOffset(): bigint {
    return (this.#highWatermark ??= this.log.highWatermark);
  }

  /** Consumers read below it: the log end alone, what every in-sync replica holds in a cluster. */
  get highWatermark(): bigint {
    const role = this.#role;
    if (!role) return this.logEndOffset;
    if (role.kind === 'leader') return role.replication.highWatermark;
    return this.#followerHighWatermark < this.logEndOffset ? this.#followerHighWatermark : this.logEndOffset;
  }

  get role(): ReplicaRole | undefined {
    return this.#role;
  }

  /** The partition's leader epochs (loaded on first use). */
  get epochs(): LeaderEpochCache {
    return (this.#epochs ??= LeaderEpochCache.load(this.log.dir, this.logEndOffset));
  }

  /**
   * Leads the partition from now on, at `epoch`: appends are stamped with it, and the epoch's start
   * (the log end now) is recorded before any of them. The high watermark starts where this broker
   * knew it and moves once the in-sync replicas fetch.
   */
  becomeLeader(setup: Omit<ReplicationSetup, 'epochStartOffset' | 'highWatermark' | 'leaderEpoch'>, epoch: number, minInsyncReplicas: number): LeaderReplication {
    // A log opened just now (no role yet) may end in a tail no other replica holds: its high
    // watermark starts at the log start and moves as the in-sync replicas report theirs.
    const highWatermark = this.#role ? this.highWatermark : this.logStartOffset;
    this.log.setLeaderEpoch(epoch);
    this.epochs.assign(epoch, this.logEndOffset);
    const start = this.epochs.entries.at(-1)!.startOffset;
    if (this.#role?.kind !== 'leader') this.producers.reset(this.logEndOffset);
    const replication = new LeaderReplication({ ...setup, leaderEpoch: epoch, epochStartOffset: start, highWatermark });
    // Alone in its ISR, a leader's log end is committed at once.
    replication.advanceHighWatermark(this.logEndOffset);
    this.#role = { kind: 'leader', epoch, replication, minInsyncReplicas };
    this.#changed();
    this.#notify();
    return replication;
  }

  /** Copies the partition from `leaderId` from now on: appends from clients are refused; parked fetches hear of it. */
  becomeFollower(epoch: number, leaderId: number): void {
    if (this.#role?.kind !== 'follower') {
      this.#followerHighWatermark = this.#role ? this.highWatermark : this.logStartOffset;
      this.producers.reset(this.logEndOffset);
    }
    this.#role = { kind: 'follower', epoch, leaderId };
    this.#changed();
    this.#notify();
  }

  /** A follower learns its leader's high watermark from each fetch. */
  setFollowerHighWatermark(offset: bigint): void {
    if (offset === this.#followerHighWatermark) return;
    this.#followerHighWatermark = offset;
    this.#notify();
  }

  /**
   * Appends a leader's batches as they are (offsets and epochs already stamped): a batch of a
   * newer epoch records that epoch's start first, durably, so the epochs file never lacks an
   * epoch the log holds.
   */
  appendReplica(batches: Buffer): AppendResult {
    if (this.#closed) throw this.closedError();
    for (const h of readBatchHeaders(batches) ?? []) {
      const epoch = batches.readInt32BE(h.position + PARTITION_LEADER_EPOCH_AT);
      if (epoch > this.epochs.latestEpoch) this.epochs.assign(epoch, h.baseOffset);
    }
    let result: AppendResult;
    try {
      result = this.log.appendReplica(batches);
    } finally {
      this.#changed();
    }
    this.#notify();
    return result;
  }

  /** Removes every batch at or past `offset` (a follower's divergent tail); resolves with the new log end. */
  truncateTo(offset: bigint): Promise<bigint> {
    return this.#whileTruncating(() => this.#truncateTo(offset), 'truncate');
  }

  /** Empties the log and starts it again at `offset` (a follower below its leader's log start). */
  truncateFullyAndStartAt(offset: bigint): Promise<void> {
    return this.#whileTruncating(() => this.#truncateFullyAndStartAt(offset), 'empty');
  }

  /**
   * Resolves once no truncation is under way. Called before this broker leads the partition: a
   * truncation that started as a follower must not cut the log, or the epoch its leadership starts
   * at, after the role changed.
   */
  truncationsSettled(): Promise<void> {
    return this.#truncating;
  }

  #whileTruncating<T>(run: () => Promise<T>, what: string): Promise<T> {
    if (this.#closed) return Promise.reject(this.closedError());
    try {
      this.#refuseWhileLeading(what);
    } catch (err) {
      return Promise.reject(err);
    }
    const done = run();
    const before = this.#truncating;
    this.#truncating = Promise.all([before, done]).then(
      () => undefined,
      () => undefined,
    );
    return done;
  }

  async #truncateTo(offset: bigint): Promise<bigint> {
    let end: bigint;
    try {
      end = await this.log.truncateTo(offset);
      this.epochs.truncateFromEnd(end);
      this.producers.reset(end);
      if (this.#followerHighWatermark > end) this.#followerHighWatermark = end;
    } finally {
      this.#changed();
    }
    this.#notify();
    return end;
  }

  async #truncateFullyAndStartAt(offset: bigint): Promise<void> {
    try {
      await this.log.truncateFullyAndStartAt(offset);
      this.epochs.clear();
      this.producers.reset(-1n);
      this.#followerHighWatermark = offset;
    } finally {
      this.#changed();
    }
    this.#notify();
  }

  /**
   * A leader's log is the truth its followers copy: it never cuts it (Kafka's leaders never do).
   * A truncation meant for a follower that reaches a leader (a fetcher of an older role, late) is
   * refused here rather than trusted to every caller.
   */
  #refuseWhileLeading(what: string): void {
    if (this.#role?.kind === 'leader') throw new SluiceError('NOT_LEADER_OR_FOLLOWER', `${this.topic}-${this.index} is led here (epoch ${this.#role.epoch}): a leader does not ${what} its log`);
  }

  /** Listeners hear that something they may wait on changed (a leader's high watermark moved). */
  highWatermarkMoved(): void {
    this.#lastSlice = undefined;
    this.#notify();
  }

  get logStartOffset(): bigint {
    return (this.#logStartOffset ??= this.log.logStartOffset);
  }

  /**
   * Validates and appends `batches` (all or nothing; offsets are stamped in place), then wakes
   * listeners. Idempotent batches are checked against their producers' sequences first: a retry of
   * a batch already written is answered with its original offsets and not written again.
   */
  append(batches: Buffer): AppendResult & { duplicate?: boolean } {
    if (this.#closed) throw this.closedError();
    if (this.#role?.kind === 'follower') throw new SluiceError('NOT_LEADER_OR_FOLLOWER', `broker ${this.#role.leaderId} leads ${this.topic}-${this.index}, not this one`);
    const idempotent = this.producers.check(batches);
    if (idempotent?.duplicate) {
      const { firstOffset, lastOffset } = idempotent.duplicate;
      return { baseOffset: firstOffset, lastOffset, appendTimeMs: -1, batches: idempotent.headers.length, duplicate: true };
    }
    let result: AppendResult;
    try {
      result = this.log.append(batches);
      if (idempotent) this.producers.appended(idempotent, batches, result);
      const role = this.#role;
      // Alone in its ISR, a leader commits what it appends at once.
      if (role?.kind === 'leader') role.replication.advanceHighWatermark(result.lastOffset + 1n);
    } finally {
      // Even a failed append may have moved the log (a full disk mid-write is undone natively, but
      // what is cached is cheap to read again).
      this.#changed();
    }
    this.#notify();
    return result;
  }

  /**
   * The slice of whole batches from `offset` below `maxOffset` (none: the log end; see
   * PartitionLog.slice); the same object again while the log has not changed.
   */
  slice(offset: bigint, maxBytes: number, maxOffset?: bigint): LogSlice {
    if (this.#closed) throw this.closedError();
    const last = this.#lastSlice;
    if (last && last.offset === offset && last.maxBytes === maxBytes && last.maxOffset === maxOffset) return last.slice;
    const slice = this.log.slice(offset, maxBytes, maxOffset);
    this.#lastSlice = { offset, maxBytes, maxOffset, slice };
    return slice;
  }

  /** What a consumer may read from `offset`: whole batches below the high watermark (in a cluster, below the log end's uncommitted tail). */
  consumerSlice(offset: bigint, maxBytes: number): LogSlice {
    return this.slice(offset, maxBytes, this.#role ? this.highWatermark : undefined);
  }

  /** Deletes old segments past the retention limits (see PartitionLog.enforceRetention); listeners hear of a deletion (a subscriber it passed must end). */
  enforceRetention(): ReturnType<PartitionLog['enforceRetention']> {
    let result: ReturnType<PartitionLog['enforceRetention']>;
    try {
      result = this.log.enforceRetention();
      this.producers.expire();
    } finally {
      this.#changed();
    }
    if (result.deletedSegments.length > 0) this.#notify();
    return result;
  }

  /**
   * Moves the log start forward to `offset` (DeleteRecords; see PartitionLog.deleteRecordsBefore)
   * and returns the new start; listeners hear of it (a subscriber below it must end).
   */
  async deleteRecordsBefore(offset: bigint): Promise<bigint> {
    if (this.#closed) throw this.closedError();
    let start: bigint;
    try {
      start = await this.log.deleteRecordsBefore(offset);
    } finally {
      this.#changed();
    }
    this.#notify();
    return start;
  }

  /** Listeners registered now (parked fetches on this partition). */
  get listenerCount(): number {
    return this.#listeners.size;
  }

  /** Calls `listener` after each append, after retention deleted segments, and once when the partition closes; returns the unsubscribe. */
  onAppend(listener: AppendListener): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** Stops serving (topic deleted or broker stopping): wakes listeners so they see the partition gone. */
  /** Closes the log (see PartitionLog.close for `releaseSlices`). */
  async close(options: { releaseSlices?: boolean } = {}): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.producers.snapshot();
    this.#changed();
    this.#notify();
    await this.log.close(options);
  }

  #changed(): void {
    this.#highWatermark = undefined;
    this.#logStartOffset = undefined;
    this.#lastSlice = undefined;
  }

  #notify(): void {
    for (const listener of this.#listeners) listener();
  }

  /** What reading a closed partition answers. */
  closedError(): SluiceError {
    return new SluiceError('UNKNOWN_TOPIC_OR_PARTITION', `${this.topic}-${this.index} was deleted or the broker is stopping`);
  }
}
