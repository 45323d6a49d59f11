// Idempotent producers' state for one partition, as Kafka keeps it (KIP-98): per producer id its
// epoch, the sequence ranges and offsets of its last batches (Kafka keeps 5; here
// BATCHES_REMEMBERED, more: see vocabulary.ts), and when it last wrote. A batch is checked against
// it before it is appended: a retry of one of those batches is a duplicate
// (answered with the offsets it got the first time, not written again), a sequence that does not
// follow the last one is OUT_OF_ORDER_SEQUENCE_NUMBER, an epoch older than the last one seen is
// INVALID_PRODUCER_EPOCH (a newer instance took over). A producer the partition does not know (new,
// expired, or its batches deleted) may start at any sequence, as in Kafka since KIP-360.
//
// Pure state: no I/O, time is passed in. The snapshot codec is here too (a file's bytes in and
// out); where snapshots live and when they are written is producer-state-store.ts.

import { SluiceError } from '../errors.js';
import { crc32c } from '../protocol/crc32c.js';
import { IDEMPOTENT_BATCHES_REMEMBERED } from '../vocabulary.js';

/** How many batches per producer the partition remembers (see vocabulary.ts). */
export const BATCHES_REMEMBERED = IDEMPOTENT_BATCHES_REMEMBERED;

/** What the state needs of one batch (its header fields; see protocol/record-batch.ts). */
export interface ProducerBatch {
  producerId: bigint;
  producerEpoch: number;
  baseSequence: number;
  lastOffsetDelta: number;
}

export interface BatchRange {
  firstSequence: number;
  lastSequence: number;
  firstOffset: bigint;
  lastOffset: bigint;
}

export interface ProducerEntry {
  producerId: bigint;
  epoch: number;
  /** Oldest first; at most BATCHES_REMEMBERED. */
  batches: BatchRange[];
  /** The broker's time of its last append (or, rebuilt from the log, its last batch's timestamp). */
  lastAppendMs: number;
}

/** The sequence `delta` past `sequence`, wrapping past 2^31-1 to 0 as Kafka's does. */
export function sequenceAfter(sequence: number, delta: number): number {
  return sequence > 0x7fffffff - delta ? delta - (0x7fffffff - sequence) - 1 : sequence + delta;
}

export class ProducerStateTable {
  readonly #producers = new Map<bigint, ProducerEntry>();
  readonly #expirationMs: number;

  constructor(expirationMs: number) {
    this.#expirationMs = expirationMs;
  }

  get size(): number {
    return this.#producers.size;
  }

  /** The live producers (for DescribeProducers and snapshots). */
  entries(nowMs: number): ProducerEntry[] {
    this.expire(nowMs);
    return [...this.#producers.values()];
  }

  /** Forgets producers that have not written for the expiration time; returns how many. */
  expire(nowMs: number): number {
    let expired = 0;
    for (const [id, entry] of this.#producers) {
      if (this.#expired(entry, nowMs)) {
        this.#producers.delete(id);
        expired++;
      }
    }
    return expired;
  }

  /**
   * Checks the idempotent batches of one append, in order, against the state and each other.
   * Returns the duplicate's original range when the first of them was written before (the append
   * is then skipped, as Kafka does); throws OUT_OF_ORDER_SEQUENCE_NUMBER or INVALID_PRODUCER_EPOCH.
   */
  check(batches: readonly ProducerBatch[], nowMs: number): BatchRange | undefined {
    // What the batches before this one in the same append would make of the state.
    const pending = new Map<bigint, { epoch: number; lastSequence: number }>();
    for (const batch of batches) {
      const known = this.#producers.get(batch.producerId);
      const entry = known && !this.#expired(known, nowMs) ? known : undefined;
      const lastSequence = sequenceAfter(batch.baseSequence, batch.lastOffsetDelta);
      const before = pending.get(batch.producerId) ?? (entry && { epoch: entry.epoch, lastSequence: entry.batches.at(-1)?.lastSequence ?? -1 });
      if (!pending.has(batch.producerId) && entry?.epoch === batch.producerEpoch) {
        const duplicate = entry.batches.find((b) => b.firstSequence === batch.baseSequence && b.lastSequence === lastSequence);
        if (duplicate) return duplicate;
      }
      if (before) {
        if (batch.producerEpoch < before.epoch) {
          throw new SluiceError('INVALID_PRODUCER_EPOCH', `producer ${batch.producerId} wrote with epoch ${batch.producerEpoch}, older than the partition's ${before.epoch}`);
        }
        if (batch.producerEpoch > before.epoch) {
          if (batch.baseSequence !== 0) {
            throw new SluiceError('OUT_OF_ORDER_SEQUENCE_NUMBER', `producer ${batch.producerId}'s new epoch ${batch.producerEpoch} must start at sequence 0, not ${batch.baseSequence}`);
          }
        } else if (batch.baseSequence !== sequenceAfter(before.lastSequence, 1)) {
          throw new SluiceError(
            'OUT_OF_ORDER_SEQUENCE_NUMBER',
            `producer ${batch.producerId} (epoch ${batch.producerEpoch}) sent sequence ${batch.baseSequence}; the partition expects ${sequenceAfter(before.lastSequence, 1)}`,
          );
        }
      }
      pending.set(batch.producerId, { epoch: batch.producerEpoch, lastSequence });
    }
    return undefined;
  }

  /** Records a batch written at [firstOffset, firstOffset + lastOffsetDelta]; call after check() and the append. */
  record(batch: ProducerBatch, firstOffset: bigint, appendMs: number): void {
    let entry = this.#producers.get(batch.producerId);
    if (!entry || entry.epoch !== batch.producerEpoch) {
      entry = { producerId: batch.producerId, epoch: batch.producerEpoch, batches: [], lastAppendMs: appendMs };
      this.#producers.set(batch.producerId, entry);
    }
    entry.batches.push({
      firstSequence: batch.baseSequence,
      lastSequence: sequenceAfter(batch.baseSequence, batch.lastOffsetDelta),
      firstOffset,
      lastOffset: firstOffset + BigInt(batch.lastOffsetDelta),
    });
    if (entry.batches.length > BATCHES_REMEMBERED) entry.batches.shift();
    entry.lastAppendMs = Math.max(entry.lastAppendMs, appendMs);
  }

  #expired(entry: ProducerEntry, nowMs: number): boolean {
    return nowMs - entry.lastAppendMs >= this.#expirationMs;
  }

