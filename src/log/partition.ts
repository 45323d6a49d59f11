// One partition of a topic as the broker sees it: its PartitionLog plus the listeners that wait
// for appends (parked long-poll fetches). Appends go through here so that every append wakes the
// fetches waiting on this partition; nothing polls.
//
// Everything that changes the log (append, retention, deleting records, close) goes through here too, so the
// partition can keep what fetches ask for over and over until the log changes: its high watermark
// and log start offset, and the last slice made. The fetches one append wakes (tailing consumers,
// all at the same offset) then share one native slice instead of a napi round trip each.

import { systemClock } from '../clock.js';
import { SluiceError } from '../errors.js';
import type { AppendResult, LogSlice, PartitionLog } from '../storage/partition-log.js';
import { DEFAULT_PRODUCER_ID_EXPIRATION_MS, DEFAULT_SNAPSHOT_INTERVAL_BYTES, PartitionProducers, type ProducerStateOptions } from './partition-producers.js';

export type AppendListener = () => void;

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
  #lastSlice: { offset: bigint; maxBytes: number; slice: LogSlice } | undefined;

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

  get highWatermark(): bigint {
    return (this.#highWatermark ??= this.log.highWatermark);
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
    const idempotent = this.producers.check(batches);
    if (idempotent?.duplicate) {
      const { firstOffset, lastOffset } = idempotent.duplicate;
      return { baseOffset: firstOffset, lastOffset, appendTimeMs: -1, batches: idempotent.headers.length, duplicate: true };
    }
    let result: AppendResult;
    try {
      result = this.log.append(batches);
      if (idempotent) this.producers.appended(idempotent, batches, result);
    } finally {
      // Even a failed append may have moved the log (a full disk mid-write is undone natively, but
      // what is cached is cheap to read again).
      this.#changed();
    }
    this.#notify();
    return result;
  }

  /** The slice of whole batches from `offset` (see PartitionLog.slice); the same object again while the log has not changed. */
  slice(offset: bigint, maxBytes: number): LogSlice {
    if (this.#closed) throw this.closedError();
    const last = this.#lastSlice;
    if (last && last.offset === offset && last.maxBytes === maxBytes) return last.slice;
    const slice = this.log.slice(offset, maxBytes);
    this.#lastSlice = { offset, maxBytes, slice };
    return slice;
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
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.producers.snapshot();
    this.#changed();
    this.#notify();
    await this.log.close();
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
