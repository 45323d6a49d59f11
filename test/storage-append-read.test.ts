// 100k batches over many small segments, reopened, every offset read back.

import t from 'tap';
import { readdirSync } from 'node:fs';
import { PartitionLog } from '../src/storage/partition-log.js';
import { decodeRecordBatch, decodeRecordBatches, encodeRecordBatch } from '../src/protocol/record-batch.js';
import { tmpDir } from './helpers/tmp.js';

const BATCHES = 100_000;
const options = { segmentBytes: 64 * 1024, indexIntervalBytes: 1024 };

/** Batch i holds 1 + i % 3 records; its first value names i. */
function batch(i: number): Buffer {
  const n = 1 + (i % 3);
  return encodeRecordBatch(Array.from({ length: n }, (_, r) => ({ value: `${i}:${r}`, timestampMs: 1_000_000 + i })));
}

t.test('append 100k batches, reopen, read every offset back', async (t) => {
  const dir = tmpDir(t);
  let log = await PartitionLog.open(dir, options);
  const firstOffsetOf: bigint[] = [];
  let expected = 0n;
  for (let i = 0; i < BATCHES; i++) {
    const b = batch(i);
    const r = log.append(b);
    if (r.baseOffset !== expected) t.fail(`batch ${i} got base offset ${r.baseOffset}, expected ${expected}`);
    firstOffsetOf.push(r.baseOffset);
    expected = r.lastOffset + 1n;
  }
  const segments = log.segmentBaseOffsets().length;
  t.ok(segments > 50, `the data spans many segments (${segments})`);
  t.equal(readdirSync(dir).filter((f) => f.endsWith('.log')).length, segments);
  await log.close();

  log = await PartitionLog.open(dir, options);
  t.ok(log.recoveryReport.cleanShutdown);
  t.equal(log.highWatermark, expected);
  t.equal(log.logStartOffset, 0n);
  // Every offset: the read starts with the batch that holds it.
  let mismatches = 0;
  for (let i = 0; i < BATCHES; i++) {
    const base = firstOffsetOf[i]!;
    const records = 1 + (i % 3);
    for (let r = 0; r < records; r++) {
      const { data } = log.read(base + BigInt(r), 1);
      const decoded = decodeRecordBatch(data);
      if (decoded.baseOffset !== base || decoded.records[r]?.value?.toString() !== `${i}:${r}` || data.length !== decoded.sizeBytes) {
        mismatches++;
      }
    }
  }
  t.equal(mismatches, 0, 'every offset reads back its own record');
  // And a sequential scan with large reads sees every batch exactly once, in order.
  let offset = 0n;
  let seen = 0;
  while (offset < log.highWatermark) {
    const batches = decodeRecordBatches(log.read(offset, 1 << 20).data);
    for (const b of batches) {
      if (b.baseOffset !== offset) t.fail(`gap at ${offset}`);
      offset = b.baseOffset + BigInt(b.lastOffsetDelta) + 1n;
      seen++;
    }
  }
  t.equal(seen, BATCHES);
  t.throws(() => log.read(log.highWatermark + 1n, 100), { code: 'OFFSET_OUT_OF_RANGE' });
  await log.close();
});
