// The idempotent-producer rules of one partition (src/log/producer-state.ts), with time passed in:
// duplicates within the last BATCHES_REMEMBERED batches, sequence gaps, fenced and new epochs, producers the
// partition does not know, expiry, wrapping sequences, several batches in one append, and the
// snapshot codec refusing torn or corrupt files.

import t from 'tap';
import { SluiceError } from '../src/errors.js';
import { BATCHES_REMEMBERED, decodeSnapshot, encodeSnapshot, ProducerStateTable, sequenceAfter, type ProducerBatch } from '../src/log/producer-state.js';

const HOUR = 3_600_000;
const batch = (baseSequence: number, records: number, producerEpoch = 0, producerId = 7n): ProducerBatch => ({ producerId, producerEpoch, baseSequence, lastOffsetDelta: records - 1 });

/** Checks and records `b` as written at `offset`; returns the duplicate's range when it was one. */
function write(table: ProducerStateTable, b: ProducerBatch, offset: bigint, nowMs = 0) {
  const duplicate = table.check([b], nowMs);
  if (!duplicate) table.record(b, offset, nowMs);
  return duplicate;
}

const refusal = (fn: () => unknown): string => {
  try {
    fn();
  } catch (err) {
    if (err instanceof SluiceError) return err.code;
    throw err;
  }
  return 'accepted';
};

t.test('a retried batch is a duplicate with its first offsets; the next sequence is written', async (t) => {
  const table = new ProducerStateTable(HOUR);
  t.equal(write(table, batch(0, 10), 100n), undefined);
  t.equal(write(table, batch(10, 5), 110n), undefined);
  t.same(write(table, batch(0, 10), 999n), { firstSequence: 0, lastSequence: 9, firstOffset: 100n, lastOffset: 109n });
  t.same(write(table, batch(10, 5), 999n), { firstSequence: 10, lastSequence: 14, firstOffset: 110n, lastOffset: 114n });
  t.equal(write(table, batch(15, 1), 115n), undefined);
});

t.test(`only the last ${BATCHES_REMEMBERED} batches are remembered: an older retry is out of order`, async (t) => {
  const table = new ProducerStateTable(HOUR);
  for (let i = 0; i <= BATCHES_REMEMBERED; i++) write(table, batch(i * 2, 2), BigInt(i * 2));
  t.equal(refusal(() => table.check([batch(0, 2)], 0)), 'OUT_OF_ORDER_SEQUENCE_NUMBER', 'the first batch fell out of the window');
  t.ok(table.check([batch(2, 2)], 0), 'the second is still a duplicate');
});

t.test('a gap, or a batch that overlaps without matching one, is out of order', async (t) => {
  const table = new ProducerStateTable(HOUR);
  write(table, batch(0, 10), 0n);
  t.equal(refusal(() => table.check([batch(11, 1)], 0)), 'OUT_OF_ORDER_SEQUENCE_NUMBER');
  t.equal(refusal(() => table.check([batch(5, 10)], 0)), 'OUT_OF_ORDER_SEQUENCE_NUMBER');
});

t.test('epochs: an older one is fenced, a newer one must start at sequence 0', async (t) => {
  const table = new ProducerStateTable(HOUR);
  write(table, batch(0, 3, 2), 0n);
  t.equal(refusal(() => table.check([batch(3, 1, 1)], 0)), 'INVALID_PRODUCER_EPOCH');
  t.equal(refusal(() => table.check([batch(3, 1, 3)], 0)), 'OUT_OF_ORDER_SEQUENCE_NUMBER');
  t.equal(write(table, batch(0, 1, 3), 3n), undefined);
  t.equal(refusal(() => table.check([batch(3, 1, 2)], 0)), 'INVALID_PRODUCER_EPOCH', 'the old epoch is fenced from now on');
  t.equal(refusal(() => table.check([batch(0, 3, 2)], 0)), 'INVALID_PRODUCER_EPOCH', 'a retry from the old epoch is refused, not answered as a duplicate');
});

