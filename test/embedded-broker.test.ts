// startBroker(): a broker inside the test process. The README's example test file runs as a user
// would run it (`node --test`), must pass and exit on its own (nothing left holding the event loop),
// and leaves nothing in the temp dir; in this process, the broker serves Sluice's client and
// close() removes its data dir.

import t from 'tap';
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Producer } from '../src/client/producer.js';
import { Subscription } from '../src/client/subscription.js';
import { startBroker } from '../src/app/embedded.js';
import { tmpDir } from './helpers/tmp.js';

const example = fileURLToPath(new URL('../examples/embedded-broker.test.mjs', import.meta.url));

t.test("the README's example test file passes under node --test and leaves nothing behind", async (t) => {
  const tmp = tmpDir(t);
  const run = spawnSync(process.execPath, ['--test', example], { encoding: 'utf8', env: { ...process.env, TMPDIR: tmp }, timeout: 60_000 });
  t.equal(run.status, 0, `${run.stdout}\n${run.stderr}`);
  t.match(run.stdout, /# pass 1/);
  t.equal(run.signal, null, 'it exited on its own (no timer or socket kept it alive)');
  t.same(readdirSync(tmp), [], 'the broker removed its temp data dir');
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
