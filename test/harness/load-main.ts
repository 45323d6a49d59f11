// `npm run load`: the connections and stalled-consumer scenarios of test/harness/load.ts at the issue's
// sizes (1,000 connections for 60 s; 64 readers), printed and written as JSON: to a fresh temp dir
// (printed) unless --json names a file, and to the published bench/results/load.json only with
// --publish, as the `sluice bench` commands do (a short trial run must not replace the README's figures).

import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Command } from 'commander';
import { runConnectionsLoad, runStalledLoad } from './load.js';
import { machineInfo } from './machine.js';
import { integerOption } from './util.js';

const o = new Command('load')
  .description('hold many connections on one broker, and measure a stalled consumer\'s effect on the others')
  .option('--connections <n>', 'connections in all', integerOption(1), 1000)
  .option('--consumers <n>', 'long-polling consumers among them', integerOption(1), 200)
  .option('--producers <n>', 'producers among them', integerOption(1), 20)
  .option('--seconds <n>', 'how long they run', integerOption(1), 60)
  .option('--records-per-sec <n>', '1 KiB records per second, all producers together', integerOption(1), 2000)
  .option('--readers <n>', 'readers beside the stalled consumer', integerOption(1), 63)
  .option('--topic-mib <n>', 'topic the readers read', integerOption(1), 256)
  .option('--rounds <n>', 'rounds with and without the stalled consumer', integerOption(1), 3)
  .option('--json <file>', 'report file (default: a fresh temp dir)')
  .option('--publish', 'write the published report, bench/results/load.json')
  .option('--dir <dir>', 'where data dirs go', tmpdir())
  .parse()
  .opts<{ connections: number; consumers: number; producers: number; seconds: number; recordsPerSec: number; readers: number; topicMib: number; rounds: number; json?: string; publish?: boolean; dir: string }>();

if (o.publish && o.json) {
  console.error('load: --publish writes bench/results/load.json; give --json or --publish, not both');
  process.exit(2);
}
const report = o.publish ? 'bench/results/load.json' : (o.json ?? join(mkdtempSync(join(tmpdir(), 'sluice-load-')), 'load.json'));

console.log(`connections: ${o.connections} (${o.consumers} consumers, ${o.producers} producers) for ${o.seconds} s ...`);
const connections = await runConnectionsLoad({ dir: o.dir, connections: o.connections, consumers: o.consumers, producers: o.producers, seconds: o.seconds, recordsPerSec: o.recordsPerSec });
console.log(JSON.stringify(connections, null, 2));
console.log(`stalled: ${o.readers} readers of ${o.topicMib} MiB, with and without a stalled consumer, ${o.rounds} rounds ...`);
const stalled = await runStalledLoad({ dir: o.dir, readers: o.readers, topicMiB: o.topicMib, rounds: o.rounds });
console.log(JSON.stringify(stalled, null, 2));
writeFileSync(report, `${JSON.stringify({ machine: machineInfo(), config: o, connections, stalled }, null, 2)}\n`);
console.log(`report: ${report}`);
const failed = connections.droppedConnections > 0 || connections.producerErrors > 0 || connections.consumerErrors.length > 0 || connections.fds.after > connections.fds.before;
if (failed) process.exitCode = 1;
