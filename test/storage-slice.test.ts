// Slices name file ranges that start and end on batch boundaries, below the high watermark, and
// survive retention; time lookups, retention and group commit through the binding.

import t from 'tap';
import { openSync, readSync, closeSync } from 'node:fs';
import { ManualClock } from '../src/clock.js';
import { PartitionLog } from '../src/storage/partition-log.js';
import { decodeRecordBatches } from '../src/protocol/record-batch.js';
import { batchOf, tmpDir } from './helpers/tmp.js';

function readRange(path: string, position: number, bytes: number): Buffer {
  const fd = openSync(path, 'r');
  try {
    const buf = Buffer.alloc(bytes);
    if (readSync(fd, buf, 0, bytes, position) !== bytes) throw new Error(`short read of ${path}`);
    return buf;
  } finally {
    closeSync(fd);
  }
}

t.test('slice ranges always start and end on batch boundaries', async (t) => {
  const dir = tmpDir(t);
  const log = await PartitionLog.open(dir, { segmentBytes: 8192, indexIntervalBytes: 300 });
  const bases: bigint[] = [];
  for (let i = 0; i < 600; i++) bases.push(log.append(batchOf(i, 1 + (i % 5))).baseOffset);
  const hw = log.highWatermark;
  let checked = 0;
  for (const maxBytes of [0, 50, 500, 3000, 20_000]) {
    for (let offset = 0n; offset < hw; offset += 7n) {
      const slice = log.slice(offset, maxBytes);
      const pieces = slice.ranges.map((r) => readRange(r.path, r.position, r.bytes));
      const bytes = Buffer.concat(pieces);
      if (!bytes.equals(slice.read())) t.fail(`at ${offset}: the ranges differ from read()`);
      // every range on its own decodes into whole batches that match its offsets
      slice.ranges.forEach((r, i) => {
        const batches = decodeRecordBatches(pieces[i]!);
        const first = batches[0]!;
        const lastBatch = batches[batches.length - 1]!;
        if (first.baseOffset !== r.firstOffset) t.fail(`range ${i} starts at ${first.baseOffset}, says ${r.firstOffset}`);
        if (lastBatch.baseOffset + BigInt(lastBatch.lastOffsetDelta) + 1n !== r.nextOffset) t.fail(`range ${i} end`);
      });
      const batches = decodeRecordBatches(bytes);
      const first = batches[0]!;
      if (!(first.baseOffset <= offset && offset <= first.baseOffset + BigInt(first.lastOffsetDelta))) {
        t.fail(`slice at ${offset} starts with batch ${first.baseOffset}`);
      }
      if (bytes.length > Math.max(maxBytes, first.sizeBytes)) t.fail(`slice at ${offset} exceeds ${maxBytes}`);
      const end = batches[batches.length - 1]!;
      if (end.baseOffset + BigInt(end.lastOffsetDelta) >= hw) t.fail('past the high watermark');
      checked++;
    }
  }
  t.ok(checked > 1000, `checked ${checked} slices`);
  t.equal(log.slice(hw, 1000).ranges.length, 0, 'at the high watermark: nothing yet');
  t.throws(() => log.slice(hw + 1n, 1000), { code: 'OFFSET_OUT_OF_RANGE' });
  t.throws(() => log.slice(-1n, 1000), { code: 'OFFSET_OUT_OF_RANGE' });
  t.throws(() => log.slice(2n ** 64n, 1000), { code: 'INVALID_ARGUMENT' });
  await log.close();
});

t.test('retention by bytes and age with an injected clock; slices keep deleted segments readable', async (t) => {
  const dir = tmpDir(t);
  const clock = new ManualClock(1_700_000_000_000);
  const log = await PartitionLog.open(dir, { segmentBytes: 4096, retentionBytes: 20_000, retentionMs: 60_000 }, clock);
  for (let i = 0; i < 400; i++) log.append(batchOf(i, 1, clock.nowMs() - 30_000));
  const held = log.slice(0n, 100_000);
  const before = log.stats();
  const r = log.enforceRetention();
  t.ok(r.deletedSegments.length > 0, 'old segments deleted by size');
  t.ok(log.stats().sizeBytes <= 20_000 + 4096);
  t.equal(r.logStartOffset, log.logStartOffset);
  t.equal(log.stats().sizeBytes + r.deletedBytes, before.sizeBytes);
  t.throws(() => log.read(0n, 10), { code: 'OFFSET_OUT_OF_RANGE' });
  t.equal(decodeRecordBatches(held.read())[0]!.baseOffset, 0n, 'a slice taken before retention still reads');
  clock.advance(40_000); // batches are now 70 s old: all but the active segment go
  log.enforceRetention();
  t.equal(log.segmentBaseOffsets().length, 1);
  t.equal(log.logStartOffset, log.segmentBaseOffsets()[0]);
  await log.close();
});

t.test('offsetForTimestamp finds the first batch at or after a time', async (t) => {
  const dir = tmpDir(t);
  const log = await PartitionLog.open(dir, { segmentBytes: 4096, indexIntervalBytes: 200 });
  const bases = Array.from({ length: 300 }, (_, i) => log.append(batchOf(i, 2, 5_000 + i * 10)).baseOffset);
  t.equal(log.offsetForTimestamp(0), 0n);
  t.equal(log.offsetForTimestamp(5_000 + 1234), bases[124]);
  t.equal(log.offsetForTimestamp(5_000 + 2990), bases[299]);
  t.equal(log.offsetForTimestamp(5_000 + 2991), null);
  await log.close();
});

t.test('concurrent flushes share fsyncs (group commit)', async (t) => {
  const dir = tmpDir(t);
  const log = await PartitionLog.open(dir);
  const start = log.stats();
  const writers = Array.from({ length: 16 }, async (_, w) => {
    for (let i = 0; i < 20; i++) {
      const { lastOffset } = log.append(batchOf(w * 100 + i));
      const point = await log.flush();
      if (point <= lastOffset) t.fail(`flush resolved at ${point} before covering ${lastOffset}`);
    }
  });
  await Promise.all(writers);
  const end = log.stats();
  const rounds = end.fsyncRounds - start.fsyncRounds;
  t.ok(rounds < 320 / 2, `${rounds} fsync rounds for 320 flushes`);
  t.equal(end.recoveryPoint, end.highWatermark);
  await log.close();
});
