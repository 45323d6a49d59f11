// Produce, fetch and list-offsets over the topic registry, in protocol-neutral terms (topic,
// partition, bytes, offsets, SluiceErrors), so that Sluice's own protocol and a Kafka listener can
// share them. Errors are per partition, as the protocols report them.
//
// Produce: each partition's batches are appended all or nothing (the storage core validates bounds,
// magic, CRC and counts first); acks=all waits for a group-commit fsync of every partition written
// (and, in a cluster, for the in-sync replicas). The broker's own writes to its internal topics
// (group commits) take the same path, which clients' produces to those topics may not.
// Fetch: slices whole batches from each partition within the request's byte limits; when that is
// less than `minBytes` it parks until appends to those partitions bring enough (woken by the
// appends themselves) or `maxWaitMs` passes. Parked fetches end early when the caller aborts (the
// connection closed) or the service stops.
// List offsets: the log's bounds, or the exact record by time (./record-time.ts). Delete records:
// moves a partition's log start forward, durably.
// Subscribe: a push subscription (log/subscription.ts), the streaming alternative to fetch.

import { systemClock, type Clock } from '../clock.js';
import { SluiceError } from '../errors.js';
import { asSluiceError } from './log-errors.js';
import type { AppendResult, LogSlice } from '../storage/partition-log.js';
import type { Partition } from './partition.js';
import { ProducerIdAllocator } from './producer-ids.js';
import { recordAtOrAfter, recordWithMaxTimestamp } from './record-time.js';
import { LogSubscription, type PushSink } from './subscription.js';
import type { TopicRegistry } from './topic-registry.js';
import type { Acks } from '../vocabulary.js';

export type { Acks };


export interface ProduceInput {
  topic: string;
  partition: number;
  batches: Buffer;
}

export interface ProduceOutcome {
  topic: string;
  partition: number;
  /** `duplicate`: the batches were an idempotent producer's retry, answered with their original offsets. */
  result?: AppendResult & { logStartOffset: bigint; duplicate?: boolean };
  error?: SluiceError;
}

export interface FetchInput {
  topic: string;
  partition: number;
  offset: bigint;
  maxBytes: number;
  /** The leader epoch the fetcher knows (Kafka's current_leader_epoch); -1 or absent: not checked. */
  leaderEpoch?: number;
}

export interface FetchOptions {
  maxWaitMs: number;
  minBytes: number;
  /** Soft limit on the whole response: the first non-empty partition may exceed it by one batch. */
  maxBytes: number;
  signal?: AbortSignal;
  /** A follower's broker id (its fetch reports its log end and reads past the high watermark); absent for consumers. */
  replicaId?: number;
  /**
   * The consumer's rack (Kafka's client.rack, KIP-392): a leader may name an in-sync replica in that
   * rack to read from instead, and a follower serves a consumer that names one (below its high watermark).
   */
  clientRack?: string;
}

export interface FetchOutcome {
  topic: string;
  partition: number;
  highWatermark: bigint;
  logStartOffset: bigint;
  /** Absent when there is nothing to send (caught up, over the byte limit, or an error). */
  slice?: LogSlice;
  error?: SluiceError;
  /** KIP-392: the broker the consumer should fetch this partition from instead (a replica in its rack). */
  preferredReadReplica?: number;
}

export interface SubscribeInput {
  topic: string;
  partition: number;
  /** -1 the high watermark (what is appended from now on), -2 the log start, else an offset in the log. */
  offset: bigint;
  windowBytes: number;
}

export interface EpochEndInput {
  topic: string;
  partition: number;
  leaderEpoch: number;
  /** The epoch the asker believes the leader is at (-1: not checked). */
  currentLeaderEpoch: number;
}

export interface EpochEndOutcome {
  topic: string;
  partition: number;
  /** -1 (and endOffset -1) when the log has no epoch at or below the one asked about. */
  leaderEpoch: number;
  endOffset: bigint;
  error?: SluiceError;
}

/** What ListOffsets may ask for besides a time (Kafka's numbers). */
export const OFFSET_SPEC = {
  LATEST: -1n,
  EARLIEST: -2n,
  /** The first record carrying the largest timestamp. */
  MAX_TIMESTAMP: -3n,
  /** The first offset kept locally: with no tiered storage, the log start. */
  EARLIEST_LOCAL: -4n,
} as const;

