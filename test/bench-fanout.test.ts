// `sluice bench fanout --quick` (the broker fan-out benchmark) runs end to end as a smoke test:
// every cell's consumers reached the end of the topic with CRC-checked batches (the benchmark
// throws otherwise), and it writes the JSON other tools read and a chart. Speed is not asserted.

import t from 'tap';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { MAIN } from './helpers/broker.js';
import { tmpDir } from './helpers/tmp.js';

t.test('bench fanout --quick verifies every path and writes JSON and SVG', async (t) => {
  const dir = tmpDir(t);
  const json = join(dir, 'fanout.json');
  const chart = join(dir, 'fanout.svg');
  const run = spawnSync(process.execPath, [MAIN, 'bench', 'fanout', '--quick', '--dir', dir, '--json', json, '--chart', chart], { encoding: 'utf8', timeout: 120_000 });
  t.equal(run.status, 0, run.stderr);
  const report = JSON.parse(readFileSync(json, 'utf8')) as {
    machine: { cores: number };
    config: { consumers: number[]; paths: string[] };
    runs: Array<{ path: string; consumers: number; gibPerSec: number; brokerCpuSecPerGib: number; consumerCpuSecPerGib: number; fetchP50Ms: number; fetchP99Ms: number; brokerRssMiB: number; pctOfRaw: number }>;
    raw: Array<{ consumers: number; gibPerSec: number; senderCpuSecPerGib: number }>;
  };
  t.same(report.config.consumers, [1, 16]);
  t.same(report.runs.map((r) => `${r.path}x${r.consumers}`), ['sendfile', 'mmap', 'copy', 'node'].flatMap((p) => [`${p}x1`, `${p}x16`]));
  for (const r of report.runs) {
    t.ok(r.gibPerSec > 0 && r.brokerCpuSecPerGib > 0 && r.consumerCpuSecPerGib > 0 && r.fetchP99Ms >= r.fetchP50Ms && r.brokerRssMiB > 0 && r.pctOfRaw > 0, `${r.path} x${r.consumers} has every figure`);
  }
  t.same(report.raw.map((r) => r.consumers), [1, 16]);
  t.match(readFileSync(chart, 'utf8'), /^<svg/);
  t.match(run.stdout, /^\| sendfile \| [\d.]+ GiB\/s/m);
});
