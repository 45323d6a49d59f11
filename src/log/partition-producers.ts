// One partition's idempotent-producer state (producer-state.ts) kept across restarts, as Kafka
// keeps it: snapshot files beside the segments (`<offset, 20 digits>.snapshot`: the state of
// every batch below that offset) and, on first use after start, a rebuild that loads the newest
// snapshot the log still covers and replays the idempotent batches after it from the log tail
// (without a snapshot, the last two segments only, as Kafka).
// A snapshot lost or torn in a crash costs only a longer replay: the log is the truth.
//
// The state is loaded on first use (an idempotent append or a DescribeProducers), not at start,
// so a broker with thousands of partitions written by non-idempotent producers pays nothing.
// A snapshot is written once `snapshotIntervalBytes` have been appended since the last one, which
// bounds the replay after a SIGKILL, after a replay (so a crash loop does not replay more each
// time), and on close. Only the newest two are kept.

import { readdirSync, readFileSync, renameSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Clock } from '../clock.js';
import { SluiceError } from '../errors.js';
import { readBatchHeaders, TRANSACTIONAL_ATTRIBUTES, type BatchHeader } from '../protocol/record-batch.js';
import type { AppendResult, PartitionLog } from '../storage/partition-log.js';
import { decodeSnapshot, ProducerStateTable, type BatchRange, type ProducerEntry } from './producer-state.js';

export interface ProducerStateOptions {
  /** The partition's directory (the log's). */
  dir: string;
  /** A producer that has not written to the partition for this long is forgotten (Kafka's producer.id.expiration.ms). */
  expirationMs: number;
  snapshotIntervalBytes: number;
  clock: Clock;
}

export const DEFAULT_PRODUCER_ID_EXPIRATION_MS = 24 * 60 * 60_000;
export const DEFAULT_SNAPSHOT_INTERVAL_BYTES = 64 * 1024 * 1024;

const SNAPSHOT = /^(\d{20})\.snapshot$/;
const SNAPSHOTS_KEPT = 2;
const REPLAY_READ_BYTES = 1024 * 1024;

const snapshotName = (offset: bigint) => `${offset.toString().padStart(20, '0')}.snapshot`;

/** What an append of idempotent batches is: checked first, recorded after. */
export interface IdempotentAppend {
  headers: BatchHeader[];
  /** Set when the append repeats batches already written: their original offsets. */
  duplicate?: BatchRange;
}

export class PartitionProducers {
  readonly #log: PartitionLog;
  readonly #options: ProducerStateOptions;
  #table: ProducerStateTable | undefined;
  #bytesSinceSnapshot = 0;
  #changedSinceSnapshot = false;

  constructor(log: PartitionLog, options: ProducerStateOptions) {
    this.#log = log;
    this.#options = options;
  }

  /**
   * Checks an append before the log sees it. Returns undefined when it has no idempotent batches
   * (or its batches do not parse: the log's validator refuses those); throws a transactional
   * batch, a sequence out of order or a fenced epoch.
   */
  check(batches: Buffer): IdempotentAppend | undefined {
    const all = readBatchHeaders(batches);
    if (!all) return undefined;
    const headers = all.filter((h) => h.producerId >= 0n);
    if (all.some((h) => (h.attributes & TRANSACTIONAL_ATTRIBUTES) !== 0)) {
      throw new SluiceError('TRANSACTIONS_NOT_SUPPORTED', 'transactional batches and transaction markers are not accepted: transactions are not supported');
    }
    if (headers.length === 0) return undefined;
    const unsequenced = headers.find((h) => h.baseSequence < 0 || h.producerEpoch < 0);
    if (unsequenced) throw new SluiceError('INVALID_RECORD', `a batch of producer ${unsequenced.producerId} has no sequence number or epoch`);
    const duplicate = this.#state().check(headers, this.#options.clock.nowMs());
    return duplicate ? { headers, duplicate } : { headers };
  }

