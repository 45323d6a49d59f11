// The cluster benchmarks run end to end as smoke tests: `bench failover --quick` (a leader
// SIGKILL, a new leader's first acknowledgement, every acknowledged batch verified in the log) and
// `bench produce --quick --replication-factor 1,3` (each cell's topic holds exactly the records
// acknowledged, at its leader's high watermark); both write JSON and a chart. Speed is not asserted.

import t from 'tap';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { MAIN } from './helpers/broker.js';
import { tmpDir } from './helpers/tmp.js';

t.test('bench failover --quick: one leader kill, timed and verified', async (t) => {
  const dir = tmpDir(t);
  const json = join(dir, 'failover.json');
  const chart = join(dir, 'failover.svg');
  const run = spawnSync(process.execPath, [MAIN, 'bench', 'failover', '--quick', '--session-timeout-ms', '2000', '--dir', dir, '--json', json, '--chart', chart], { encoding: 'utf8', timeout: 180_000 });
  t.equal(run.status, 0, run.stderr);
  const report = JSON.parse(readFileSync(json, 'utf8')) as { trials: Array<{ killedLeader: number; newLeader: number; failoverMs: number; electedMs: number }>; acknowledgedBatches: number };
  t.equal(report.trials.length, 1);
  const [trial] = report.trials;
  t.not(trial!.newLeader, trial!.killedLeader, 'another broker leads');
  t.ok(trial!.electedMs > 0 && trial!.failoverMs >= trial!.electedMs, `elected after ${trial!.electedMs.toFixed(0)} ms, acknowledged after ${trial!.failoverMs.toFixed(0)} ms`);
  t.ok(report.acknowledgedBatches > 20, 'the batches before and after the kill were verified');
  t.match(readFileSync(chart, 'utf8'), /^<svg/);
  t.match(run.stdout, /^\| median \|/m);
});

t.test('bench produce --quick --replication-factor 1,3: every cell verified at the high watermark', async (t) => {
  const dir = tmpDir(t);
  const json = join(dir, 'produce.json');
  const chart = join(dir, 'produce.svg');
  const run = spawnSync(process.execPath, [MAIN, 'bench', 'produce', '--quick', '--acks', '1,all', '--replication-factor', '1,3', '--dir', dir, '--json', json, '--chart', chart], { encoding: 'utf8', timeout: 180_000 });
  t.equal(run.status, 0, run.stderr);
  const report = JSON.parse(readFileSync(json, 'utf8')) as { runs: Array<{ producers: number; acks: number | string; replicationFactor?: number; records: number; recordsPerSec: number }> };
  const cells = ['acks=1 rf=1', 'acks=1 rf=3', 'acks=all rf=1', 'acks=all rf=3'];
  t.same(report.runs.map((r) => `x${r.producers} acks=${r.acks} rf=${r.replicationFactor}`), [...cells.map((c) => `x1 ${c}`), ...cells.map((c) => `x2 ${c}`)]);
  for (const r of report.runs) t.ok(r.records > 0 && r.recordsPerSec > 0, `acks=${r.acks} rf=${r.replicationFactor}: records acknowledged and held`);
  t.match(readFileSync(chart, 'utf8'), /^<svg/);
  t.match(run.stdout, /^\| 1 \| all \| 3 \| \d+ MB\/s/m);
});
