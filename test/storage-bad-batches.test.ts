// Bad batches are rejected with a stable code and leave the files byte for byte unchanged.

import t from 'tap';
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { PartitionLog } from '../src/storage/partition-log.js';
import { batchOf, tmpDir } from './helpers/tmp.js';

function snapshot(dir: string): Record<string, string> {
  const files: Record<string, string> = {};
  for (const f of readdirSync(dir).sort()) {
    files[f] = createHash('sha256').update(readFileSync(join(dir, f))).digest('hex');
  }
  return files;
}

function resign(b: Buffer): Buffer {
  b.writeUInt32BE(0, 17);
  return b;
}

t.test('bad batches are rejected and leave the files unchanged', async (t) => {
  const dir = tmpDir(t);
  const log = await PartitionLog.open(dir, { maxBatchBytes: 4096 });
  for (let i = 0; i < 20; i++) log.append(batchOf(i, 3));
  await log.flush();
  const before = snapshot(dir);
  const hw = log.highWatermark;

  const good = batchOf(100, 2);
  const flipped = Buffer.from(good);
  flipped[flipped.length - 3]! ^= 0x10;
  const badMagic = Buffer.from(good);
  badMagic[16] = 1;
  const wrongCount = Buffer.from(good);
  wrongCount.writeInt32BE(7, 57);
  const cases: Array<[string, Buffer, string]> = [
    ['empty append', Buffer.alloc(0), 'INVALID_RECORD'],
    ['garbage', Buffer.from('definitely not a record batch'), 'CORRUPT_MESSAGE'],
    ['truncated batch', good.subarray(0, good.length - 5), 'CORRUPT_MESSAGE'],
    ['flipped bit', flipped, 'CORRUPT_MESSAGE'],
    ['magic 1', badMagic, 'CORRUPT_MESSAGE'],
    ['records count changed, CRC stale', wrongCount, 'CORRUPT_MESSAGE'],
    ['too large', batchOf(5, 200), 'MESSAGE_TOO_LARGE'],
    ['good batch then a bad one', Buffer.concat([batchOf(7), flipped]), 'CORRUPT_MESSAGE'],
    ['good batch then trailing bytes', Buffer.concat([batchOf(8), Buffer.alloc(20)]), 'CORRUPT_MESSAGE'],
    ['CRC zeroed', resign(Buffer.from(good)), 'CORRUPT_MESSAGE'],
  ];
  for (const [name, bytes, code] of cases) {
    t.throws(() => log.append(bytes), { code }, name);
  }
  t.equal(log.highWatermark, hw, 'no offset was taken');
  await log.flush();
  t.same(snapshot(dir), before, 'no byte changed on disk');
  // and the log still takes good batches
  t.equal(log.append(batchOf(21)).baseOffset, hw);
  await log.close();
});

t.test('a batch with the right CRC but a wrong record count is INVALID_RECORD', async (t) => {
  const dir = tmpDir(t);
  const log = await PartitionLog.open(dir);
  const { crc32c } = await import('../src/native.js');
  const b = batchOf(1, 2);
  b.writeInt32BE(5, 57);
  b.writeUInt32BE(crc32c(b.subarray(21)), 17);
  t.throws(() => log.append(b), { code: 'INVALID_RECORD' });
  t.equal(log.highWatermark, 0n);
  await log.close();
});