  /** Records what `check` let through, once the log has stamped the batches' offsets into `batches`. */
  appended(append: IdempotentAppend, batches: Buffer, result: AppendResult): void {
    const table = this.#state();
    for (const h of append.headers) table.record(h, batches.readBigInt64BE(h.position), result.appendTimeMs);
    this.#changedSinceSnapshot = true;
    this.#bytesSinceSnapshot += batches.length;
    if (this.#bytesSinceSnapshot >= this.#options.snapshotIntervalBytes) this.snapshot();
  }

  /** The producers that wrote here and have not expired. */
  describe(): ProducerEntry[] {
    return this.#state().entries(this.#options.clock.nowMs());
  }

  /** Forgets expired producers (the broker's periodic pass); nothing to do while the state is not loaded. */
  expire(): number {
    const expired = this.#table?.expire(this.#options.clock.nowMs()) ?? 0;
    if (expired > 0) this.#changedSinceSnapshot = true;
    return expired;
  }

  /**
   * Writes the state as of the log's end (write, rename: a crash leaves the old file or the new
   * one). Not fsynced: a snapshot only shortens the replay. Failure (a full disk) is left to the
   * next one for the same reason.
   */
  snapshot(): void {
    const table = this.#table;
    if (!table || !this.#changedSinceSnapshot) return;
    const { dir, clock } = this.#options;
    const name = snapshotName(this.#log.highWatermark);
    try {
      writeFileSync(join(dir, `${name}.tmp`), table.encodeSnapshot(clock.nowMs()));
      renameSync(join(dir, `${name}.tmp`), join(dir, name));
      for (const old of this.#snapshots().slice(SNAPSHOTS_KEPT)) unlinkSync(join(dir, snapshotName(old)));
    } catch {
      return;
    }
    this.#bytesSinceSnapshot = 0;
    this.#changedSinceSnapshot = false;
  }

  /**
   * Forgets the state in memory (the log was truncated, or another broker now leads the partition
   * and appends here come from its log): the next use rebuilds it from the log. Snapshots of state
   * past `logEndOffset` describe batches the log no longer holds: deleted.
   */
  reset(logEndOffset: bigint): void {
    this.#table = undefined;
    this.#bytesSinceSnapshot = 0;
    this.#changedSinceSnapshot = false;
    for (const offset of this.#snapshots()) {
      if (offset > logEndOffset) unlinkSync(join(this.#options.dir, snapshotName(offset)));
    }
  }

  /** Snapshot offsets in the directory, newest first. */
  #snapshots(): bigint[] {
    return readdirSync(this.#options.dir)
      .flatMap((f) => {
        const m = SNAPSHOT.exec(f);
        return m ? [BigInt(m[1]!)] : [];
      })
      .sort((a, b) => (a < b ? 1 : a > b ? -1 : 0));
  }

  #state(): ProducerStateTable {
    if (this.#table) return this.#table;
    const { table, replayedBytes } = this.#rebuild();
    this.#table = table;
    // A snapshot of what was just replayed: otherwise a broker killed before the next interval's
    // snapshot would replay all of it again next time, and more each time (a crash loop).
    if (replayedBytes > 0) {
      this.#changedSinceSnapshot = true;
      this.snapshot();
    }
    return table;
  }

  /** The newest snapshot at or below the log's end, then every idempotent batch after it. */
  #rebuild(): { table: ProducerStateTable; replayedBytes: number } {
    const { dir, expirationMs, clock } = this.#options;
    const table = new ProducerStateTable(expirationMs);
    const end = this.#log.highWatermark;
    let from: bigint | undefined;
    for (const offset of this.#snapshots()) {
      // Past the end: the log lost its tail in a crash after the snapshot was written.
      if (offset > end) continue;
      try {
        table.load(decodeSnapshot(readFileSync(join(dir, snapshotName(offset)))));
        from = offset;
        break;
      } catch {
        continue; // torn or corrupt: an older one, or none
      }
    }
    // No snapshot (data written before producer state existed, or every snapshot lost): as Kafka
    // does, replay only the last two segments rather than the whole log, which could be hundreds of
    // gigabytes read on the event loop; producers older than that count as unknown.
    from ??= this.#log.segmentBaseOffsets().at(-2) ?? 0n;
    if (from < this.#log.logStartOffset) from = this.#log.logStartOffset;
    const nowMs = clock.nowMs();
    let replayedBytes = 0;
    while (from < end) {
      const { data } = this.#log.read(from, REPLAY_READ_BYTES);
      replayedBytes += data.length;
      const headers = readBatchHeaders(data);
      if (!headers || headers.length === 0) break;
      for (const h of headers) {
        if (h.producerId >= 0n && (h.attributes & TRANSACTIONAL_ATTRIBUTES) === 0) table.record(h, h.baseOffset, Math.min(h.maxTimestampMs, nowMs));
      }
      const last = headers.at(-1)!;
      from = last.baseOffset + BigInt(last.lastOffsetDelta) + 1n;
    }
    return { table, replayedBytes };
  }
}
