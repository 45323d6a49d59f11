// startBroker(): a broker inside the test process. The README's example test file runs as a user
// would run it (`node --test`), must pass and exit on its own (nothing left holding the event loop),
// and leaves nothing in the temp dir; the README prints that file whole, and the two cannot drift
// apart. In this process, the broker serves Sluice's client and close() removes its data dir, and
// after close() the process holds exactly the file descriptors it held before the start.

import t from 'tap';
import { readmeBlock } from './helpers/readme.js';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, readlinkSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { get } from 'node:http';
import { Producer } from '../src/client/producer.js';
import { Subscription } from '../src/client/subscription.js';
import { startBroker } from '../src/app/embedded.js';
import { tmpDir } from './helpers/tmp.js';
import { KafkaApi } from '../src/doors/kafka/apis.js';
import { encodeRecordBatch } from '../src/protocol/record-batch.js';
import { produceBody, produceResult, RawKafka } from './helpers/kafka-wire.js';

const example = fileURLToPath(new URL('../examples/embedded-broker.test.mjs', import.meta.url));

t.test("the README's embedded-broker example is examples/embedded-broker.test.mjs, byte for byte", async (t) => {
  const block = readmeBlock('The whole of\n[`examples/embedded-broker.test.mjs`](examples/embedded-broker.test.mjs)', 'js');
  t.equal(block, readFileSync(example, 'utf8'), 'the block printed is the file the test runs');
});

t.test("the README's example test file passes under node --test and leaves nothing behind", async (t) => {
  const tmp = tmpDir(t);
  const run = spawnSync(process.execPath, ['--test', example], { encoding: 'utf8', env: { ...process.env, TMPDIR: tmp }, timeout: 60_000 });
  t.equal(run.status, 0, `${run.stdout}\n${run.stderr}`);
  t.match(run.stdout, /# pass 1/);
  t.equal(run.signal, null, 'it exited on its own (no timer or socket kept it alive)');
  t.same(readdirSync(tmp), [], 'the broker removed its temp data dir');
});

/** GET without keep-alive; resolves with the status once the socket has closed. */
function healthz(url: string): Promise<number | undefined> {
  return new Promise((resolve, reject) => {
    let status: number | undefined;
    const req = get(url, { agent: false }, (res) => {
      status = res.statusCode;
      res.resume();
    });
    req.once('socket', (socket) => socket.once('close', () => resolve(status)));
    req.on('error', reject);
  });
}

/** This process's open file descriptors and what each is (readdir's own descriptor is one of them, each time). */
function openFds(): Map<string, string> {
  const fds = new Map<string, string>();
  for (const fd of readdirSync('/proc/self/fd')) {
    try {
      fds.set(fd, readlinkSync(`/proc/self/fd/${fd}`));
    } catch {
      // readdir's own descriptor, closed by now
    }
  }
  return fds;
}

// Before any broker started in this process: the first start's threads and files count too.
// Sluice's addon builds for Linux only (scripts/install.mjs), so /proc/self/fd is always there.
t.test('after close() the process holds the same file descriptors as before the start, and the data dir is gone', async (t) => {
  const before = openFds();
  const broker = await startBroker({ metricsPort: 0, settings: { autoCreateTopics: true, groupInitialRebalanceDelayMs: 0 } });
  // Every listener used: Sluice's (produce, push subscription), Kafka's (a raw Produce), metrics.
  const producer = new Producer({ broker: broker.address, acks: 'all' });
  await producer.send('fds', [{ value: 'one' }, { value: 'two' }]);
  await producer.close();
  const subscription = await Subscription.open({ broker: broker.address, topic: 'fds', offset: 'earliest' });
  let pushed = 0;
  for await (const push of subscription) {
    for (const b of push.batches()) pushed += b.records.length;
    if (pushed === 2) break;
  }
  // Clients whose sockets are closed when the call returns (fetch() would keep one in its pool).
  const kafka = await RawKafka.connect(Number(broker.kafkaBootstrap!.split(':')[1]));
  t.equal(produceResult(await kafka.request(KafkaApi.Produce, 3, produceBody('fds', 0, encodeRecordBatch([{ value: 'three' }])))).errorCode, 0);
  kafka.close();
  t.equal(await healthz(`${broker.metricsUrl}/healthz`), 200);
  const during = openFds();
  t.ok([...during.values()].some((target) => target.startsWith(broker.dataDir)), 'the broker had files of its data dir open');
  await broker.close();
  const after = openFds();
  const extra = [...after].filter(([fd, target]) => before.get(fd) !== target);
  t.same(extra, [], 'no descriptor left open that was not open before (socket, segment, index, timer, thread)');
  t.equal(after.size, before.size, `as many descriptors as before (${before.size})`);
  t.notOk(existsSync(broker.dataDir), 'the temp data dir is gone');
});

t.test('in process: Sluice protocol and Kafka listener on free ports, close() removes the data dir, twice is fine', async (t) => {
  const broker = await startBroker({ settings: { autoCreateTopics: true } });
  t.match(broker.address, /^127\.0\.0\.1:\d+$/);
  t.match(broker.kafkaBootstrap!, /^127\.0\.0\.1:\d+$/);
  t.equal(broker.metricsUrl, null);
  const producer = new Producer({ broker: broker.address, acks: 1 });
  await producer.send('events', [{ value: 'one' }, { value: 'two' }]);
  await producer.close();
  const subscription = await Subscription.open({ broker: broker.address, topic: 'events', offset: 'earliest' });
  const values: string[] = [];
  for await (const push of subscription) {
    for (const b of push.batches()) for (const r of b.records) values.push(r.value!.toString());
    if (values.length === 2) break;
  }
  t.same(values, ['one', 'two']);
  t.ok(existsSync(broker.dataDir));
  await broker.close();
  await broker.close();
  t.notOk(existsSync(broker.dataDir), 'the temp data dir is gone');

  const kept = tmpDir(t);
  const own = await startBroker({ dataDir: kept, kafkaPort: null, metricsPort: 0 });
  t.equal(own.kafkaBootstrap, null);
  t.equal((await fetch(`${own.metricsUrl}/healthz`)).status, 200);
  await own.close();
  t.ok(existsSync(kept), 'a data dir the caller gave is kept');
  await t.rejects(startBroker({ settings: { segmentBytes: -5 } }), { code: 'INVALID_CONFIG' }, 'settings are checked as the CLI checks them');
});
