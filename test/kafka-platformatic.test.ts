// @platformatic/kafka 1.x (a current pure-JS client; 2.x needs Node 22), unmodified and with its
// default settings, against a real broker process's Kafka listener: its Producer (buffers in, no
// serializers, once per compression it can do on this Node), its Consumer in a group (autocommit,
// its default) resuming from the group's commits after a restart, and its Admin. Every expectation
// here holds against Apache Kafka 4.4.0.
// The client implements only recent versions and takes the highest one both sides serve: Metadata
// 9-12, Fetch 12-17, Produce 7-11, ListOffsets 5-9, FindCoordinator 4-6, JoinGroup 6-9, SyncGroup
// 4-5, Heartbeat 4, LeaveGroup 4-5, OffsetCommit 8-9, OffsetFetch 8-9, DescribeGroups 5, ListGroups
// 4-5, DeleteGroups 2, CreateTopics 7, DeleteTopics 6, CreatePartitions 1-3, DescribeConfigs 2-4
// (its v2 request carries v3's include_documentation: a broker must serve v3+), IncrementalAlterConfigs
// 1, DeleteRecords 2, ApiVersions 3-4. What Sluice does not serve fails here with the client's error.

import t, { type Test } from 'tap';
import zlib from 'node:zlib';
import { Admin, ConfigResourceTypes, Consumer, IncrementalAlterConfigOperationTypes, ListOffsetTimestamps, Producer, type Message } from '@platformatic/kafka';
import { createTopic, fetch, startBroker } from './helpers/broker.js';

// zstd needs node:zlib's zstd (Node 22.15+); this client has no other implementation of it.
const COMPRESSIONS = ['none', 'gzip', 'snappy', 'lz4', ...(typeof (zlib as { zstdCompressSync?: unknown }).zstdCompressSync === 'function' ? ['zstd' as const] : [])] as const;

interface Seen {
  partition: number;
  offset: bigint;
  key: string | null;
  value: string | null;
  headers: Array<[string, string]>;
}

function seen(m: Message): Seen {
  return {
    partition: m.partition,
    offset: m.offset,
    // A null key or value arrives as undefined (the default deserializers pass buffers through).
    key: m.key?.toString('hex') ?? null,
    value: m.value?.toString('hex') ?? null,
    headers: [...m.headers].map(([k, v]) => [k.toString('hex'), v.toString('hex')]),
  };
}

/** Reads `count` messages from a fresh consumer in `groupId` (closing it after, which commits); rejects after `ms`. */
async function consumeN(bootstrap: string, groupId: string, topics: string[], count: number, mode: 'earliest' | 'committed', ms = 20_000): Promise<Seen[]> {
  const consumer = new Consumer({ clientId: 'sluice-test', groupId, bootstrapBrokers: [bootstrap] });
  try {
    const stream = await consumer.consume({ topics, mode });
    const got: Seen[] = [];
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`${groupId}: ${got.length} of ${count} messages after ${ms} ms`)), ms);
      stream.on('error', (err) => {
        clearTimeout(timer);
        reject(err);
      });
      stream.on('data', (m: Message) => {
        got.push(seen(m));
        if (got.length === count) {
          clearTimeout(timer);
          resolve();
        }
      });
    });
    await stream.close();
    return got;
  } finally {
    await consumer.close(true);
  }
}

/** The client's error, with the errors it wraps (it aggregates per-broker failures), as one line. */
function describeError(err: unknown): string {
  const e = err as Error & { errors?: unknown[]; apiName?: string };
  const inner = e.errors?.map((x) => describeError(x)).join('; ');
  return `${e.message}${inner ? ` [${inner}]` : ''}`;
}

/** Runs `body`; a rejection fails the assertion `what` with the client's error, and returns undefined. */
async function step<T>(t: Test, what: string, body: () => Promise<T>): Promise<T | undefined> {
  try {
    const value = await body();
    t.pass(what);
    return value;
  } catch (err) {
    t.fail(`${what}: ${describeError(err)}`);
    return undefined;
  }
}

