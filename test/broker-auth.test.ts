// Authentication and per-topic permissions (--auth-file), both ways: without a token a connection
// may only ask ApiVersions and Authenticate; a wrong token is refused; each principal may read,
// write and administer exactly what its patterns allow, through the broker's own clients and CLI.

import t from 'tap';
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { hashToken } from '../src/auth/access.js';
import { Admin } from '../src/client/admin.js';
import { Consumer } from '../src/client/consumer.js';
import { Producer } from '../src/client/producer.js';
import { ApiKey } from '../src/protocol/messages.js';
import { call, MAIN, startBroker } from './helpers/broker.js';
import { tmpDir } from './helpers/tmp.js';

const TOKENS = { admin: 'admin-secret-token', writer: 'writer-secret-token', reader: 'reader-secret-token' };

async function securedBroker(t: { teardown(fn: () => void | Promise<void>): void }) {
  const authFile = join(tmpDir(t), 'auth.json');
  writeFileSync(
    authFile,
    JSON.stringify({
      principals: {
        admin: { tokenSha256: hashToken(TOKENS.admin), read: ['*'], write: ['*'], admin: true },
        writer: { tokenSha256: hashToken(TOKENS.writer), write: ['orders'], read: [] },
        reader: { tokenSha256: hashToken(TOKENS.reader), read: ['orders', 'logs-*'] },
      },
    }),
  );
  const broker = await startBroker(t, { args: ['--auth-file', authFile, '--group-initial-rebalance-delay-ms', '0'] });
  return { broker, address: `127.0.0.1:${broker.port}` };
}

t.test('unauthenticated connections may only authenticate; bad tokens are refused', async (t) => {
  const { broker } = await securedBroker(t);
  const c = await broker.connect();
  const versions = await call<{ apis: unknown[] }>(c, ApiKey.ApiVersions, {});
  t.ok(versions.apis.length > 0, 'ApiVersions is answered before authentication');
  for (const [api, body] of [
    [ApiKey.Metadata, { topics: null }],
    [ApiKey.Produce, { acks: 1, partitions: [] }],
    [ApiKey.Fetch, { maxWaitMs: 0, partitions: [] }],
    [ApiKey.CreateTopics, { topics: [{ name: 'x', partitions: 1 }] }],
  ] as const) {
    await t.rejects(call(c, api, body), { code: 'ILLEGAL_SASL_STATE' }, `api ${api} is refused before authentication`);
  }
  await t.rejects(call(c, ApiKey.Authenticate, { mechanism: 'token', token: 'wrong' }), { code: 'SASL_AUTHENTICATION_FAILED' }, 'an unknown token is refused');
  await t.rejects(call(c, ApiKey.Authenticate, { mechanism: 'SCRAM-SHA-512', token: 'x' }), { code: 'UNSUPPORTED_SASL_MECHANISM' }, 'an unknown mechanism is refused');
  await t.rejects(call(c, ApiKey.Metadata, { topics: null }), { code: 'ILLEGAL_SASL_STATE' }, 'still nobody after the failures');
  t.same(await call(c, ApiKey.Authenticate, { mechanism: 'token', token: TOKENS.reader }), { principal: 'reader' }, 'a known token authenticates');
  t.ok(await call(c, ApiKey.Metadata, { topics: null }), 'and then requests are served');
  await t.rejects(call(c, ApiKey.Authenticate, { mechanism: 'token', token: TOKENS.admin }), { code: 'ILLEGAL_SASL_STATE' }, 'a connection authenticates once');
  await t.rejects(new Admin({ broker: `127.0.0.1:${broker.port}`, retries: 0 }).listTopics(), { code: 'ILLEGAL_SASL_STATE' }, 'a client without a token gets nothing');
});

