// `sluice bench produce --quick --peer kafka`: the same Kafka-protocol producer against Sluice's
// Kafka listener and Apache Kafka, acks=1 and all; a cell counts only when the topic's end offsets
// add up to the records acknowledged (the benchmark throws otherwise). Speed is not asserted.

import t from 'tap';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { MAIN } from './helpers/broker.js';
import { tmpDir } from './helpers/tmp.js';

t.test('bench produce --quick --peer kafka produces into both brokers and writes the comparison', async (t) => {
  const dir = tmpDir(t);
  const json = join(dir, 'produce-peer.json');
  const chart = join(dir, 'produce-peer.svg');
  const run = spawnSync(process.execPath, [MAIN, 'bench', 'produce', '--quick', '--peer', 'kafka', '--dir', dir, '--json', json, '--chart', chart], { encoding: 'utf8', timeout: 400_000 });
  t.equal(run.status, 0, run.stderr);
  const report = JSON.parse(readFileSync(json, 'utf8')) as {
    peer: { name: string };
    runs: Array<{ broker: string; recordBytes: number; acks: number | string; records: number; mid: { recordsPerSec: number; brokerCpuSecPerGib: number } }>;
  };
  t.equal(report.peer.name, 'Apache Kafka');
  t.same(report.runs.map((r) => `${r.broker} ${r.recordBytes} ${r.acks}`), ['sluice 1024 1', 'kafka 1024 1', 'sluice 1024 all', 'kafka 1024 all']);
  for (const r of report.runs) t.ok(r.records > 0 && r.mid.recordsPerSec > 0 && r.mid.brokerCpuSecPerGib > 0, `${r.broker} acks=${r.acks} produced and was measured`);
  t.match(run.stdout, /^\| 1024 \| all \(Sluice fsyncs, Kafka does not\) \| \d+k \/ \d+k \(/m);
  t.match(readFileSync(chart, 'utf8'), /^<svg/);
});
