// The typed storage facade over one native partition log: bigint offsets, SluiceErrors with stable
// codes, an injected clock for append times and retention, and at most one native flush in flight
// (later flush calls join the next round instead of each taking a libuv pool thread). A replicated
// partition's follower uses it too: appends of the leader's batches as they are, truncation,
// reset, the leader epoch, and reads bounded below the high watermark.

import { systemClock, type Clock } from '../clock.js';
import { native, nativeAsync, nativeCall, type LogOptions, type NativeLog, type NativeSlice } from '../native.js';

export type { LogOptions } from '../native.js';

export interface AppendResult {
  baseOffset: bigint;
  lastOffset: bigint;
  appendTimeMs: number;
  batches: number;
}

export interface FileRange {
  /** The segment's log file (it stays open while the slice is referenced). */
  path: string;
  segmentBaseOffset: bigint;
  /** Byte position of the first batch in the file. */
  position: number;
  bytes: number;
  /** Base offset of the first batch, and the offset after the last one. */
  firstOffset: bigint;
  nextOffset: bigint;
}

/** A fetch's answer. Fields are read from the native slice on first use (fetches are hot). */
export interface LogSlice {
  readonly ranges: FileRange[];
  readonly bytes: number;
  /** Where the next fetch starts: the offset after the last batch (the offset asked for if empty). */
  readonly nextOffset: bigint;
  readonly highWatermark: bigint;
  readonly logStartOffset: bigint;
  /** Copies the ranges' bytes into one Buffer. */
  read(): Buffer;
  /** The native slice, for the transfer engine. */
  readonly handle: NativeSlice;
}

export interface ReadResult {
  data: Buffer;
  highWatermark: bigint;
  logStartOffset: bigint;
}

export interface RecoveryReport {
  cleanShutdown: boolean;
  recovered: Array<{ baseOffset: bigint; validBytes: number; truncatedBytes: number; reason: string | null }>;
  deletedSegments: bigint[];
}

export interface LogStats {
  highWatermark: bigint;
  logStartOffset: bigint;
  recoveryPoint: bigint;
  segments: number;
  sizeBytes: number;
  fsyncRounds: number;
  flushCalls: number;
}

export class PartitionLog {
  /** The directory of the log's segments (other per-partition files live beside them). */
  readonly dir: string;
  #native: NativeLog;
  #clock: Clock;
  #flushInFlight: Promise<bigint> | undefined;
  #flushNext: Promise<bigint> | undefined;

  private constructor(dir: string, nativeLog: NativeLog, clock: Clock) {
    this.dir = dir;
    this.#native = nativeLog;
    this.#clock = clock;
  }

  /** Opens (creating if needed) the log in `dir`, recovering it off the event loop. */
  static async open(dir: string, options: LogOptions = {}, clock: Clock = systemClock): Promise<PartitionLog> {
    const nativeLog = await nativeAsync(nativeCall(() => native.NativeLog.open(dir, options)));
    return new PartitionLog(dir, nativeLog, clock);
  }

  /** Checks the segments against their bytes and indexes; one line per problem, [] when consistent. */
  verify(): string[] {
    return this.#native.verify();
  }

  /** What opening found (clean or not, what recovery truncated). */
  get recoveryReport(): RecoveryReport {
    const r = this.#native.openReport;
    return {
      cleanShutdown: r.cleanShutdown,
      recovered: r.recovered.map((s) => ({ ...s, reason: s.reason ?? null })),
      deletedSegments: r.deletedSegments,
    };
  }

  get highWatermark(): bigint {
    return this.#native.highWatermark;
  }

  get logStartOffset(): bigint {
    return this.#native.logStartOffset;
  }

  /** The epoch appends stamp into their batches' partitionLeaderEpoch. */
  get leaderEpoch(): number {
    return this.#native.leaderEpoch;
  }

