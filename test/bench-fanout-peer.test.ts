// `sluice bench fanout --quick --peer kafka` runs Apache Kafka (from Maven Central, KRaft, stock
// settings) beside Sluice with identical Kafka Fetch consumers, at 1 and 8 partitions: every cell's
// consumers reached the end of every partition with CRC-checked batches (the benchmark throws
// otherwise, and also when the two brokers' end offsets differ after the same load), and the report
// pairs each Kafka cell with Sluice's. Speed is not asserted: this is the harness's smoke run.

import t from 'tap';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { MAIN } from './helpers/broker.js';
import { tmpDir } from './helpers/tmp.js';

t.test('bench fanout --quick --peer kafka measures Apache Kafka beside Sluice and writes the comparison', async (t) => {
  const dir = tmpDir(t);
  const json = join(dir, 'fanout-peer.json');
  const chart = join(dir, 'fanout-peer.svg');
  const args = [MAIN, 'bench', 'fanout', '--quick', '--peer', 'kafka', '--paths', 'sendfile', '--partitions', '1,8', '--dir', dir, '--json', json, '--chart', chart];
  // The first run on a machine resolves Kafka's jars from Maven Central.
  const run = spawnSync(process.execPath, args, { encoding: 'utf8', timeout: 400_000 });
  t.equal(run.status, 0, run.stderr);
  const report = JSON.parse(readFileSync(json, 'utf8')) as {
    peer: { name: string; version: string; startSeconds: number };
    config: { topics: Array<{ partitions: number; endOffsets: string[] }> };
    runs: Array<{ broker: string; protocol: string; partitions: number; consumers: number; gibPerSec: number; brokerCpuSecPerGib: number; threadCpuSecPerGib: Record<string, number> }>;
    comparison: Array<{ sluiceProtocol: string; partitions: number; consumers: number; ratio: { gibPerSec: number; brokerCpuSecPerGib: number } }>;
  };
  t.match(report.peer, { name: 'Apache Kafka', version: /^4\./ });
  t.same(report.config.topics.map((x) => [x.partitions, x.endOffsets.length]), [[1, 1], [8, 8]]);
  const kafka = report.runs.filter((r) => r.broker === 'kafka');
  t.same(kafka.map((r) => `${r.partitions}x${r.consumers}`), ['1x1', '1x16', '8x1', '8x16'], 'Kafka measured in every cell');
  for (const r of kafka) t.ok(r.gibPerSec > 0 && r.brokerCpuSecPerGib > 0 && Object.keys(r.threadCpuSecPerGib).length > 0, `Kafka ${r.partitions}x${r.consumers} has its figures`);
  t.same(report.comparison.map((c) => `${c.sluiceProtocol} ${c.partitions}x${c.consumers}`), ['kafka 1x1', 'kafka 1x16', 'kafka 8x1', 'kafka 8x16'], 'each Kafka cell paired with Sluice\'s Kafka door');
  for (const c of report.comparison) t.ok(c.ratio.gibPerSec > 0 && c.ratio.brokerCpuSecPerGib > 0);
  t.match(run.stdout, /^\| Kafka Fetch v4 \(identical\) \| 8 \| 16 \| [\d.]+ \/ [\d.]+ \([\d.]+\) \|/m, 'the Sluice vs Kafka table');
  t.match(readFileSync(chart, 'utf8'), /^<svg/);
});