t.test('Producer (defaults) once per compression; a Consumer group reads it back byte for byte, then resumes from its commits after a restart', async (t) => {
  const broker = await startBroker(t, { kafka: true, args: ['--group-initial-rebalance-delay-ms', '300'] });
  const bootstrap = `127.0.0.1:${broker.kafkaPort}`;
  const c = await broker.connect();
  const producer = new Producer({ clientId: 'sluice-test', bootstrapBrokers: [bootstrap] });
  t.teardown(() => producer.close());

  for (const compression of COMPRESSIONS) {
    const topic = `plat-${compression}`;
    await createTopic(c, topic, 3);
    const messages = Array.from({ length: 20 }, (_, i) => ({
      topic,
      key: Buffer.from(`key-${i % 4}`),
      value: i === 1 ? Buffer.alloc(0) : i === 2 ? Buffer.from(Array.from({ length: 256 }, (_, b) => b)) : Buffer.from(`value-${i}`.repeat(i === 3 ? 4000 : 1)),
      headers: new Map([[Buffer.from('i'), Buffer.from(String(i))]]),
    }));
    const sent = await step(t, `${compression}: send 20 keyed messages with headers`, () => producer.send({ messages, compression }));
    if (!sent) continue;
    const got = await step(t, `${compression}: a consumer group reads them (mode earliest)`, () => consumeN(bootstrap, `plat-${compression}`, [topic], 20, 'earliest'));
    if (!got) continue;
    // Per key, the values in send order (one key, one partition); per partition, offsets 0.. in order.
    const byKey = (list: Array<{ key: string | null; value: string | null; headers: Array<[string, string]> }>) =>
      Object.fromEntries([...new Set(list.map((m) => m.key))].map((k) => [k, list.filter((m) => m.key === k).map((m) => [m.value, m.headers])]));
    t.same(byKey(got), byKey(messages.map((m) => ({ key: m.key.toString('hex'), value: m.value.toString('hex'), headers: [...m.headers].map(([k, v]) => [k.toString('hex'), v.toString('hex')] as [string, string]) }))), `${compression}: keys, values and headers byte for byte, each key's in order`);
    for (const p of new Set(got.map((m) => m.partition))) {
      const offsets = got.filter((m) => m.partition === p).map((m) => m.offset);
      t.same(offsets, offsets.map((_, i) => BigInt(i)), `${compression}: partition ${p}: offsets 0.. in order`);
    }
    const [p0] = await fetch(c, [{ topic, partition: got[0]!.partition, offset: 0n, maxBytes: 1 << 20 }]);
    t.equal(p0!.records.readInt16BE(21) & 0x07, { none: 0, gzip: 1, snappy: 2, lz4: 3, zstd: 4 }[compression], `${compression}: the log holds the batch as the client compressed it`);
  }

  // The group of the `none` run committed (autocommit) as it read; two more messages, then a new consumer in that group.
  await step(t, 'send two more', () => producer.send({ messages: [0, 1].map((i) => ({ topic: 'plat-none', key: Buffer.from('key-0'), value: Buffer.from(`later-${i}`) })) }));
  const resumed = await step(t, 'a new consumer in the same group (mode committed) reads', () => consumeN(bootstrap, 'plat-none', ['plat-none'], 2, 'committed'));
  if (resumed) t.same(resumed.map((m) => Buffer.from(m.value ?? '', 'hex').toString()), ['later-0', 'later-1'], 'only what came after the commits');
});

