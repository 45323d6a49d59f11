// Torn and corrupted tails: after a SIGKILL the active segment is cut at a random byte inside one
// of its last batches, or has a random byte of one of them flipped; the restarted broker must cut
// the log back to the batch before the damage, log what it dropped (partition, segment, position,
// bytes), serve every batch before it byte for byte, and append after it. (A flip is aimed anywhere
// but the 4-byte partitionLeaderEpoch, which RecordBatch v2's CRC does not cover and the broker
// overwrites on append.)

import t from 'tap';
import { readdirSync, readFileSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { batchOf, tmpDir } from './helpers/tmp.js';
import { createTopic, fetch, produce, startBroker, type RunningBroker } from './helpers/broker.js';

const TOPIC = 'torn';
const ROUNDS = 8;
const LEADER_EPOCH = [12, 16];

/** Start positions and base offsets of the batches in a segment file's bytes. */
function batchesIn(data: Buffer): Array<{ position: number; size: number; baseOffset: bigint }> {
  const out = [];
  for (let at = 0; at + 12 <= data.length; ) {
    const size = data.readInt32BE(at + 8) + 12;
    out.push({ position: at, size, baseOffset: data.readBigInt64BE(at) });
    at += size;
  }
  return out;
}

async function readAll(broker: RunningBroker): Promise<{ bytes: Buffer; highWatermark: bigint }> {
  const c = await broker.connect();
  const chunks: Buffer[] = [];
  let offset = 0n;
  let highWatermark = 0n;
  for (;;) {
    const [p] = await fetch(c, [{ topic: TOPIC, partition: 0, offset, maxBytes: 1 << 20 }]);
    highWatermark = p!.highWatermark;
    if (p!.bytes === 0) break;
    chunks.push(Buffer.from(p!.records));
    const last = batchesIn(p!.records).pop()!;
    offset = last.baseOffset + BigInt(p!.records.readInt32BE(last.position + 23)) + 1n;
  }
  return { bytes: Buffer.concat(chunks), highWatermark };
}

t.test('a torn or corrupted tail is cut back to the last valid batch, logged, and everything before it served', async (t) => {
  const dataDir = tmpDir(t);
  const random = (n: number) => Math.floor(Math.random() * n);
  let kept = Buffer.alloc(0);
  let damage: { position: number; droppedBytes: number; segment: string; baseOffset: bigint } | undefined;
  let id = 0;
  for (let round = 0; round <= ROUNDS; round++) {
    const broker = await startBroker(t, { dataDir });
    const c = await broker.connect();
    if (round === 0) await createTopic(c, TOPIC, 1);
    const served = await readAll(broker);
    t.ok(served.bytes.equals(kept), `round ${round}: every batch before the damage is served byte for byte (${kept.length} B)`);
    if (damage) {
      t.equal(served.highWatermark, damage.baseOffset, `round ${round}: the high watermark is the damaged batch's offset`);
      const line = broker.lines.find((l) => typeof l === 'object' && l.msg === 'truncated a damaged log tail') as Record<string, unknown> | undefined;
      t.match(
        line,
        { partition: `${TOPIC}-0`, segment: damage.segment, position: damage.position, droppedBytes: damage.droppedBytes, reason: String },
        `round ${round}: the broker logged the segment, position and bytes it dropped`,
      );
    }
    // More batches of 1-4 records; the next damage lands among them.
    const errors = [];
    for (let i = 0; i < 20; i++) {
      const [r] = await produce(c, [{ topic: TOPIC, partition: 0, batches: batchOf(id++, 1 + random(4)) }]);
      if (r!.error) errors.push(r!.error);
    }
    t.same(errors, [], `round ${round}: appends after the cut succeed`);
    if (round === ROUNDS) break;
    await broker.stop('SIGKILL');

    const dir = join(dataDir, `${TOPIC}-0`);
    const segment = readdirSync(dir).filter((f) => f.endsWith('.log')).sort().pop()!;
    const path = join(dir, segment);
    const data = readFileSync(path);
    const batches = batchesIn(data);
    const victim = batches[batches.length - 1 - random(Math.min(10, batches.length))]!;
    let fileBytes = data.length;
    if (round % 2 === 0) {
      fileBytes = victim.position + 1 + random(victim.size - 1);
      truncateSync(path, fileBytes);
    } else {
      let at: number;
      do at = random(victim.size);
      while (at >= LEADER_EPOCH[0]! && at < LEADER_EPOCH[1]!);
      data[victim.position + at]! ^= 1 + random(255);
      writeFileSync(path, data);
    }
    damage = { position: victim.position, droppedBytes: fileBytes - victim.position, segment: String(BigInt(segment.slice(0, 20))), baseOffset: victim.baseOffset };
    // One segment (1 GiB default): the log is this file, and the bytes before the victim stay.
    kept = Buffer.from(data.subarray(0, victim.position));
  }
});
