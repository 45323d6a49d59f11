import t from 'tap';
import { crc32c } from '../src/native.js';
import { decodeRecordBatch, decodeRecordBatches, encodeRecordBatch, RecordBatchBuilder } from '../src/protocol/record-batch.js';
import { readVarint, varintSize, writeVarint } from '../src/protocol/varint.js';

t.test('crc32c matches the standard check value and continues across calls', async (t) => {
  t.equal(crc32c(Buffer.from('123456789')), 0xe3069283);
  t.equal(crc32c(Buffer.from('56789'), crc32c(Buffer.from('1234'))), 0xe3069283);
  t.equal(crc32c(Buffer.alloc(0)), 0);
});

t.test('zigzag varints round-trip at their edges', async (t) => {
  const values = [0, -1, 1, 63, -64, 64, -65, 127, 128, 8191, -8192, 2 ** 31 - 1, -(2 ** 31), 2 ** 40, -(2 ** 52) + 1, 2 ** 52 - 1];
  for (const v of values) {
    const buf = Buffer.alloc(10);
    const end = writeVarint(buf, 0, v);
    t.equal(end, varintSize(v), `size of ${v}`);
    t.same(readVarint(buf, 0), [v, end], `round trip of ${v}`);
  }
  t.same([...Buffer.from([0x01])], [1]);
  const small = Buffer.alloc(2);
  writeVarint(small, 0, -1);
  t.equal(small[0], 1, 'zigzag maps -1 to 1');
  writeVarint(small, 0, 64);
  t.same([...small], [0x80, 0x01], '64 zigzags to 128: two bytes, low group first');
  t.throws(() => readVarint(Buffer.from([0x80, 0x80]), 0), { code: 'CORRUPT_MESSAGE' });
  t.throws(() => readVarint(Buffer.alloc(11, 0xff), 0), { code: 'CORRUPT_MESSAGE' });
  t.throws(() => writeVarint(Buffer.alloc(10), 0, 2 ** 53), RangeError);
});

t.test('a batch round-trips keys, values, headers and timestamps', async (t) => {
  const batch = encodeRecordBatch(
    [
      { key: 'user-1', value: 'first', headers: { trace: 'abc', empty: null }, timestampMs: 1_700_000_000_123 },
      { key: null, value: Buffer.from([0, 1, 2, 255]), timestampMs: 1_700_000_000_100 },
      { value: null, headers: [{ key: 'dup', value: Buffer.from('1') }, { key: 'dup', value: Buffer.from('2') }] },
    ],
    { baseOffset: 2n ** 40n, producerId: 77n, producerEpoch: 3, baseSequence: 9 },
  );
  const decoded = decodeRecordBatch(batch);
  t.equal(decoded.sizeBytes, batch.length);
  t.equal(decoded.magic, 2);
  t.equal(decoded.baseOffset, 2n ** 40n);
  t.equal(decoded.lastOffsetDelta, 2);
  t.equal(decoded.baseTimestampMs, 1_700_000_000_100);
  t.equal(decoded.maxTimestampMs, 1_700_000_000_123);
  t.equal(decoded.producerId, 77n);
  const [a, b, c] = decoded.records;
  t.equal(a?.key?.toString(), 'user-1');
  t.equal(a?.value?.toString(), 'first');
  t.same(a?.headers.map((h) => [h.key, h.value?.toString() ?? null]), [['trace', 'abc'], ['empty', null]]);
  t.equal(a?.timestampMs, 1_700_000_000_123);
  t.equal(b?.key, null);
  t.same([...(b?.value ?? [])], [0, 1, 2, 255]);
  t.equal(c?.value, null);
  t.equal(c?.offset, 2n ** 40n + 2n);
  t.equal(c?.timestampMs, 1_700_000_000_100, 'no timestamp: the base timestamp');
  t.same(c?.headers.map((h) => h.value?.toString()), ['1', '2'], 'repeated header keys are kept in order');
});

t.test('decoding rejects damaged batches with CORRUPT_MESSAGE', async (t) => {
  const batch = encodeRecordBatch([{ value: 'x' }, { value: 'y' }]);
  const flipped = Buffer.from(batch);
  flipped[flipped.length - 1]! ^= 1;
  t.throws(() => decodeRecordBatch(flipped), { code: 'CORRUPT_MESSAGE' });
  t.throws(() => decodeRecordBatch(batch.subarray(0, batch.length - 1)), { code: 'CORRUPT_MESSAGE' });
  t.throws(() => decodeRecordBatch(batch.subarray(0, 30)), { code: 'CORRUPT_MESSAGE' });
  const twice = Buffer.concat([batch, batch]);
  t.equal(decodeRecordBatches(twice).length, 2);
  t.throws(() => encodeRecordBatch([]), { code: 'INVALID_RECORD' });
});

t.test('RecordBatchBuilder: records go in until the limit, the first always, the buffer grows', async (t) => {
  const value = Buffer.alloc(100, 0x61);
  const builder = new RecordBatchBuilder(128, 1_700_000_000_000);
  t.ok(builder.tryAppend({ value }, 1_700_000_000_005, 150), 'the first record goes in even past the limit of the buffer');
  const oneRecord = builder.sizeBytes;
  t.notOk(builder.tryAppend({ value }, 1_700_000_000_001, oneRecord + 50), 'a record that would pass the limit is refused');
  t.equal(builder.sizeBytes, oneRecord, 'a refused record leaves nothing behind');
  t.ok(builder.tryAppend({ key: 'k', value, headers: { h: 'v' } }, 1_699_999_999_990), 'no limit: the buffer grows');
  t.equal(builder.count, 2);
  const batch = builder.build({ baseOffset: 7n });
  t.equal(batch.length, builder.sizeBytes);
  const decoded = decodeRecordBatch(batch);
  t.equal(decoded.baseTimestampMs, 1_700_000_000_000, 'the base timestamp given');
  t.equal(decoded.maxTimestampMs, 1_700_000_000_005);
  t.same(decoded.records.map((r) => [r.offset, r.timestampMs, r.key?.toString() ?? null]), [
    [7n, 1_700_000_000_005, null],
    [8n, 1_699_999_999_990, 'k'],
  ], 'a record earlier than the base keeps its own timestamp (negative delta)');
  t.same(decoded.records[1]!.headers, [{ key: 'h', value: Buffer.from('v') }]);
  t.same(decodeRecordBatch(encodeRecordBatch([{ value, timestampMs: 1_700_000_000_005 }, { key: 'k', value, headers: { h: 'v' }, timestampMs: 1_699_999_999_990 }], { baseOffset: 7n, baseTimestampMs: 1_700_000_000_000 })).records, decoded.records, 'encodeRecordBatch builds the same records');
  t.throws(() => new RecordBatchBuilder(64).build(), { code: 'INVALID_RECORD' });
});