export interface ListOffsetsInput {
  topic: string;
  partition: number;
  /** An OFFSET_SPEC, otherwise a time in ms (the first record at or after it). */
  timestamp: bigint;
}

export interface ListOffsetsOutcome {
  topic: string;
  partition: number;
  /** null: no record has a timestamp at or after the one asked for (or the log is empty, for MAX_TIMESTAMP). */
  offset?: bigint | null;
  /** The answered record's own timestamp for a time or MAX_TIMESTAMP; -1 for the log's bounds and when none. */
  timestampMs?: bigint;
  /** The leader epoch the partition is at (0 for a single broker). */
  leaderEpoch?: number;
  error?: SluiceError;
}

export interface DeleteRecordsInput {
  topic: string;
  partition: number;
  /** The new log start; -1 the high watermark (everything). */
  offset: bigint;
}

export interface DeleteRecordsOutcome {
  topic: string;
  partition: number;
  /** The log start after the call (Kafka's low watermark). */
  lowWatermark?: bigint;
  error?: SluiceError;
}

/** What the service reports as data moves (metrics). */
export interface LogObserver {
  produced(topic: string, bytes: number, records: number): void;
  fetched(topic: string, bytes: number, records: number): void;
  /** An acks=all produce waited this long for its partitions' fsync (group commit). */
  flushed(seconds: number): void;
}

const noObserver: LogObserver = { produced: () => undefined, fetched: () => undefined, flushed: () => undefined };

/** A fetch's outcomes, and how long it was parked waiting for data (0 when answered at once). */
export type FetchOutcomes = FetchOutcome[] & { waitedSeconds?: number };

/** What a cluster adds to the service: fencing, timing. Alone, a broker is always the leader. */
export interface Leadership {
  /** False once this broker may have lost its leaderships without knowing yet (its store lease may have expired): nothing is acknowledged then. */
  leaseValid(): boolean;
  /** How long an acks=all produce waits for the in-sync replicas. */
  replicationTimeoutMs: number;
  clock: Clock;
  /** Whether the cluster has this partition (it may live on other brokers, or not be opened here yet). */
  knows(topic: string, partition: number): boolean;
  /** An in-sync follower in `rack` a consumer there should read from, or -1 (this leader, or none there). */
  preferredReadReplica(topic: string, partition: number, rack: string): number;
}

export class LogService {
  readonly topics: TopicRegistry;
  /** Ids for idempotent producers (InitProducerId): this data directory's, or the cluster's blocks. */
  producerIds: { next(): bigint };
  readonly #observer: LogObserver;
  #leadership: Leadership | undefined;
  readonly #parked = new Set<() => void>();
  #stopping = false;

  constructor(topics: TopicRegistry, observer: LogObserver = noObserver) {
    this.topics = topics;
    this.producerIds = new ProducerIdAllocator(topics.dataDir);
    this.#observer = observer;
  }

  /** Joins a cluster: leaders fence themselves by the lease and wait for their ISR on acks=all. */
  setLeadership(leadership: Leadership): void {
    this.#leadership = leadership;
  }

  produce(inputs: readonly ProduceInput[], acks: Acks): Promise<ProduceOutcome[]> {
    return this.#produce(inputs, acks, false);
  }

  /**
   * The broker's own append to a partition of an internal topic (a group commit to
   * __consumer_offsets), which clients may not make: acknowledged as a produce with acks=all is
   * (fsynced, held by the in-sync replicas, fenced by the lease), or thrown its error
   * (NOT_LEADER_OR_FOLLOWER once this broker does not lead the partition).
   */
  async appendInternal(partition: Partition, batches: Buffer): Promise<AppendResult> {
    const [outcome] = await this.#produce([{ topic: partition.topic, partition: partition.index, batches }], -1, true);
    if (outcome!.error) throw outcome!.error;
    return outcome!.result!;
  }

