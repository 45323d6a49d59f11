// `sluice broker` (what `npm start` runs) opens every partition in the data directory, recovers a
// damaged tail, logs what it did as JSON, and leaves the logs closed cleanly.

import t from 'tap';
import { spawnSync } from 'node:child_process';
import { appendFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { PartitionLog } from '../src/storage/partition-log.js';
import { batchOf, tmpDir } from './helpers/tmp.js';

const main = fileURLToPath(new URL('../dist/src/cli/main.js', import.meta.url));

t.test('broker recovers each partition and reports it', async (t) => {
  const data = tmpDir(t);
  const healthy = join(data, 'orders-0');
  const damaged = join(data, 'my-topic-3');
  for (const dir of [healthy, damaged]) {
    const log = await PartitionLog.open(dir);
    for (let i = 0; i < 10; i++) log.append(batchOf(i, 2));
    if (dir === healthy) await log.close();
    else await log.flush(); // left open: an unclean stop
  }
  appendFileSync(join(damaged, '00000000000000000000.log'), Buffer.from('torn tail bytes'));
  mkdirSync(join(data, 'not-a-partition'));

  const run = spawnSync(process.execPath, [main, 'broker', '--data', data], { encoding: 'utf8' });
  t.equal(run.status, 0, run.stderr);
  const lines = run.stdout.trim().split('\n').map((l) => JSON.parse(l));
  const opened = lines.filter((l) => l.msg === 'partition log open');
  t.same(opened.map((l) => l.partition).sort(), ['my-topic-3', 'orders-0']);
  t.ok(opened.every((l) => l.highWatermark === '20'));
  t.same(opened.find((l) => l.partition === 'orders-0')?.cleanShutdown, true);
  const warning = lines.find((l) => l.msg === 'truncated a damaged log tail');
  t.equal(warning?.partition, 'my-topic-3');
  t.equal(warning?.droppedBytes, 15);

  const reopened = await PartitionLog.open(damaged);
  t.ok(reopened.recoveryReport.cleanShutdown, 'the broker closed what it opened cleanly');
  t.equal(reopened.highWatermark, 20n);
  await reopened.close();
});

t.test('a bad option is a clear error', async (t) => {
  const run = spawnSync(process.execPath, [main, 'bench', 'append', '--seconds', 'soon'], { encoding: 'utf8' });
  t.not(run.status, 0);
  t.match(run.stderr, /expected a positive number, got "soon"/);
});

t.test('the broker takes a fetch path and refuses an unknown one', async (t) => {
  const data = tmpDir(t);
  const ok = spawnSync(process.execPath, [main, 'broker', '--data', data, '--fetch-path', 'mmap'], { encoding: 'utf8' });
  t.equal(ok.status, 0, ok.stderr);
  const ready = ok.stdout.trim().split('\n').map((l) => JSON.parse(l)).find((l) => l.msg.startsWith('storage ready'));
  t.equal(ready?.fetchPath, 'mmap');
  const bad = spawnSync(process.execPath, [main, 'broker', '--data', data, '--fetch-path', 'teleport'], { encoding: 'utf8' });
  t.not(bad.status, 0);
  t.match(bad.stderr, /--fetch-path.*teleport.*sendfile, mmap, copy, node/s);
});
