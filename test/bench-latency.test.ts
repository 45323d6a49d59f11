// `sluice bench latency --quick` runs end to end as a smoke test: the measuring consumer got every
// record in order and every fan-out consumer reached the end with CRC-checked batches (the
// benchmark throws otherwise), and it writes JSON and a chart. Latency is not asserted.

import t from 'tap';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { MAIN } from './helpers/broker.js';
import { tmpDir } from './helpers/tmp.js';

t.test('bench latency --quick verifies every cell and writes JSON and SVG', async (t) => {
  const dir = tmpDir(t);
  const json = join(dir, 'latency.json');
  const chart = join(dir, 'latency.svg');
  const run = spawnSync(process.execPath, [MAIN, 'bench', 'latency', '--quick', '--dir', dir, '--json', json, '--chart', chart], { encoding: 'utf8', timeout: 120_000 });
  t.equal(run.status, 0, run.stderr);
  const report = JSON.parse(readFileSync(json, 'utf8')) as {
    runs: Array<{ mode: string; fanout: number; records: number; achievedPerSec: number; p50Ms: number; p99Ms: number; p999Ms: number; maxMs: number; fanoutMBPerSec: number; fanoutFetches: number }>;
  };
  t.same(report.runs.map((r) => [r.mode, r.fanout, r.records]), [['fetch', 0, 2000], ['subscribe', 0, 2000], ['fetch', 16, 2000], ['subscribe', 16, 2000]], 'both consume modes per fan-out');
  for (const r of report.runs) {
    t.ok(r.p50Ms > 0 && r.p50Ms <= r.p99Ms && r.p99Ms <= r.p999Ms && r.p999Ms <= r.maxMs, `${r.mode}, fan-out ${r.fanout}: ordered percentiles`);
    t.ok(r.achievedPerSec > 0, 'a rate');
  }
  t.same(report.runs.slice(0, 2).map((r) => r.fanoutFetches), [0, 0], 'no fan-out consumers in the first cells');
  for (const r of report.runs.slice(2)) t.ok(r.fanoutFetches >= 16 && r.fanoutMBPerSec > 0, `${r.mode}: 16 fan-out consumers were served`);
  t.match(readFileSync(chart, 'utf8'), /^<svg/);
  t.match(run.stdout, /^\| fetch \| 16 \| 2000 \/ \d+ \|/m);
  t.match(run.stdout, /^\| subscribe \| 16 \| 2000 \/ \d+ \| .* pushes \|/m);
});