  async #produce(inputs: readonly ProduceInput[], acks: Acks, internal: boolean): Promise<ProduceOutcome[]> {
    const outcomes: ProduceOutcome[] = [];
    /** What was appended, with the role this broker appended it in (undefined: a single broker's). */
    const written: Array<{ partition: Partition; outcome: ProduceOutcome; role: Partition['role'] }> = [];
    for (const input of inputs) {
      const outcome: ProduceOutcome = { topic: input.topic, partition: input.partition };
      outcomes.push(outcome);
      try {
        if (this.topics.isInternal(input.topic) !== internal) {
          throw new SluiceError('INVALID_TOPIC_EXCEPTION', internal ? `${input.topic} is not internal to the broker` : `${input.topic} is internal to the broker; clients cannot write to it`);
        }
        const partition = this.#partition(input.topic, input.partition);
        const role = partition.role;
        if (this.#leadership && role?.kind !== 'leader') throw notLeader(partition);
        if (role?.kind === 'leader') {
          this.#checkLease(partition);
          if (acks === -1 && role.replication.isr.length < role.minInsyncReplicas) {
            throw new SluiceError('NOT_ENOUGH_REPLICAS', `${input.topic}-${input.partition} has ${role.replication.isr.length} in-sync replicas (${role.replication.isr.join(', ')}); min.insync.replicas is ${role.minInsyncReplicas}`);
          }
        }
        const result = partition.append(input.batches);
        outcome.result = { ...result, logStartOffset: partition.logStartOffset };
        // A retried batch already in the log is answered, not written: it moved nothing.
        if (!result.duplicate && !internal) this.#observer.produced(input.topic, input.batches.length, Number(result.lastOffset - result.baseOffset + 1n));
        written.push({ partition, outcome, role });
      } catch (err) {
        outcome.error = asSluiceError(err);
      }
    }
    if (acks === -1) {
      const started = process.hrtime.bigint();
      await Promise.all(
        written.map(({ partition, outcome }) =>
          partition.log.flush().catch((err: unknown) => {
            outcome.error = asSluiceError(err);
            delete outcome.result;
          }),
        ),
      );
      if (written.length > 0) this.#observer.flushed(Number(process.hrtime.bigint() - started) / 1e9);
      await Promise.all(written.map(({ partition, outcome, role }) => (outcome.result && role?.kind === 'leader' ? this.#awaitReplicas(partition, outcome, role) : undefined)));
    }
    // A leader that may have been deposed without hearing of it acknowledges nothing (its lease is
    // the fence); one that heard of it while the append waited (for the fsync, say) neither.
    for (const { partition, outcome, role } of written) {
      if (!outcome.result || role?.kind !== 'leader') continue;
      try {
        if (partition.role !== role) throw new SluiceError('NOT_LEADER_OR_FOLLOWER', `this broker stopped leading ${partition.topic}-${partition.index} (epoch ${role.epoch}) before the append was acknowledged`);
        this.#checkLease(partition);
      } catch (err) {
        outcome.error = asSluiceError(err);
        delete outcome.result;
      }
    }
    return outcomes;
  }

  /**
   * Waits until the partition's in-sync replicas all hold the outcome's batches (the high
   * watermark passed them), as this broker's leadership of the same epoch; otherwise the
   * outcome becomes the error a client retries on.
   */
  async #awaitReplicas(partition: Partition, outcome: ProduceOutcome, role: Extract<Partition['role'], { kind: 'leader' }>): Promise<void> {
    const target = outcome.result!.lastOffset + 1n;
    const timeoutMs = this.#leadership?.replicationTimeoutMs ?? 30_000;
    const reached = await new Promise<boolean>((resolve) => {
      const check = () => {
        if (partition.role !== role || partition.closed) done(false);
        else if (role.replication.highWatermark >= target) done(true);
      };
      const done = (ok: boolean) => {
        clearTimeout(timer);
        unsubscribe();
        this.#parked.delete(expire);
        resolve(ok);
      };
      const expire = () => done(false);
      const unsubscribe = partition.onAppend(check);
      const timer = setTimeout(expire, timeoutMs);
      this.#parked.add(expire);
      check();
    });
    const where = `${partition.topic}-${partition.index}`;
    let error: SluiceError | undefined;
    if (partition.role !== role) error = new SluiceError('NOT_LEADER_OR_FOLLOWER', `this broker stopped leading ${where} (epoch ${role.epoch}) before its replicas held the batch`);
    else if (!reached) error = new SluiceError('REQUEST_TIMED_OUT', `the in-sync replicas of ${where} did not hold the batch within ${timeoutMs} ms`);
    else if (role.replication.isr.length < role.minInsyncReplicas) error = new SluiceError('NOT_ENOUGH_REPLICAS_AFTER_APPEND', `${where} has ${role.replication.isr.length} in-sync replicas now; min.insync.replicas is ${role.minInsyncReplicas}`);
    if (error) {
      outcome.error = error;
      delete outcome.result;
    }
  }

  #checkLease(partition: Partition): void {
    if (this.#leadership && !this.#leadership.leaseValid()) {
      throw new SluiceError('NOT_LEADER_OR_FOLLOWER', `this broker's cluster lease may have expired: it cannot know it still leads ${partition.topic}-${partition.index}`);
    }
  }

  fetch(inputs: readonly FetchInput[], options: FetchOptions): Promise<FetchOutcomes> {
    const first = this.#read(inputs, options);
    if (this.#complete(first, options)) return Promise.resolve(this.#delivered(inputs, first.outcomes));
    const parkedAt = process.hrtime.bigint();
    return new Promise<FetchOutcomes>((resolve) => {
      const unsubscribe: Array<() => void> = [];
      let timer: NodeJS.Timeout | undefined;
      let scheduled = false;
      const finish = (outcomes: FetchOutcome[]) => {
        clearTimeout(timer);
        for (const u of unsubscribe) u();
        this.#parked.delete(expire);
        options.signal?.removeEventListener('abort', expire);
        resolve(Object.assign(this.#delivered(inputs, outcomes), { waitedSeconds: Number(process.hrtime.bigint() - parkedAt) / 1e9 }));
      };
      const expire = () => finish(this.#read(inputs, options).outcomes);
      // Several appends in one tick (one produce to many partitions) cost one re-read.
      const recheck = () => {
        if (scheduled) return;
        scheduled = true;
        queueMicrotask(() => {
          scheduled = false;
          const now = this.#read(inputs, options);
          if (this.#complete(now, options)) finish(now.outcomes);
        });
      };
      for (const input of inputs) {
        const p = this.topics.get(input.topic)?.partitions[input.partition];
        if (p) unsubscribe.push(p.onAppend(recheck));
      }
      timer = setTimeout(expire, options.maxWaitMs);
      this.#parked.add(expire);
      options.signal?.addEventListener('abort', expire, { once: true });
    });
  }

  /** Opens a push subscription (paused until `start()`); throws a SluiceError when the partition or offset is not there. */
  subscribe(input: SubscribeInput, sink: PushSink): LogSubscription {
    try {
      const p = this.#partition(input.topic, input.partition);
      if ((p.role || this.#leadership) && p.role?.kind !== 'leader') throw notLeader(p);
      const offset = input.offset === -1n ? p.highWatermark : input.offset === -2n ? p.logStartOffset : input.offset;
      return new LogSubscription(p, offset, input.windowBytes, {
        deliver: (push) => {
          this.#observer.fetched(p.topic, push.slice.bytes, Number(push.nextOffset - push.offset));
          return sink.deliver(push);
        },
        end: (error, offsets) => sink.end(error, offsets),
      });
    } catch (err) {
      throw asSluiceError(err);
    }
  }

  listOffsets(inputs: readonly ListOffsetsInput[]): ListOffsetsOutcome[] {
    return inputs.map((input) => {
      const outcome: ListOffsetsOutcome = { topic: input.topic, partition: input.partition, timestampMs: -1n };
      try {
        const p = this.#partition(input.topic, input.partition);
        if ((p.role || this.#leadership) && p.role?.kind !== 'leader') throw notLeader(p);
        outcome.leaderEpoch = p.role?.epoch ?? 0;
        const t = input.timestamp;
        if (t === OFFSET_SPEC.EARLIEST || t === OFFSET_SPEC.EARLIEST_LOCAL) outcome.offset = p.logStartOffset;
        else if (t === OFFSET_SPEC.LATEST) outcome.offset = p.highWatermark;
        else if (t < 0n && t !== OFFSET_SPEC.MAX_TIMESTAMP) throw new SluiceError('INVALID_REQUEST', `timestamp ${t} is neither a time nor one of -1, -2, -3, -4`);
        else {
          const found = t === OFFSET_SPEC.MAX_TIMESTAMP ? recordWithMaxTimestamp(p) : recordAtOrAfter(p, t);
          outcome.offset = found?.offset ?? null;
          if (found) outcome.timestampMs = found.timestampMs;
        }
      } catch (err) {
        outcome.error = asSluiceError(err);
      }
      return outcome;
    });
  }

  /**
   * Moves each partition's log start forward (Kafka's DeleteRecords): -1 to the high watermark;
   * an offset past it is OFFSET_OUT_OF_RANGE. Internal topics refuse it, as they refuse writes.
   */
  async deleteRecords(inputs: readonly DeleteRecordsInput[]): Promise<DeleteRecordsOutcome[]> {
    return Promise.all(
      inputs.map(async (input): Promise<DeleteRecordsOutcome> => {
        try {
          if (this.topics.isInternal(input.topic)) throw new SluiceError('INVALID_TOPIC_EXCEPTION', `${input.topic} is internal to the broker; clients cannot delete its records`);
          const p = this.#partition(input.topic, input.partition);
          if ((p.role || this.#leadership) && p.role?.kind !== 'leader') throw notLeader(p);
          if (input.offset < -1n) throw new SluiceError('OFFSET_OUT_OF_RANGE', `offset ${input.offset} is neither an offset nor -1 (the high watermark)`);
          const offset = input.offset === -1n ? p.highWatermark : input.offset;
          return { topic: input.topic, partition: input.partition, lowWatermark: await p.deleteRecordsBefore(offset) };
        } catch (err) {
          return { topic: input.topic, partition: input.partition, error: asSluiceError(err) };
        }
      }),
    );
  }

  /**
   * Where each asked leader epoch ended in this leader's log (Kafka's OffsetForLeaderEpoch): the
   * largest epoch at or below it and the offset after its last batch. Only the leader answers.
   */
  offsetForLeaderEpoch(inputs: readonly EpochEndInput[]): EpochEndOutcome[] {
    return inputs.map((input) => {
      try {
        const p = this.#partition(input.topic, input.partition);
        if (!p.role && !this.#leadership) {
          // A single broker has led every partition at epoch 0 from its first offset.
          const found = input.leaderEpoch === 0 ? { epoch: 0, endOffset: p.logEndOffset } : { epoch: -1, endOffset: -1n };
          return { topic: input.topic, partition: input.partition, leaderEpoch: found.epoch, endOffset: found.endOffset };
        }
        this.#checkRole(p, { ...input, offset: 0n, maxBytes: 0, leaderEpoch: input.currentLeaderEpoch }, false);
        const found = p.epochs.endOffsetFor(input.leaderEpoch, p.logEndOffset);
        return { topic: input.topic, partition: input.partition, leaderEpoch: found.epoch, endOffset: found.endOffset };
      } catch (err) {
        return { topic: input.topic, partition: input.partition, leaderEpoch: -1, endOffset: -1n, error: asSluiceError(err) };
      }
    });
  }

  /** Answers every parked fetch now and every later one at once (the broker is stopping). */
  stop(): void {
    this.#stopping = true;
    for (const expire of [...this.#parked]) expire();
  }

  /** Reports what a finished fetch sends (only once: parked re-reads do not count). */
  #delivered(inputs: readonly FetchInput[], outcomes: FetchOutcome[]): FetchOutcome[] {
    outcomes.forEach((o, i) => {
      if (o.slice) this.#observer.fetched(o.topic, o.slice.bytes, Number(o.slice.nextOffset - inputs[i]!.offset));
    });
    return outcomes;
  }

  #complete(read: { bytes: number; failed: boolean }, options: FetchOptions): boolean {
    return this.#stopping || options.maxWaitMs === 0 || read.failed || read.bytes >= options.minBytes;
  }

  #read(inputs: readonly FetchInput[], options: Pick<FetchOptions, 'maxBytes' | 'replicaId' | 'clientRack'>): { outcomes: FetchOutcome[]; bytes: number; failed: boolean } {
    const { maxBytes, replicaId } = options;
    const rack = options.clientRack || undefined;
    let bytes = 0;
    let failed = false;
    const outcomes = inputs.map((input): FetchOutcome => {
      const outcome: FetchOutcome = { topic: input.topic, partition: input.partition, highWatermark: -1n, logStartOffset: -1n };
      try {
        const p = this.#partition(input.topic, input.partition);
        // A follower reads up to the log end and tells the leader how far it got; a consumer reads below the high watermark.
        const follower = replicaId !== undefined && replicaId >= 0;
        if (p.role || follower || this.#leadership) this.#checkRole(p, input, follower, rack !== undefined);
        if (follower && p.role?.kind === 'leader' && p.role.replication.followerFetched(replicaId, input.offset, p.logEndOffset, this.#nowMs())) p.highWatermarkMoved();
        outcome.highWatermark = p.highWatermark;
        outcome.logStartOffset = p.logStartOffset;
        if (rack && !follower && p.role?.kind === 'leader') {
          const preferred = this.#leadership?.preferredReadReplica(p.topic, p.index, rack) ?? -1;
          if (preferred >= 0) {
            // As Kafka: the answer names the replica and carries no records; the consumer asks it next.
            outcome.preferredReadReplica = preferred;
            return outcome;
          }
        }
        const end = follower ? p.logEndOffset : outcome.highWatermark;
        // Caught up, or the response is full: nothing to send, and no native slice to make.
        if (input.offset >= end && input.offset <= p.logEndOffset && input.offset >= outcome.logStartOffset) return outcome;
        if (bytes >= maxBytes) {
          if (input.offset < outcome.logStartOffset || input.offset > p.logEndOffset) throw outOfRange(input, outcome);
          return outcome;
        }
        const limit = Math.min(input.maxBytes, maxBytes - bytes);
        const slice = follower ? p.slice(input.offset, limit) : p.consumerSlice(input.offset, limit);
        outcome.logStartOffset = slice.logStartOffset;
        if (slice.bytes > 0) {
          outcome.slice = slice;
          bytes += slice.bytes;
        }
      } catch (err) {
        outcome.error = asSluiceError(err);
        failed = true;
      }
      return outcome;
    });
    return { outcomes, bytes, failed };
  }

  /**
   * Only a leader serves fetches, of its current epoch (Kafka's current_leader_epoch check); a
   * follower also serves a consumer that names its rack (KIP-392), at the follower's epoch.
   */
  #checkRole(p: Partition, input: FetchInput, follower: boolean, consumerWithRack = false): void {
    const role = p.role;
    const where = `${p.topic}-${p.index}`;
    const servesHere = role?.kind === 'leader' || (role?.kind === 'follower' && consumerWithRack && !follower);
    if (!role || !servesHere) throw notLeader(p);
    const asked = input.leaderEpoch ?? -1;
    if (asked >= 0 && asked < role.epoch) throw new SluiceError('FENCED_LEADER_EPOCH', `${where} is at leader epoch ${role.epoch}; the fetch names ${asked}`);
    if (asked > role.epoch) throw new SluiceError('UNKNOWN_LEADER_EPOCH', `${where} is at leader epoch ${role.epoch} here; the fetch names ${asked}, which this broker has not heard of yet`);
    if (follower) this.#checkLease(p);
  }

  /**
   * The partition this broker holds; in a cluster, one it does not hold (yet) but the cluster has
   * is NOT_LEADER_OR_FOLLOWER (the client asks the leader), as Kafka answers.
   */
  #partition(topic: string, index: number): Partition {
    try {
      return this.topics.partition(topic, index);
    } catch (err) {
      if (this.#leadership?.knows(topic, index)) throw new SluiceError('NOT_LEADER_OR_FOLLOWER', `this broker holds no replica of ${topic}-${index} (yet): ask its leader`);
      throw err;
    }
  }

  #nowMs(): number {
    return (this.#leadership?.clock ?? systemClock).nowMs();
  }
}

/** What a broker that does not lead the partition answers (the client refreshes its metadata and asks the leader). */
function notLeader(p: Partition): SluiceError {
  const where = `${p.topic}-${p.index}`;
  const role = p.role;
  if (role?.kind === 'follower') return new SluiceError('NOT_LEADER_OR_FOLLOWER', `broker ${role.leaderId} leads ${where} (epoch ${role.epoch}), not this one`);
  return new SluiceError('NOT_LEADER_OR_FOLLOWER', `this broker does not lead ${where}`);
}

function outOfRange(input: FetchInput, o: FetchOutcome): SluiceError {
  return new SluiceError('OFFSET_OUT_OF_RANGE', `offset ${input.offset} is outside the log [${o.logStartOffset}, ${o.highWatermark}]`);
}