  /** The state as a snapshot file's bytes (see decodeSnapshot). */
  encodeSnapshot(nowMs: number): Buffer {
    return encodeSnapshot(this.entries(nowMs));
  }

  /** Replaces the state with a snapshot's entries. */
  load(entries: readonly ProducerEntry[]): void {
    this.#producers.clear();
    for (const e of entries) this.#producers.set(e.producerId, e);
  }
}

// Snapshot file: magic "SLPS" | version u16 = 1 | crc32c u32 of what follows | count u32 |
// per producer: producerId i64 | epoch i16 | lastAppendMs i64 | batch count u8 |
// per batch: firstSequence i32 | lastSequence i32 | firstOffset i64 | lastOffset i64.
const MAGIC = 0x534c5053;
const HEAD_BYTES = 10;
const ENTRY_BYTES = 19;
const BATCH_BYTES = 24;

export function encodeSnapshot(entries: readonly ProducerEntry[]): Buffer {
  const size = HEAD_BYTES + 4 + entries.reduce((n, e) => n + ENTRY_BYTES + e.batches.length * BATCH_BYTES, 0);
  const buf = Buffer.alloc(size);
  buf.writeUInt32BE(MAGIC, 0);
  buf.writeUInt16BE(1, 4);
  let at = HEAD_BYTES;
  at = buf.writeUInt32BE(entries.length, at);
  for (const e of entries) {
    at = buf.writeBigInt64BE(e.producerId, at);
    at = buf.writeInt16BE(e.epoch, at);
    at = buf.writeBigInt64BE(BigInt(e.lastAppendMs), at);
    at = buf.writeUInt8(e.batches.length, at);
    for (const b of e.batches) {
      at = buf.writeInt32BE(b.firstSequence, at);
      at = buf.writeInt32BE(b.lastSequence, at);
      at = buf.writeBigInt64BE(b.firstOffset, at);
      at = buf.writeBigInt64BE(b.lastOffset, at);
    }
  }
  buf.writeUInt32BE(crc32c(buf.subarray(HEAD_BYTES)), 6);
  return buf;
}

/** The entries of a snapshot file; throws when it is not one, or is torn or corrupt (its CRC). */
export function decodeSnapshot(buf: Buffer): ProducerEntry[] {
  if (buf.length < HEAD_BYTES + 4 || buf.readUInt32BE(0) !== MAGIC || buf.readUInt16BE(4) !== 1) throw new Error('not a version 1 producer state snapshot');
  if (buf.readUInt32BE(6) !== crc32c(buf.subarray(HEAD_BYTES))) throw new Error('producer state snapshot fails its CRC');
  const count = buf.readUInt32BE(HEAD_BYTES);
  const entries: ProducerEntry[] = [];
  let at = HEAD_BYTES + 4;
  for (let i = 0; i < count; i++) {
    const entry: ProducerEntry = { producerId: buf.readBigInt64BE(at), epoch: buf.readInt16BE(at + 8), lastAppendMs: Number(buf.readBigInt64BE(at + 10)), batches: [] };
    const batches = buf.readUInt8(at + 18);
    at += ENTRY_BYTES;
    for (let b = 0; b < batches; b++, at += BATCH_BYTES) {
      entry.batches.push({ firstSequence: buf.readInt32BE(at), lastSequence: buf.readInt32BE(at + 4), firstOffset: buf.readBigInt64BE(at + 8), lastOffset: buf.readBigInt64BE(at + 16) });
    }
    entries.push(entry);
  }
  if (at !== buf.length) throw new Error('producer state snapshot has bytes after its last entry');
  return entries;
}
