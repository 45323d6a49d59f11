// `sluice broker` as a process: ready line, settings and their precedence, clear failures at start
// (port taken, data directory locked or unusable), recovery reports, graceful stop and restart.

import t from 'tap';
import { createHash } from 'node:crypto';
import { spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { appendFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { BROKER_SETTINGS, envName } from '../src/app/settings.js';
import { join } from 'node:path';
import { ApiKey } from '../src/protocol/messages.js';
import { decodeRecordBatches } from '../src/protocol/record-batch.js';
import { PartitionLog } from '../src/storage/partition-log.js';
import { MAIN, createTopic, fetch, produce, startBroker } from './helpers/broker.js';
import { batchOf, tmpDir } from './helpers/tmp.js';

type Line = Record<string, unknown>;
const logged = (lines: Array<Line | string>, msg: string) => lines.filter((l): l is Line => typeof l === 'object' && l.msg === msg);
/** Partitions opened at start, leaving out the broker's internal topic. */
const opened = (lines: Array<Line | string>) => logged(lines, 'partition log open').filter((l) => !String(l.partition).startsWith('__consumer_offsets'));

t.test('npm start defaults: 127.0.0.1:9292, Kafka on 9092, metrics on 9293, data in ./data', async (t) => {
  const cwd = tmpDir(t);
  const proc = spawn(process.execPath, [MAIN, 'broker', '--log-format', 'json'], { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
  t.teardown(() => void proc.kill('SIGKILL'));
  let out = '';
  proc.stdout.setEncoding('utf8');
  for await (const chunk of proc.stdout) {
    out += chunk;
    if (out.includes('sluice listening on')) break;
  }
  t.match(out, /^sluice listening on 127\.0\.0\.1:9292 \(kafka on 127\.0\.0\.1:9092, metrics on http:\/\/127\.0\.0\.1:9293\/metrics\)$/m);
  const started = out.split('\n').map((l) => (l.startsWith('{') ? (JSON.parse(l) as Line) : null)).find((l) => l?.msg === 'starting sluice broker');
  t.equal((started?.config as { dataDir: string }).dataDir, join(cwd, 'data'));
  proc.kill('SIGTERM');
  const [code] = await once(proc, 'exit');
  t.equal(code, 0);
});

t.test('the broker recovers each partition directory it finds and reports it', async (t) => {
  const data = tmpDir(t);
  const healthy = join(data, 'orders-0');
  const damaged = join(data, 'my-topic-1');
  for (const dir of [healthy, damaged]) {
    const log = await PartitionLog.open(dir);
    for (let i = 0; i < 10; i++) log.append(batchOf(i, 2));
    if (dir === healthy) await log.close();
    else await log.flush(); // left open: an unclean stop
  }
  appendFileSync(join(damaged, '00000000000000000000.log'), Buffer.from('torn tail bytes'));
  mkdirSync(join(data, 'not-a-partition'));

  const broker = await startBroker(t, { dataDir: data });
  const partitions = opened(broker.lines);
  t.same(partitions.map((l) => l.partition).sort(), ['my-topic-0', 'my-topic-1', 'orders-0'], 'directories adopted as topics');
  t.equal(partitions.find((l) => l.partition === 'orders-0')?.cleanShutdown, true);
  t.equal(partitions.find((l) => l.partition === 'my-topic-1')?.highWatermark, '20');
  const warning = logged(broker.lines, 'truncated a damaged log tail')[0];
  t.equal(warning?.partition, 'my-topic-1');
  t.equal(warning?.droppedBytes, 15);
  const [p] = await fetch(await broker.connect(), [{ topic: 'my-topic', partition: 1, offset: 0n }]);
  t.equal(decodeRecordBatches(p!.records).length, 10, 'the recovered data is served');
  t.equal(await broker.stop(), 0);

  const reopened = await PartitionLog.open(damaged);
  t.ok(reopened.recoveryReport.cleanShutdown, 'the broker closed what it opened cleanly');
  t.equal(reopened.highWatermark, 20n);
  await reopened.close();
});

t.test('SIGTERM answers what is in flight, closes logs cleanly, and a restart keeps every acknowledged record', async (t) => {
  const data = tmpDir(t);
  const first = await startBroker(t, { dataDir: data });
  const c = await first.connect();
  await createTopic(c, 'kept', 2);
  for (let i = 0; i < 200; i++) await produce(c, [{ topic: 'kept', partition: i % 2, batches: batchOf(i, 3) }], 1);
  const parked = fetch(c, [{ topic: 'kept', partition: 0, offset: 300n }], { maxWaitMs: 60_000 });
  await new Promise((r) => setTimeout(r, 100));
  const startedMs = Date.now();
  t.equal(await first.stop('SIGTERM'), 0, 'exit 0');
  t.ok(Date.now() - startedMs < 10_000, 'the parked fetch did not hold the stop');
  const [answered] = await parked;
  t.equal(answered?.bytes, 0, 'the parked fetch was answered before the connection closed');
  t.ok(logged(first.lines, 'stopped cleanly').length === 1);

  const second = await startBroker(t, { dataDir: data });
  const partitions = opened(second.lines);
  t.equal(partitions.length, 2);
  t.ok(partitions.every((l) => l.cleanShutdown === true && l.highWatermark === '300'), 'both partitions clean, 300 records each');
  const c2 = await second.connect();
  for (const partition of [0, 1]) {
    const [p] = await fetch(c2, [{ topic: 'kept', partition, offset: 0n, maxBytes: 10 * 1024 * 1024 }]);
    const values = decodeRecordBatches(p!.records).flatMap((b) => b.records.map((r) => r.value!.toString()));
    t.equal(values.length, 300);
    t.equal(values[3], `batch ${partition + 2} record 0`);
  }
  await second.stop('SIGINT');
  t.equal(second.proc.exitCode, 0, 'SIGINT stops it the same way');
});

t.test('acks=all records survive SIGKILL', async (t) => {
  const data = tmpDir(t);
  const first = await startBroker(t, { dataDir: data });
  const c = await first.connect();
  await createTopic(c, 'durable', 1);
  for (let i = 0; i < 50; i++) await produce(c, [{ topic: 'durable', partition: 0, batches: batchOf(i) }], -1);
  await first.stop('SIGKILL');
  const second = await startBroker(t, { dataDir: data });
  t.equal(opened(second.lines)[0]?.cleanShutdown, false);
  const [p] = await fetch(await second.connect(), [{ topic: 'durable', partition: 0, offset: 0n, maxBytes: 1 << 20 }]);
  t.equal(p!.highWatermark, 50n);
});

t.test('a broker that cannot start says why and exits 1', async (t) => {
  const running = await startBroker(t);
  const run = (args: string[], env: NodeJS.ProcessEnv = {}) =>
    spawnSync(process.execPath, [MAIN, 'broker', '--log-format', 'json', '--metrics-port', 'off', '--kafka-port', '0', ...args], { encoding: 'utf8', env: { ...process.env, ...env } });

  const taken = run(['--data', tmpDir(t), '--port', String(running.port)]);
  t.equal(taken.status, 1);
  t.match(taken.stderr, /sluice: cannot start: the port is taken .*EADDRINUSE/);

  const kafkaTaken = run(['--data', tmpDir(t), '--port', '0', '--kafka-port', String(running.port)]);
  t.equal(kafkaTaken.status, 1);
  t.match(kafkaTaken.stderr, /the port is taken .*EADDRINUSE.*--kafka-port/, 'the Kafka listener\'s port too');

  const locked = run(['--data', running.dataDir, '--port', '0']);
  t.equal(locked.status, 1);
  t.match(locked.stderr, new RegExp(`cannot start: .*\\.lock is locked by another process \\(pid ${running.proc.pid}\\)`));

  const file = join(tmpDir(t), 'a-file');
  writeFileSync(file, 'not a directory');
  const unusable = run(['--data', join(file, 'data'), '--port', '0']);
  t.equal(unusable.status, 1);
  t.match(unusable.stderr, /cannot start: .*a-file\/data.*not a directory/i);

  const badFlag = run(['--port', 'ninety']);
  t.equal(badFlag.status, 1);
  t.match(badFlag.stderr, /--port: expected an integer in \[0, 65535\], got "ninety"/);
  const badEnv = run([], { SLUICE_FETCH_PATH: 'teleport' });
  t.match(badEnv.stderr, /SLUICE_FETCH_PATH: expected one of sendfile, mmap, copy, node, got "teleport"/);

  // Cluster settings that cannot work together are refused before anything starts.
  const cluster = ['--data', tmpDir(t), '--port', '0'];
  t.match(run([...cluster, '--node-id', '1']).stderr, /--node-id needs --etcd-endpoints/);
  t.match(run([...cluster, '--etcd-endpoints', 'http://127.0.0.1:2379']).stderr, /--etcd-endpoints needs --node-id/);
  t.match(run([...cluster, '--etcd-endpoints', 'etcd:2379', '--node-id', '1']).stderr, /--etcd-endpoints: expected etcd URLs like http:\/\/127\.0\.0\.1:2379/);
  // With --auth-file, a cluster member needs the token its followers replicate with, of a principal allowed to.
  const authFile = join(tmpDir(t), 'auth.json');
  const principal = (token: string, more: object = {}) => ({ tokenSha256: createHash('sha256').update(token).digest('hex'), read: ['*'], ...more });
  writeFileSync(authFile, JSON.stringify({ principals: { broker: principal('broker-secret', { replication: true }), reader: principal('reader-secret') } }));
  const member = [...cluster, '--etcd-endpoints', 'http://127.0.0.1:2379', '--node-id', '1', '--auth-file', authFile];
  const noToken = run(member);
  t.equal(noToken.status, 1);
  t.match(noToken.stderr, /--auth-file in a cluster needs --inter-broker-token/);
  t.match(run([...member, '--inter-broker-token', 'nobody']).stderr, /--inter-broker-token is not the token of any principal in the auth file/);
  t.match(run([...member, '--inter-broker-token', 'reader-secret']).stderr, /--inter-broker-token belongs to reader, which may not replicate: give it "replication": true/);
});

t.test('settings: flag beats environment beats config file beats default', async (t) => {
  const dir = tmpDir(t);
  const config = join(dir, 'sluice.json');
  writeFileSync(config, JSON.stringify({ defaultPartitions: 2, fetchPath: 'copy', segmentBytes: 4096, autoCreateTopics: true }));
  const broker = await startBroker(t, {
    args: ['--config', config, '--default-partitions', '5'],
    env: { SLUICE_FETCH_PATH: 'mmap', SLUICE_DEFAULT_PARTITIONS: '3' },
  });
  const started = logged(broker.lines, 'starting sluice broker')[0]!;
  const cfg = started.config as { fetchPath: string; autoCreateTopics: boolean; topicDefaults: { partitions: number; segmentBytes: number; retentionMs: number } };
  t.equal(cfg.topicDefaults.partitions, 5, 'flag');
  t.equal(cfg.fetchPath, 'mmap', 'environment');
  t.equal(cfg.topicDefaults.segmentBytes, 4096, 'file');
  t.equal(cfg.autoCreateTopics, true, 'file');
  t.equal(cfg.topicDefaults.retentionMs, 7 * 24 * 3600 * 1000, 'default');
  t.same((started.sources as Record<string, string>).fetchPath, 'env');
  const c = await broker.connect();
  const meta = await c.request(ApiKey.Metadata, 0, { topics: ['auto'] });
  t.equal((meta.body as { topics: Array<{ partitions: unknown[] }> }).topics[0]?.partitions.length, 5, 'auto-created with the default partitions');

  writeFileSync(config, JSON.stringify({ prot: 1 }));
  const bad = spawnSync(process.execPath, [MAIN, 'broker', '--config', config], { encoding: 'utf8' });
  t.equal(bad.status, 1);
  t.match(bad.stderr, /unknown settings prot/);
});

t.test('the README documents every broker setting with its flag and environment variable', async (t) => {
  const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');
  for (const s of BROKER_SETTINGS) {
    const flag = s.flag.split(' ')[0]!;
    t.match(readme, new RegExp(`\\| \`${flag}[ \`].*\\| \`${envName(s.key)}\` \\|`), flag);
  }
});

t.test('a bad option of another command is a clear error', async (t) => {
  const run = spawnSync(process.execPath, [MAIN, 'bench', 'append', '--seconds', 'soon'], { encoding: 'utf8' });
  t.not(run.status, 0);
  t.match(run.stderr, /expected a positive number, got "soon"/);
});

t.test('the broker serves fetches on the chosen path', async (t) => {
  for (const path of ['copy', 'node'] as const) {
    const broker = await startBroker(t, { args: ['--fetch-path', path] });
    t.equal(logged(broker.lines, 'broker ready')[0]?.fetchPath, path);
    const c = await broker.connect();
    await createTopic(c, 'p', 1);
    await produce(c, [{ topic: 'p', partition: 0, batches: batchOf(1, 10) }]);
    const [p] = await fetch(c, [{ topic: 'p', partition: 0, offset: 0n }]);
    t.equal(decodeRecordBatches(p!.records)[0]?.records.length, 10, path);
    await broker.stop();
  }
});
