// `sluice bench produce --quick` runs end to end as a smoke test: every cell's topic held exactly
// the records its producers saw acknowledged (the benchmark throws otherwise), and it writes the
// JSON other tools read and a chart. Speed is not asserted.

import t from 'tap';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { MAIN } from './helpers/broker.js';
import { tmpDir } from './helpers/tmp.js';

t.test('bench produce --quick verifies every cell and writes JSON and SVG', async (t) => {
  const dir = tmpDir(t);
  const json = join(dir, 'produce.json');
  const chart = join(dir, 'produce.svg');
  const run = spawnSync(process.execPath, [MAIN, 'bench', 'produce', '--quick', '--dir', dir, '--json', json, '--chart', chart], { encoding: 'utf8', timeout: 120_000 });
  t.equal(run.status, 0, run.stderr);
  const report = JSON.parse(readFileSync(json, 'utf8')) as {
    config: { recordBytes: number[]; producers: number[]; acks: Array<number | string> };
    runs: Array<{ recordBytes: number; producers: number; acks: number | string; recordsPerSec: number; mbPerSec: number; brokerCpuSecPerGib: number; clientCpuSecPerGib: number; ackP50Ms: number; ackP99Ms: number; records: number }>;
  };
  t.same(report.runs.map((r) => `${r.recordBytes}B x${r.producers} acks=${r.acks}`), ['1024B x1 acks=1', '1024B x1 acks=all', '1024B x2 acks=1', '1024B x2 acks=all']);
  for (const r of report.runs) {
    t.ok(r.records > 0 && r.recordsPerSec > 0 && Math.abs(r.mbPerSec - (r.recordsPerSec * r.recordBytes) / 1e6) < 1e-6 * r.mbPerSec + 1e-9, `${r.producers} x acks=${r.acks}: records/s and MB/s agree`);
    t.ok(r.brokerCpuSecPerGib > 0 && r.clientCpuSecPerGib > 0 && r.ackP99Ms >= r.ackP50Ms, 'CPU and latency figures');
  }
  t.match(readFileSync(chart, 'utf8'), /^<svg/);
  t.match(run.stdout, /^\| 1 \| 1 \| \d+ MB\/s/m);
});
