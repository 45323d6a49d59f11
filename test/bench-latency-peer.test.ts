// `sluice bench latency --quick --peer kafka`: the same Kafka-protocol producer, measuring consumer
// and native fan-out consumers against Sluice's Kafka listener and Apache Kafka; a cell counts only
// when every record arrived in order and every fan-out consumer reached the end with CRC-checked
// batches (the benchmark throws otherwise). Latency is not asserted.

import t from 'tap';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { MAIN } from './helpers/broker.js';
import { tmpDir } from './helpers/tmp.js';

t.test('bench latency --quick --peer kafka times the same stream through both brokers', async (t) => {
  const dir = tmpDir(t);
  const json = join(dir, 'latency-peer.json');
  const chart = join(dir, 'latency-peer.svg');
  const run = spawnSync(process.execPath, [MAIN, 'bench', 'latency', '--quick', '--peer', 'kafka', '--dir', dir, '--json', json, '--chart', chart], { encoding: 'utf8', timeout: 400_000 });
  t.equal(run.status, 0, run.stderr);
  const report = JSON.parse(readFileSync(json, 'utf8')) as {
    peer: { name: string };
    runs: Array<{ broker: string; fanout: number; records: number; p50Ms: number; p99Ms: number; fanoutFetches: number }>;
  };
  t.equal(report.peer.name, 'Apache Kafka');
  t.same(report.runs.map((r) => `${r.broker} ${r.fanout}`), ['sluice 0', 'kafka 0', 'sluice 16', 'kafka 16']);
  for (const r of report.runs) {
    t.ok(r.records === 2000 && r.p99Ms >= r.p50Ms && r.p50Ms > 0, `${r.broker} fan-out ${r.fanout}: every record timed`);
    if (r.fanout > 0) t.ok(r.fanoutFetches > 0, `${r.broker}: the fan-out consumers fetched`);
  }
  t.match(run.stdout, /^\| 16 \| [\d.]+ \/ [\d.]+ \|/m);
  t.match(readFileSync(chart, 'utf8'), /^<svg/);
});
