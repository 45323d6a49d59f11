// One crash-loop test per acks mode (test/crash-loop*.test.ts): 20 SIGKILLs of the broker under
// producers and an offset committer (test/harness/torture.ts does the checking), then the run's figures.

import type { Test } from 'tap';
import { runTorture, type CycleReport } from '../harness/torture.js';
import { tmpDir } from './tmp.js';

export const CRASH_LOOP_CYCLES = 20;

export async function crashLoop(t: Test, acks: 1 | -1, flushIntervalMs?: number): Promise<void> {
  const cycles: CycleReport[] = [];
  const report = await runTorture({
    dataDir: tmpDir(t),
    cycles: CRASH_LOOP_CYCLES,
    acks,
    ...(flushIntervalMs ? { flushIntervalMs } : {}),
    runMs: [100, 700],
    fullCheckEvery: 10,
    onCycle: (c) => cycles.push(c),
  });
  t.equal(report.cycles, CRASH_LOOP_CYCLES, 'every cycle ran, was killed and checked');
  t.equal(cycles.length, CRASH_LOOP_CYCLES + 1, 'a check after every restart, the last one reading everything');
  t.ok(cycles.slice(0, -1).every((c) => c.acked > 0), 'producers had records acknowledged in every cycle');
  t.ok(report.records >= BigInt(report.acked), `the topic holds ${report.records} records, at least the ${report.acked} acknowledged`);
  t.ok(report.records <= BigInt(report.acked + report.unacked), 'and none beyond the records sent');
  t.same(report.indexProblems, [], 'indexes agree with the segments after the last kill');
  t.comment(`seed ${report.seed}: ${report.acked} acked, ${report.unacked} unacked, ${report.startupKills} kills during start-up`);
}