t.test('per-topic permissions: each principal reads, writes and administers what it may, and nothing else', async (t) => {
  const { address } = await securedBroker(t);
  const as = (who: keyof typeof TOKENS) => ({ broker: address, token: TOKENS[who], retries: 0 });
  const admin = new Admin(as('admin'));
  t.teardown(() => admin.close());
  await admin.createTopic('orders', { partitions: 1 });
  await admin.createTopic('secrets', { partitions: 1 });

  const readerAdmin = new Admin(as('reader'));
  t.teardown(() => readerAdmin.close());
  await t.rejects(readerAdmin.createTopic('mine'), { code: 'CLUSTER_AUTHORIZATION_FAILED' }, 'a non-admin may not create topics');
  await t.rejects(readerAdmin.deleteTopic('orders'), { code: 'CLUSTER_AUTHORIZATION_FAILED' }, 'nor delete them');

  const writer = new Producer(as('writer'));
  t.teardown(() => writer.close());
  const [written] = await writer.send('orders', { key: 'k', value: 'order 1' });
  t.equal(written!.offset, 0n, 'the writer writes to orders');
  await t.rejects(writer.send('secrets', { value: 'x' }), { code: 'TOPIC_AUTHORIZATION_FAILED' }, 'but not to secrets');
  // An idempotent producer needs Write on some topic (as Kafka's IdempotentWrite): the reader has none.
  const readerProducer = new Producer(as('reader'));
  t.teardown(() => readerProducer.close());
  await t.rejects(readerProducer.send('orders', { value: 'x' }), { code: 'CLUSTER_AUTHORIZATION_FAILED' }, 'the reader may not be an idempotent producer');
  const plainReaderProducer = new Producer({ ...as('reader'), idempotent: false });
  t.teardown(() => plainReaderProducer.close());
  await t.rejects(plainReaderProducer.send('orders', { value: 'x' }), { code: 'TOPIC_AUTHORIZATION_FAILED' }, 'the reader may not write');

  const read = async (who: keyof typeof TOKENS, topic: string) => {
    const consumer = new Consumer({ ...as(who), groupId: `g-${who}`, fromBeginning: true, maxWaitMs: 100 });
    try {
      await consumer.assign([{ topic, partition: 0 }]);
      for await (const batch of consumer.batches()) {
        if (batch.messages.length > 0) {
          await consumer.commit([{ topic, partition: 0, offset: batch.messages.at(-1)!.offset + 1n }]);
          return batch.messages.map((m) => m.value!.toString());
        }
      }
      return [];
    } finally {
      await consumer.close();
    }
  };
  t.same(await read('reader', 'orders'), ['order 1'], 'the reader reads orders and commits its offset');
  await t.rejects(read('reader', 'secrets'), { code: 'TOPIC_AUTHORIZATION_FAILED' }, 'but not secrets');
  await t.rejects(read('writer', 'orders'), { code: 'TOPIC_AUTHORIZATION_FAILED' }, 'the writer may not read');
  const groups = await admin.describeGroup('g-reader');
  t.equal(groups.partitions[0]?.committedOffset, 1n, 'the reader\'s commit is stored');

  const cli = spawnSync(process.execPath, [MAIN, 'topics', 'list', '--broker', address], { encoding: 'utf8', env: { ...process.env, SLUICE_TOKEN: TOKENS.reader } });
  t.equal(cli.status, 0, `the CLI authenticates with SLUICE_TOKEN: ${cli.stderr}`);
  t.match(cli.stdout, /orders/, 'and lists the topics');
  const refused = spawnSync(process.execPath, [MAIN, 'topics', 'create', 'x', '--broker', address, '--token', TOKENS.writer], { encoding: 'utf8' });
  t.not(refused.status, 0, 'a CLI create with a non-admin token fails');
  t.match(refused.stderr, /CLUSTER_AUTHORIZATION_FAILED/, 'saying why');
});

t.test('what a topic holds is read-only knowledge: Metadata and DescribeGroups show its offsets, sizes and commits only to a principal that may read it', async (t) => {
  const { broker, address } = await securedBroker(t);
  const admin = new Admin({ broker: address, token: TOKENS.admin, retries: 0 });
  t.teardown(() => admin.close());
  await admin.createTopic('orders', { partitions: 1 });
  await admin.createTopic('secrets', { partitions: 1 });
  const producer = new Producer({ broker: address, token: TOKENS.admin, retries: 0 });
  t.teardown(() => producer.close());
  await producer.send('orders', { value: 'o' });
  await producer.send('secrets', { value: 's' });
  // A memberless commit of both topics by the admin into one group.
  await admin.resetOffsets('shared', 'orders', { latest: true });
  await admin.resetOffsets('shared', 'secrets', { latest: true });

  const as = async (who: keyof typeof TOKENS) => {
    const c = await broker.connect();
    await call(c, ApiKey.Authenticate, { mechanism: 'token', token: TOKENS[who] });
    return c;
  };
  type Meta = { topics: Array<{ name: string; partitions: Array<{ leader: number; highWatermark?: bigint; sizeBytes?: number; segments?: number }> }> };
  type Groups = { groups: Array<{ offsets: Array<{ topic: string; offset: bigint; lag: bigint }> }> };
  const reader = await as('reader');
  const meta = await call<Meta>(reader, ApiKey.Metadata, { topics: null });
  const orders = meta.topics.find((x) => x.name === 'orders')!.partitions[0]!;
  const secrets = meta.topics.find((x) => x.name === 'secrets')!.partitions[0]!;
  t.equal(orders.highWatermark, 1n, 'a readable topic: its offsets');
  t.ok(orders.sizeBytes! > 0 && orders.segments === 1, 'and size');
  t.ok(secrets.leader >= 0, 'an unreadable one: where it lives (a producer needs that much)');
  t.same([secrets.highWatermark, secrets.sizeBytes, secrets.segments], [undefined, undefined, undefined], 'but nothing of what it holds');
  const described = await call<Groups>(reader, ApiKey.DescribeGroups, { groups: ['shared'] });
  t.same(described.groups[0]!.offsets.map((o) => [o.topic, o.offset, o.lag]), [['orders', 1n, 0n]], "the group's commits of readable topics only");
  const everything = await call<Groups>(await as('admin'), ApiKey.DescribeGroups, { groups: ['shared'] });
  t.same(everything.groups[0]!.offsets.map((o) => o.topic).sort(), ['orders', 'secrets'], 'the admin sees both');
});

t.test('a broken auth file stops the broker from starting, saying why', async (t) => {
  const authFile = join(tmpDir(t), 'auth.json');
  writeFileSync(authFile, JSON.stringify({ principals: { bob: { tokenSha256: 'not-hex' } } }));
  const run = spawnSync(process.execPath, [MAIN, 'broker', '--data', tmpDir(t), '--port', '0', '--metrics-port', 'off', '--kafka-port', '0', '--auth-file', authFile], { encoding: 'utf8', timeout: 20_000 });
  t.equal(run.status, 1);
  t.match(run.stderr, /bob\.tokenSha256 must be 64 lowercase hex digits/);
});
