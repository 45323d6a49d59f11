// `npm run torture -- --cycles N`: the crash loop of test/crash-loop.test.ts, longer. Prints a
// line per cycle and a JSON summary; exits 1 with the problem when a check fails.

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Command, Option } from 'commander';
import { runTorture, type TortureReport } from './torture.js';
import { integerOption } from './util.js';

const program = new Command('torture')
  .description('SIGKILL the broker at random moments while producers write and a committer commits; check every acknowledged record after each restart')
  .option('--cycles <n>', 'kill and restart this many times', integerOption(1), 500)
  .addOption(new Option('--acks <acks>', 'acks of the producers (all: fsynced; 1: page cache, with --flush-interval-ms on the broker)').choices(['all', '1']).default('all'))
  .option('--flush-interval-ms <ms>', 'broker flush interval with --acks 1', integerOption(1), 50)
  .option('--partitions <n>', 'partitions of the topic', integerOption(1), 3)
  .option('--producers <n>', 'concurrent producers', integerOption(1), 2)
  .option('--min-run-ms <ms>', 'shortest time before a kill', integerOption(0), 150)
  .option('--max-run-ms <ms>', 'longest time before a kill', integerOption(1), 1500)
  .option('--full-check-every <n>', 'read every partition from the start this often (other checks read what is new)', integerOption(1), 25)
  .option('--seed <n>', 'seed for sizes and moments', integerOption(0))
  .option('--dir <dir>', 'data directory (kept); default: a temp dir, removed after a clean run')
  .parse();

const o = program.opts<{ cycles: number; acks: string; flushIntervalMs: number; partitions: number; producers: number; minRunMs: number; maxRunMs: number; fullCheckEvery: number; seed?: number; dir?: string }>();
const dataDir = o.dir ?? mkdtempSync(join(tmpdir(), 'sluice-torture-'));
const started = Date.now();
try {
  const report: TortureReport = await runTorture({
    dataDir,
    cycles: o.cycles,
    acks: o.acks === 'all' ? -1 : 1,
    ...(o.acks === '1' ? { flushIntervalMs: o.flushIntervalMs } : {}),
    partitions: o.partitions,
    producers: o.producers,
    runMs: [o.minRunMs, Math.max(o.minRunMs, o.maxRunMs)],
    fullCheckEvery: o.fullCheckEvery,
    ...(o.seed !== undefined ? { seed: o.seed } : {}),
    onCycle: (c) =>
      console.log(
        `cycle ${c.cycle}: ${c.acked} acked, ${c.unacked} unacked, ${c.records} records, ${c.truncatedBytes} B truncated, restart ${c.restartMs.toFixed(0)} ms${c.killedInStartup ? ' (killed once in start-up)' : ''}, ${c.fullCheck ? 'full' : 'new'} check ${c.checkMs.toFixed(0)} ms`,
      ),
  });
  console.log(JSON.stringify({ ...report, records: String(report.records), acks: o.acks, seconds: (Date.now() - started) / 1000, dataDir }, null, 2));
  if (report.indexProblems.length > 0) {
    console.error(`index problems:\n${report.indexProblems.join('\n')}`);
    process.exitCode = 1;
  } else if (!o.dir) rmSync(dataDir, { recursive: true, force: true });
} catch (err) {
  console.error(`torture failed (data kept in ${dataDir}): ${err instanceof Error ? err.message : String(err)}`);
  process.exitCode = 1;
}
