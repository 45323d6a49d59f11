// `npm run torture -- --cycles N`: the crash loop of test/crash-loop.test.ts, longer; with
// `--cluster`, the cluster's (cluster-torture.ts: etcd and three brokers struck one at a time).
// Prints a line per cycle and a JSON summary; exits 1 with the problem when a check fails.

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Command, Option } from 'commander';
import { parseFaults, runClusterTorture } from './cluster-torture.js';
import { runTorture, type TortureReport } from './torture.js';
import { integerOption } from './util.js';

const program = new Command('torture')
  .description('SIGKILL the broker at random moments while producers write and a committer commits; check every acknowledged record after each restart')
  .option('--cluster', 'strike the brokers of a cluster (etcd and --brokers brokers, an RF=3 topic) instead of a single broker')
  .option('--network', 'with --cluster: etcd and each broker in a network namespace of its own (root), and network faults too (isolate, cut-etcd, cut-peers)')
  .option('--verbose', 'with --cluster: print each step as it starts (on stderr)')
  .option('--faults <list>', 'with --cluster: the faults of the first cycles, kind:target:ms,... (kind kill, kill-wipe, pause, etcd-restart, and with --network isolate, cut-etcd, cut-peers; target leader, follower, coordinator)')
  .option('--brokers <n>', 'with --cluster: brokers', integerOption(3), 3)
  .option('--cycles <n>', 'kill and restart this many times (default 500; 50 with --cluster)', integerOption(1))
  .addOption(new Option('--acks <acks>', 'acks of the producers (all: fsynced; 1: page cache, with --flush-interval-ms on the broker)').choices(['all', '1']).default('all'))
  .option('--flush-interval-ms <ms>', 'broker flush interval with --acks 1', integerOption(1), 50)
  .option('--partitions <n>', 'partitions of the topic', integerOption(1), 3)
  .option('--producers <n>', 'concurrent producers', integerOption(1), 2)
  .option('--min-run-ms <ms>', 'shortest time before a kill (default 150; 500 with --cluster)', integerOption(0))
  .option('--max-run-ms <ms>', 'longest time before a kill (default 1500; 2000 with --cluster)', integerOption(1))
  .option('--full-check-every <n>', 'read every partition from the start this often (other checks read what is new; default 25, 10 with --cluster)', integerOption(1))
  .option('--seed <n>', 'seed for sizes and moments', integerOption(0))
  .option('--dir <dir>', 'data directory (kept; with --cluster, the brokers\' and etcd\'s go under it); default: a temp dir, removed after a clean run')
  .parse();

const o = program.opts<{ cluster?: boolean; network?: boolean; verbose?: boolean; faults?: string; brokers: number; cycles?: number; acks: string; flushIntervalMs: number; partitions: number; producers: number; minRunMs?: number; maxRunMs?: number; fullCheckEvery?: number; seed?: number; dir?: string }>();
if (o.cluster) await clusterTorture();
else await singleTorture();

/** The cluster's loop; its processes are stopped at the end, its data kept (with the brokers' logs) when a check fails. */
async function clusterTorture(): Promise<void> {
  const teardowns: Array<() => void | Promise<void>> = [];
  const started = Date.now();
  const minRunMs = o.minRunMs ?? 500;
  const dataRoot = o.dir ?? mkdtempSync(join(tmpdir(), 'sluice-cluster-torture-'));
  try {
    const report = await runClusterTorture({
      teardown: { teardown: (fn) => void teardowns.push(fn) },
      dataRoot,
      cycles: o.cycles ?? 50,
      brokers: o.brokers,
      network: o.network ?? false,
      ...(o.faults ? { faults: parseFaults(o.faults) } : {}),
      ...(o.verbose ? { log: (line: string) => console.error(`${new Date().toISOString()} ${line}`) } : {}),
      partitions: o.partitions,
      runMs: [minRunMs, Math.max(minRunMs, o.maxRunMs ?? 2_000)],
      fullCheckEvery: o.fullCheckEvery ?? 10,
      ...(o.seed !== undefined ? { seed: o.seed } : {}),
      onCycle: (c) =>
        console.log(`cycle ${c.cycle}: ${c.fault}; healed in ${c.healMs.toFixed(0)} ms; ${c.acked} acked, ${c.unacked} unacked, ${c.records} records, ${c.consumed} consumed, ${c.fullCheck ? 'full' : 'new'} check ${c.checkMs.toFixed(0)} ms`),
    });
    console.log(JSON.stringify({ ...report, records: String(report.records), seconds: (Date.now() - started) / 1000, ...(o.dir ? { dataRoot } : {}) }, null, 2));
    if (report.indexProblems.length > 0) {
      console.error(`index problems:\n${report.indexProblems.join('\n')}`);
      process.exitCode = 1;
    }
  } catch (err) {
    console.error(`cluster torture failed (data and broker logs kept in ${dataRoot}): ${err instanceof Error ? err.message : String(err)}`);
    process.exitCode = 1;
  } finally {
    for (const fn of teardowns.reverse()) await Promise.resolve(fn()).catch(() => undefined);
    if (!process.exitCode && !o.dir) rmSync(dataRoot, { recursive: true, force: true });
  }
}

async function singleTorture(): Promise<void> {
  const minRunMs = o.minRunMs ?? 150;
  const dataDir = o.dir ?? mkdtempSync(join(tmpdir(), 'sluice-torture-'));
  const started = Date.now();
  try {
    const report: TortureReport = await runTorture({
      dataDir,
      cycles: o.cycles ?? 500,
      acks: o.acks === 'all' ? -1 : 1,
      ...(o.acks === '1' ? { flushIntervalMs: o.flushIntervalMs } : {}),
      partitions: o.partitions,
      producers: o.producers,
      runMs: [minRunMs, Math.max(minRunMs, o.maxRunMs ?? 1_500)],
      fullCheckEvery: o.fullCheckEvery ?? 25,
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
}