  /** Appends from now on stamp `epoch` (this broker leads the partition in it). INVALID_CONFIG below the current epoch. */
  setLeaderEpoch(epoch: number): void {
    nativeCall(() => this.#native.setLeaderEpoch(epoch));
  }

  /**
   * Validates and appends one or more RecordBatch v2 in `batches`, all or nothing, into the page
   * cache. The assigned offsets are stamped into `batches` in place. Durable after `flush()`.
   */
  append(batches: Buffer): AppendResult {
    return nativeCall(() => this.#native.append(batches, this.#clock.nowMs()));
  }

  /**
   * A follower's append of batches its leader wrote (base offsets and leader epochs set), byte for
   * byte, all or nothing: validated as `append` validates; the first must start at the log end
   * (`highWatermark`) and each next one where the one before ends, else OFFSET_OUT_OF_SEQUENCE.
   */
  appendReplica(batches: Buffer): AppendResult {
    return nativeCall(() => this.#native.appendReplica(batches, this.#clock.nowMs()));
  }

  /**
   * File ranges of whole batches from the batch holding `offset`, at most `maxBytes` (but at least
   * one batch). With `maxOffset` (a replicated partition's high watermark), only whole batches that
   * end at or below it: none when `offset` is at or past it. OFFSET_OUT_OF_RANGE outside
   * [logStartOffset, log end] either way.
   */
  slice(offset: bigint, maxBytes: number, maxOffset?: bigint): LogSlice {
    return new SliceView(nativeCall(() => this.#native.slice(offset, maxBytes, maxOffset)));
  }

  /** The bytes `slice(offset, maxBytes, maxOffset)` names, copied into a Buffer. */
  read(offset: bigint, maxBytes: number, maxOffset?: bigint): ReadResult {
    return nativeCall(() => this.#native.read(offset, maxBytes, maxOffset));
  }

  /**
   * Removes every batch at or after `offset` (a follower's tail its leader does not have; a batch
   * holding `offset` goes whole), durably, off the event loop; resolves with the new log end. An
   * offset at or past the end changes nothing; OFFSET_OUT_OF_RANGE below the log start.
   */
  truncateTo(offset: bigint): Promise<bigint> {
    return nativeAsync(nativeCall(() => this.#native.truncateTo(offset)));
  }

  /**
   * Deletes every segment and starts an empty log at `offset` (log start = log end = `offset`),
   * durably, off the event loop: a follower behind its leader's log start starts over there.
   */
  truncateFullyAndStartAt(offset: bigint): Promise<void> {
    return nativeAsync(nativeCall(() => this.#native.truncateFullyAndStartAt(offset)));
  }

  /**
   * Makes every append made before the call durable; resolves with the recovery point. Group
   * commit: calls made while a flush runs share the next one.
   */
  flush(): Promise<bigint> {
    if (this.#flushNext) return this.#flushNext;
    const previous = this.#flushInFlight ?? Promise.resolve(0n);
    // The round starts in a callback, after `#flushNext` is set below, so a call made before it
    // starts joins it, and a call made after it starts waits for the next one.
    const next = previous
      .catch(() => undefined)
      .then(() => {
        this.#flushNext = undefined;
        const run = nativeAsync(this.#native.flush());
        this.#flushInFlight = run;
        const clear = () => {
          if (this.#flushInFlight === run) this.#flushInFlight = undefined;
        };
        run.then(clear, clear);
        return run;
      });
    this.#flushNext = next;
    return next;
  }

  /** Base offset of the first batch (at or past the log start) whose maxTimestamp >= `timestampMs`, or null. */
  offsetForTimestamp(timestampMs: number): bigint | null {
    return nativeCall(() => this.#native.offsetForTimestamp(timestampMs)) ?? null;
  }

  /** The first batch (at or past the log start) carrying the log's largest timestamp, or null for an empty log. */
  batchWithMaxTimestamp(): { baseOffset: bigint; maxTimestampMs: number } | null {
    const found = nativeCall(() => this.#native.batchWithMaxTimestamp());
    return found ? { baseOffset: found.baseOffset, maxTimestampMs: found.maxTimestamp } : null;
  }

  /**
   * Moves the log start offset forward to `offset` (Kafka's DeleteRecords), durably, off the event
   * loop; resolves with the log start after the call (an offset at or below it changes nothing).
   * OFFSET_OUT_OF_RANGE past the high watermark.
   */
  deleteRecordsBefore(offset: bigint): Promise<bigint> {
    return nativeAsync(nativeCall(() => this.#native.deleteRecordsBefore(offset)));
  }

  /** New settings for the open log: segment size and age, largest batch and retention apply from the next append, roll or retention pass. */
  reconfigure(options: LogOptions): void {
    nativeCall(() => this.#native.reconfigure(options));
  }

  /** Deletes whole old segments past the retention limits (by the injected clock). */
  enforceRetention(): { deletedSegments: bigint[]; deletedBytes: number; logStartOffset: bigint } {
    return nativeCall(() => this.#native.enforceRetention(this.#clock.nowMs()));
  }

  stats(): LogStats {
    return this.#native.stats();
  }

  segmentBaseOffsets(): bigint[] {
    return this.#native.segmentBaseOffsets();
  }

  /** Flushes, seals and marks the log clean. */
  /**
   * Flushes, seals, marks the log clean and lets its segment files go. With `releaseSlices` the
   * slices it handed out let theirs go too, instead of when the garbage collector frees them (a
   * stopping broker, once nothing is left to send: sending one afterwards is refused, LOG_CLOSED).
   */
  close(options: { releaseSlices?: boolean } = {}): Promise<void> {
    return nativeAsync(this.#native.close(options.releaseSlices ?? false));
  }
}

class SliceView implements LogSlice {
  readonly handle: NativeSlice;
  // Each native getter is a napi call; a slice is immutable, so each is read once (a shared
  // slice is read by every fetch and push it serves).
  #ranges: FileRange[] | undefined;
  #bytes: number | undefined;
  #nextOffset: bigint | undefined;
  #highWatermark: bigint | undefined;
  #logStartOffset: bigint | undefined;

  constructor(handle: NativeSlice) {
    this.handle = handle;
  }

  get ranges(): FileRange[] {
    return (this.#ranges ??= this.handle.ranges);
  }

  get bytes(): number {
    return (this.#bytes ??= this.handle.bytes);
  }

  get nextOffset(): bigint {
    return (this.#nextOffset ??= this.handle.nextOffset);
  }

  get highWatermark(): bigint {
    return (this.#highWatermark ??= this.handle.highWatermark);
  }

  get logStartOffset(): bigint {
    return (this.#logStartOffset ??= this.handle.logStartOffset);
  }

  read(): Buffer {
    return nativeCall(() => this.handle.read());
  }
}

/** How long this process's fsync rounds have taken, over every log (the storage core keeps the histogram). */
export interface FsyncLatency {
  /** Upper bounds of the buckets, in seconds; `buckets[i]` counts rounds at most that long (not cumulative). */
  bucketBoundsSeconds: number[];
  buckets: number[];
  count: number;
  sumSeconds: number;
}

export function fsyncLatency(): FsyncLatency {
  return native.fsyncLatency();
}
