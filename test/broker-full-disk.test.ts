// A full disk: the broker runs on a tmpfs of a few MiB that the test mounts (the suite runs as
// root, as CI does). Once it fills, produce is refused with KAFKA_STORAGE_ERROR and no byte of the
// refused batches becomes visible; fetches, metadata and the rest keep working; once space is
// freed, produce works again at the next offset.

import t from 'tap';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { encodeRecordBatch, decodeRecordBatches } from '../src/protocol/record-batch.js';
import { ApiKey } from '../src/protocol/messages.js';
import { call, createTopic, fetch, produce, startBroker } from './helpers/broker.js';

const TOPIC = 'full';
const MIB = 1024 * 1024;

function mountTmpfs(t: { teardown(fn: () => void): void }, sizeBytes: number): string {
  const dir = mkdtempSync(join(tmpdir(), 'sluice-full-disk-'));
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${sizeBytes}`, 'sluice-full-disk', dir], { stdio: 'pipe' });
  } catch (err) {
    rmSync(dir, { recursive: true, force: true });
    throw new Error(`this test mounts a small tmpfs and needs root (CI runs as root): ${String(err)}`);
  }
  t.teardown(() => {
    execFileSync('umount', ['-l', dir]);
    rmSync(dir, { recursive: true, force: true });
  });
  return dir;
}

const tiny = (id: number) => encodeRecordBatch([{ key: `k${id}`, value: 'x', timestampMs: 1_700_000_000_000 + id }]);
const batch = (id: number) => encodeRecordBatch([{ key: `k${id}`, value: Buffer.alloc(48 * 1024, id & 0xff), timestampMs: 1_700_000_000_000 + id }]);

t.test('a full disk refuses produce with KAFKA_STORAGE_ERROR, keeps serving fetches, and takes produce again once space is freed', async (t) => {
  const mount = mountTmpfs(t, 8 * MIB);
  // Ballast the test can delete to free space later.
  const ballast = join(mount, 'ballast');
  writeFileSync(ballast, Buffer.alloc(2 * MIB, 1));
  const broker = await startBroker(t, { dataDir: join(mount, 'data') });
  const c = await broker.connect();
  await createTopic(c, TOPIC, 1, { segmentBytes: MIB });

  let acked = 0;
  let refused: { code: string; message: string } | undefined;
  for (let id = 0; id < 400 && !refused; id++) {
    const [r] = await produce(c, [{ topic: TOPIC, partition: 0, batches: batch(id) }]);
    if (r!.error) refused = r!.error;
    else if (r!.baseOffset !== BigInt(acked++)) t.fail(`batch ${id} went to ${r!.baseOffset}, not ${acked - 1}`);
  }
  t.ok(acked > 10, `${acked} batches went in before the disk filled`);
  t.equal(refused?.code, 'KAFKA_STORAGE_ERROR', `the first refused produce says why: ${refused?.message}`);
  const again = await Promise.all([1, -1].map(async (acks) => (await produce(c, [{ topic: TOPIC, partition: 0, batches: batch(1000) }], acks as 1 | -1))[0]!.error?.code));
  t.same(again, ['KAFKA_STORAGE_ERROR', 'KAFKA_STORAGE_ERROR'], 'later produces with acks=1 and acks=all are refused too');

  // Fill what is left with small batches, down to the last free page.
  let small = 0;
  for (let id = 5000; small < 10_000; id++, small++) {
    const [r] = await produce(c, [{ topic: TOPIC, partition: 0, batches: tiny(id) }]);
    if (r!.error) break;
    if (r!.baseOffset !== BigInt(acked++)) t.fail(`batch ${id} went to ${r!.baseOffset}, not ${acked - 1}`);
  }
  t.ok(small < 10_000, `${small} small batches filled the last pages`);
  const created = await createTopic(c, 'other', 4).then(() => 'created', (err: Error) => err.message);
  const committed = await call<{ partitions: Array<{ error?: { code: string } }> }>(c, ApiKey.OffsetCommit, {
    groupId: 'g',
    generationId: -1,
    memberId: '',
    offsets: [{ topic: TOPIC, partition: 0, offset: 1n, metadata: null }],
  });
  t.comment(`on the full disk: create topic -> ${created}; offset commit -> ${committed.partitions[0]?.error?.code ?? 'ok'}`);
  t.match(created, /KAFKA_STORAGE_ERROR/, 'a topic create is refused with KAFKA_STORAGE_ERROR');
  t.match(committed.partitions[0]?.error?.code ?? 'ok', /^(ok|KAFKA_STORAGE_ERROR)$/, 'an offset commit fits in its last page or is refused cleanly');

  // Everything acknowledged is served whole; nothing of the refused batches is.
  const offsets: bigint[] = [];
  const fetchErrors = [];
  let offset = 0n;
  let highWatermark = -1n;
  while (offset < BigInt(acked) + 1n) {
    const [p] = await fetch(c, [{ topic: TOPIC, partition: 0, offset, maxBytes: MIB }]);
    if (p!.error) fetchErrors.push(p!.error);
    highWatermark = p!.highWatermark;
    if (p!.bytes === 0) break;
    for (const b of decodeRecordBatches(p!.records)) offsets.push(b.baseOffset);
    offset = offsets[offsets.length - 1]! + 1n;
  }
  t.same(fetchErrors, [], 'fetches work on the full disk');
  t.equal(highWatermark, BigInt(acked), 'the high watermark is the acknowledged batches');
  t.same(offsets, Array.from({ length: acked }, (_, i) => BigInt(i)), 'every acknowledged batch is served, CRC intact, and nothing after');

  unlinkSync(ballast);
  const [resumed] = await produce(c, [{ topic: TOPIC, partition: 0, batches: batch(2000) }], -1);
  t.notOk(resumed!.error, 'produce works again once space is freed');
  t.equal(resumed!.baseOffset, BigInt(acked), 'at the next offset');
  const [tail] = await fetch(c, [{ topic: TOPIC, partition: 0, offset: BigInt(acked) }]);
  t.equal(decodeRecordBatches(tail!.records)[0]?.records[0]?.key?.toString(), 'k2000', 'and it is served');
  await createTopic(c, 'other', 4);
  t.pass('the topic refused on the full disk left nothing behind: creating it now works');
  t.equal(await broker.stop('SIGTERM'), 0, 'the broker stops cleanly');
});
