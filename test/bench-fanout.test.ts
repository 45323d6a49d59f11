// `sluice bench fanout --quick --protocol kafka,subscribe --kafka-fetch-version 11,13` (the broker fan-out benchmark, through
// Sluice's protocol, its push subscriptions and the Kafka listener with Fetch v11 and flexible v13 by topic id) runs end to end as a smoke test: every cell's consumers reached
// the end of the topic with CRC-checked batches (the benchmark throws otherwise), and it writes
// the JSON other tools read and a chart. Speed is not asserted.

import t from 'tap';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { MAIN } from './helpers/broker.js';
import { tmpDir } from './helpers/tmp.js';

t.test('bench fanout --quick --protocol kafka,subscribe (Kafka Fetch v11 and v13) verifies every path through both front doors and subscriptions and writes JSON and SVG', async (t) => {
  const dir = tmpDir(t);
  const json = join(dir, 'fanout.json');
  const chart = join(dir, 'fanout.svg');
  const run = spawnSync(process.execPath, [MAIN, 'bench', 'fanout', '--quick', '--protocol', 'kafka,subscribe', '--kafka-fetch-version', '11,13', '--dir', dir, '--json', json, '--chart', chart], { encoding: 'utf8', timeout: 120_000 });
  t.equal(run.status, 0, run.stderr);
  const report = JSON.parse(readFileSync(json, 'utf8')) as {
    machine: { cores: number };
    peer: null;
    config: { consumers: number[]; paths: string[]; kafkaFetchVersions: number[] };
    runs: Array<{ protocol: string; kafkaFetchVersion?: number; path: string; consumers: number; gibPerSec: number; brokerCpuSecPerGib: number; consumerCpuSecPerGib: number; fetchP50Ms: number; fetchP99Ms: number; brokerRssMiB: number; pctOfRaw: number }>;
    raw: Array<{ consumers: number; gibPerSec: number; senderCpuSecPerGib: number }>;
  };
  t.same(report.config.consumers, [1, 16]);
  t.same(report.config.kafkaFetchVersions, [11, 13], 'the Kafka consumers sent Fetch v11 (sessions off, leader epoch -1) and v13 (flexible, the topic by id), a cell each');
  t.equal(report.peer, null);
  t.same(
    report.runs.map((r) => `${r.protocol}${r.kafkaFetchVersion ?? ''} ${r.path}x${r.consumers}`).sort(),
    ['sluice', 'subscribe', 'kafka11', 'kafka13'].flatMap((protocol) => ['sendfile', 'mmap', 'copy', 'node'].flatMap((p) => [`${protocol} ${p}x1`, `${protocol} ${p}x16`])).sort(),
    'every path and consumer count, through Sluice\'s protocol, its subscriptions and Kafka\'s',
  );
  for (const r of report.runs) {
    t.ok(r.gibPerSec > 0 && r.brokerCpuSecPerGib > 0 && r.consumerCpuSecPerGib > 0 && r.fetchP99Ms >= r.fetchP50Ms && r.brokerRssMiB > 0 && r.pctOfRaw > 0, `${r.protocol} ${r.path} x${r.consumers} has every figure`);
  }
  t.ok(report.runs.filter((r) => r.protocol === 'subscribe').every((r) => r.fetchP99Ms === 0), 'subscribers make no fetches to time');
  t.same(report.raw.map((r) => r.consumers), [1, 16]);
  t.match(readFileSync(chart, 'utf8'), /^<svg/);
  t.match(run.stdout, /^\| sendfile \| [\d.]+ GiB\/s/m);
  t.match(run.stdout, /^\| sendfile \(kafka v11\) \| [\d.]+ GiB\/s/m);
  t.match(run.stdout, /^\| sendfile \(kafka v13\) \| [\d.]+ GiB\/s/m);
  t.match(run.stdout, /^\| sendfile \(subscribe\) \| [\d.]+ GiB\/s.*no fetches/m);
});
