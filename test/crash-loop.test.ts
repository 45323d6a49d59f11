// The crash loop under acks=all (test/harness/torture.ts; `npm run torture` runs it longer): the broker
// is SIGKILLed at random moments under producers and an offset committer, 20 times, and every
// restart must show each acknowledged record exactly once where its ack said, offsets contiguous,
// producers' order kept, committed offsets durable and never past the high watermark, and at the
// end indexes consistent with the segments. A second test damages an acknowledged tail between
// cycles to show that the checks catch a loss. acks=1: crash-loop-acks1.test.ts.

import t from 'tap';
import { readdirSync, readFileSync, truncateSync } from 'node:fs';
import { join } from 'node:path';
import { runTorture, TORTURE_TOPIC } from './harness/torture.js';
import { CRASH_LOOP_CYCLES, crashLoop } from './helpers/crash-loop.js';
import { tmpDir } from './helpers/tmp.js';

t.test(`${CRASH_LOOP_CYCLES} SIGKILLs under acks=all: every acknowledged record survives, once, in order`, (t) => crashLoop(t, -1));

t.test('the checks fail when an acknowledged tail is lost', async (t) => {
  const dataDir = tmpDir(t);
  const run = runTorture({
    dataDir,
    cycles: 3,
    acks: -1,
    partitions: 1,
    runMs: [300, 400],
    afterKill: async (_cycle, lastAcked) => {
      // Cut the log inside the batch holding the last acknowledged record (the last ~100 bytes
      // may hold only unacknowledged sends, whose loss is allowed): recovery drops that batch.
      if (lastAcked[0]! < 0n) return;
      const dir = join(dataDir, `${TORTURE_TOPIC}-0`);
      const segment = readdirSync(dir).filter((f) => f.endsWith('.log') && BigInt(f.slice(0, 20)) <= lastAcked[0]!).sort().pop()!;
      const data = readFileSync(join(dir, segment));
      for (let at = 0; at + 12 <= data.length; at += data.readInt32BE(at + 8) + 12) {
        const lastOffset = data.readBigInt64BE(at) + BigInt(data.readInt32BE(at + 23));
        if (lastOffset >= lastAcked[0]!) return truncateSync(join(dir, segment), at + 1);
      }
    },
  });
  await t.rejects(run, /acknowledged records are missing|high watermark \d+ is below|fetch torture-0/, 'the first check after the damage reports the loss');
});