t.test('Admin: topics, metadata, configs, partitions, offsets, groups, records', async (t) => {
  const broker = await startBroker(t, { kafka: true, args: ['--group-initial-rebalance-delay-ms', '300'] });
  const bootstrap = `127.0.0.1:${broker.kafkaPort}`;
  const admin = new Admin({ clientId: 'sluice-test', bootstrapBrokers: [bootstrap] });
  t.teardown(() => admin.close());

  await step(t, 'createTopics', () => admin.createTopics({ topics: ['plat-admin'], partitions: 2, replicas: 1 }));
  const topics = await step(t, 'listTopics', () => admin.listTopics());
  if (topics) t.ok(topics.includes('plat-admin'), 'lists the new topic');
  const metadata = await step(t, 'metadata', () => admin.metadata({ topics: ['plat-admin'] }));
  if (metadata) {
    t.same([...metadata.brokers.values()].map((b) => [b.host, b.port]), [['127.0.0.1', broker.kafkaPort]], 'one broker: this listener');
    t.equal(metadata.topics.get('plat-admin')?.partitionsCount, 2, 'the topic has 2 partitions');
  }
  const resource = { resourceType: ConfigResourceTypes.TOPIC, resourceName: 'plat-admin' };
  await step(t, 'incrementalAlterConfigs SET retention.ms', () =>
    admin.incrementalAlterConfigs({ resources: [{ ...resource, configs: [{ name: 'retention.ms', configOperation: IncrementalAlterConfigOperationTypes.SET, value: '3600000' }] }] }),
  );
  const configs = await step(t, 'describeConfigs', () => admin.describeConfigs({ resources: [{ ...resource, configurationKeys: [] }] }));
  if (configs) t.equal(configs[0]?.configs.find((x) => x.name === 'retention.ms')?.value, '3600000', 'reads the altered retention.ms');
  await step(t, 'createPartitions to 3', () => admin.createPartitions({ topics: [{ name: 'plat-admin', count: 3 }] }));

  const producer = new Producer({ clientId: 'sluice-test', bootstrapBrokers: [bootstrap] });
  t.teardown(() => producer.close());
  await step(t, 'produce 3 to partition 0', () => producer.send({ messages: [0, 1, 2].map((i) => ({ topic: 'plat-admin', partition: 0, value: Buffer.from(`m${i}`) })) }));
  const offsets = await step(t, 'listOffsets earliest and latest', async () => {
    const at = async (timestamp: bigint) => (await admin.listOffsets({ topics: [{ name: 'plat-admin', partitions: [{ partitionIndex: 0, timestamp }] }] }))[0]!.partitions[0]!.offset;
    return [await at(ListOffsetTimestamps.EARLIEST), await at(ListOffsetTimestamps.LATEST)];
  });
  if (offsets) t.same(offsets, [0n, 3n], 'earliest 0, latest 3');

  const read = await step(t, 'a consumer group reads the 3 (and commits)', () => consumeN(bootstrap, 'plat-admin-group', ['plat-admin'], 3, 'earliest'));
  if (read) t.equal(read.length, 3, 'all 3');
  const groups = await step(t, 'listGroups', () => admin.listGroups());
  if (groups) t.ok(groups.has('plat-admin-group'), 'lists the group');
  const committed = await step(t, 'listConsumerGroupOffsets', () => admin.listConsumerGroupOffsets({ groups: ['plat-admin-group'] }));
  if (committed) {
    const p0 = committed[0]?.topics.find((x) => x.name === 'plat-admin')?.partitions.find((x) => x.partitionIndex === 0);
    t.equal(p0?.committedOffset, 3n, 'partition 0 committed at 3');
  }
  await step(t, 'deleteGroups', () => admin.deleteGroups({ groups: ['plat-admin-group'] }));
  const deleted = await step(t, 'deleteRecords before offset 1', () => admin.deleteRecords({ topics: [{ name: 'plat-admin', partitions: [{ partition: 0, offset: 1n }] }] }));
  if (deleted) t.equal(deleted[0]?.partitions[0]?.lowWatermark, 1n, 'low watermark 1');
  await step(t, 'deleteTopics', () => admin.deleteTopics({ topics: ['plat-admin'] }));
});
