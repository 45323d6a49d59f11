// Exact records by time, for ListOffsets: the storage core finds batches by their maxTimestamp
// (it never decodes records), and this walks the records of the batch it names (decompressing
// them when the batch is compressed) for the record itself, its offset and its own timestamp.
// Records below the log start are never answered (DeleteRecords may have moved it inside a batch).

import { decodeRecordBatch, type DecodedBatch } from '../protocol/record-batch.js';
import type { Partition } from './partition.js';

/** A record's offset and timestamp (ms). */
export interface TimedOffset {
  offset: bigint;
  timestampMs: bigint;
}

/** Attributes bit 3: the batch's records carry the append time, written as the batch's maxTimestamp. */
const LOG_APPEND_TIME = 0x08;

/** The first record at or past the log start whose timestamp is >= `timestampMs`; null when every record is older. */
export function recordAtOrAfter(p: Partition, timestampMs: bigint): TimedOffset | null {
  const found = p.log.offsetForTimestamp(Number(timestampMs));
  if (found === null) return null;
  // The batch's maxTimestamp reaches the time, so one of its records does: a producer whose
  // header claims more than its records hold is the only reason to read on.
  for (let offset = found; offset < p.log.highWatermark; ) {
    const batch = batchAt(p, offset);
    const record = records(batch, p.log.logStartOffset).find((r) => r.timestampMs >= timestampMs);
    if (record) return record;
    offset = batch.baseOffset + BigInt(batch.lastOffsetDelta) + 1n;
  }
  return null;
}

/**
 * The first record carrying the log's largest timestamp (Kafka's MAX_TIMESTAMP, KIP-734), which
 * need not be the last record; null for an empty log.
 */
export function recordWithMaxTimestamp(p: Partition): TimedOffset | null {
  const found = p.log.batchWithMaxTimestamp();
  if (!found) return null;
  const inBatch = records(batchAt(p, found.baseOffset), p.log.logStartOffset);
  // The header's maxTimestamp is the batch's largest; should a producer have written one none of
  // its records carries, the largest record still answers.
  const max = inBatch.reduce<TimedOffset | null>((best, r) => (best === null || r.timestampMs > best.timestampMs ? r : best), null);
  return inBatch.find((r) => r.timestampMs === BigInt(found.maxTimestampMs)) ?? max;
}

/** The one batch holding `offset` (or the log start, when `offset` is below it), decoded. */
function batchAt(p: Partition, offset: bigint): DecodedBatch {
  const start = p.log.logStartOffset;
  const { data } = p.log.read(offset < start ? start : offset, 0);
  return decodeRecordBatch(data);
}

/** The batch's records at or past `logStartOffset`, with the timestamps readers see. */
function records(batch: DecodedBatch, logStartOffset: bigint): TimedOffset[] {
  const appendTime = (batch.attributes & LOG_APPEND_TIME) !== 0;
  return batch.records
    .filter((r) => r.offset >= logStartOffset)
    .map((r) => ({ offset: r.offset, timestampMs: BigInt(appendTime ? batch.maxTimestampMs : r.timestampMs) }));
}