t.test('a producer the partition does not know may start anywhere; producers are kept apart', async (t) => {
  const table = new ProducerStateTable(HOUR);
  t.equal(write(table, batch(500, 1), 0n), undefined);
  t.equal(write(table, batch(0, 1, 0, 8n), 1n), undefined);
  t.equal(write(table, batch(501, 1), 2n), undefined);
  t.equal(refusal(() => table.check([batch(5, 1, 0, 8n)], 0)), 'OUT_OF_ORDER_SEQUENCE_NUMBER');
  t.equal(table.size, 2);
});

t.test('a producer silent for the expiration time is forgotten', async (t) => {
  const table = new ProducerStateTable(1000);
  write(table, batch(0, 1), 0n, 5000);
  t.equal(refusal(() => table.check([batch(9, 1)], 5999)), 'OUT_OF_ORDER_SEQUENCE_NUMBER', 'still known 999 ms later');
  t.equal(table.check([batch(9, 1)], 6000), undefined, 'forgotten after 1000 ms: any sequence');
  t.equal(table.check([batch(0, 1)], 6000), undefined, 'and a retry is no longer a duplicate');
  t.equal(table.expire(6000), 1);
  t.equal(table.size, 0);
});

t.test('sequences wrap past 2^31-1 to 0', async (t) => {
  t.equal(sequenceAfter(0x7fffffff, 1), 0);
  t.equal(sequenceAfter(0x7ffffffe, 3), 1);
  const table = new ProducerStateTable(HOUR);
  write(table, batch(0x7ffffffe, 2), 0n);
  t.equal(write(table, batch(0, 1), 2n), undefined);
});

t.test('several batches in one append are checked against each other', async (t) => {
  const table = new ProducerStateTable(HOUR);
  t.equal(table.check([batch(0, 2), batch(2, 2), batch(0, 1, 0, 8n)], 0), undefined);
  t.equal(refusal(() => table.check([batch(0, 2), batch(3, 2)], 0)), 'OUT_OF_ORDER_SEQUENCE_NUMBER');
});

t.test('snapshots round-trip; a torn or corrupt one is refused', async (t) => {
  const table = new ProducerStateTable(HOUR);
  for (let i = 0; i < BATCHES_REMEMBERED + 2; i++) write(table, batch(i, 1), BigInt(i), 1000);
  write(table, batch(0, 4, 3, 9n), 7n, 2000);
  const bytes = table.encodeSnapshot(2000);
  const entries = decodeSnapshot(bytes);
  t.same(
    entries.map((e) => [e.producerId, e.epoch, e.lastAppendMs, e.batches.length]),
    [
      [7n, 0, 1000, BATCHES_REMEMBERED],
      [9n, 3, 2000, 1],
    ],
  );
  const reloaded = new ProducerStateTable(HOUR);
  reloaded.load(entries);
  const last = BATCHES_REMEMBERED + 1;
  t.same(reloaded.check([batch(last, 1)], 2000), { firstSequence: last, lastSequence: last, firstOffset: BigInt(last), lastOffset: BigInt(last) });
  t.equal(refusal(() => reloaded.check([batch(0, 1)], 2000)), 'OUT_OF_ORDER_SEQUENCE_NUMBER', 'the oldest fell out of the window before the snapshot');
  t.equal(refusal(() => reloaded.check([batch(2, 1, 3, 9n)], 2000)), 'OUT_OF_ORDER_SEQUENCE_NUMBER');
  t.throws(() => decodeSnapshot(bytes.subarray(0, bytes.length - 3)), /CRC|bytes/);
  const flipped = Buffer.from(bytes);
  flipped[flipped.length - 1]! ^= 1;
  t.throws(() => decodeSnapshot(flipped), /CRC/);
  t.throws(() => decodeSnapshot(Buffer.from('not a snapshot at all')), /not a version 1/);
  t.same(decodeSnapshot(encodeSnapshot([])), []);
});
