// Operators' daily admin over the Kafka listener, on a real broker process: kafkajs 2.2.4's
// createPartitions, describeConfigs, alterConfigs and deleteGroups, and (kafkajs has neither) raw
// IncrementalAlterConfigs and OffsetDelete requests, each checked against what Sluice's own
// protocol then sees: one topic registry and one group coordinator behind both doors.

import t from 'tap';
import { Kafka, logLevel } from 'kafkajs';
import { KafkaApi } from '../src/doors/kafka/apis.js';
import type { KafkaReader, KafkaWriter } from '../src/protocol/kafka-wire.js';
import { Admin } from '../src/client/admin.js';
import { startBroker, type RunningBroker } from './helpers/broker.js';
import { RawKafka } from './helpers/kafka-wire.js';

function kafkaOf(broker: RunningBroker): Kafka {
  return new Kafka({ brokers: [`127.0.0.1:${broker.kafkaPort}`], clientId: 'kafka-admin-test', logLevel: logLevel.NOTHING, retry: { retries: 2, initialRetryTime: 100 } });
}

/** The Kafka error type (kafkajs's name for the code) a call failed with; null when it did not fail. */
async function failure(call: Promise<unknown>): Promise<string | null> {
  return call.then(
    () => null,
    (err: { type?: string }) => err.type ?? String(err),
  );
}

const TOPIC = 2;
const BROKER = 4;

t.test('kafkajs admin: createPartitions, describeConfigs, alterConfigs (a whole config) and deleteGroups', async (t) => {
  const broker = await startBroker(t, { kafka: true });
  const kafka = kafkaOf(broker);
  const admin = kafka.admin();
  await admin.connect();
  t.teardown(() => admin.disconnect());
  const sluice = new Admin({ broker: `127.0.0.1:${broker.port}` });
  t.teardown(() => sluice.close());
  await admin.createTopics({ topics: [{ topic: 'ops', numPartitions: 1, configEntries: [{ name: 'segment.ms', value: '3600000' }] }] });

  await admin.createPartitions({ topicPartitions: [{ topic: 'ops', count: 4 }] });
  t.equal((await sluice.describeTopic('ops')).partitions.length, 4, 'four partitions behind both doors');
  const producer = kafka.producer();
  await producer.connect();
  await producer.send({ topic: 'ops', messages: [{ value: 'to-3', partition: 3 }] });
  await producer.disconnect();
  t.equal((await sluice.describeTopic('ops')).partitions[3]!.highWatermark, 1n, 'a new partition takes records');
  t.equal(await failure(admin.createPartitions({ topicPartitions: [{ topic: 'ops', count: 2 }] })), 'INVALID_PARTITIONS', 'fewer is refused');

  const described = await admin.describeConfigs({ resources: [{ type: TOPIC, name: 'ops' }], includeSynonyms: false });
  const entries = described.resources[0]!.configEntries.map((c) => [c.configName, c.configValue, c.isDefault, c.configSource]);
  t.same(entries, [
    ['cleanup.policy', 'delete', true, 5],
    ['max.message.bytes', '8388608', true, 5],
    ['retention.bytes', '-1', true, 5],
    ['retention.ms', '604800000', true, 5],
    ['segment.bytes', '1073741824', true, 5],
    ['segment.ms', '3600000', false, 1],
  ], 'every setting, the created one a DYNAMIC_TOPIC_CONFIG and the rest DEFAULT_CONFIG');

  // AlterConfigs replaces the topic's whole config: segment.ms, not named, returns to the default.
  await admin.alterConfigs({ validateOnly: false, resources: [{ type: TOPIC, name: 'ops', configEntries: [{ name: 'retention.ms', value: '86400000' }] }] });
  t.same((await sluice.describeConfigs('ops')).filter((c) => c.source === 'topic'), [{ name: 'retention.ms', value: '86400000', source: 'topic' }]);
  t.equal(await failure(admin.alterConfigs({ validateOnly: false, resources: [{ type: TOPIC, name: 'ops', configEntries: [{ name: 'cleanup.policy', value: 'compact' }] }] })), 'INVALID_CONFIG');
  t.equal(await failure(admin.alterConfigs({ validateOnly: false, resources: [{ type: TOPIC, name: 'nosuch', configEntries: [{ name: 'retention.ms', value: '1' }] }] })), 'UNKNOWN_TOPIC_OR_PARTITION');
  const nodeId = (await admin.describeCluster()).brokers[0]!.nodeId;
  t.equal(await failure(admin.describeConfigs({ resources: [{ type: BROKER, name: String(nodeId) }], includeSynonyms: false })), 'INVALID_REQUEST', 'no broker configs here');

  // deleteGroups: refused while the group has members, then done; unknown groups say so.
  await admin.setOffsets({ groupId: 'old-group', topic: 'ops', partitions: [{ partition: 0, offset: '0' }] });
  const consumer = kafka.consumer({ groupId: 'busy-group', maxWaitTimeInMs: 100 });
  await consumer.connect();
  await consumer.subscribe({ topic: 'ops' });
  let joined!: () => void;
  const member = new Promise<void>((r) => (joined = r));
  consumer.on(consumer.events.GROUP_JOIN, () => joined());
  await consumer.run({ eachMessage: async () => undefined });
  await member;
  const refused = await admin.deleteGroups(['busy-group']).catch((err: { groups?: Array<{ groupId: string; errorCode: number }> }) => err.groups);
  t.match(refused, [{ groupId: 'busy-group', errorCode: 68 }], 'NON_EMPTY_GROUP while a member is in it');
  await consumer.disconnect();
  t.same(await admin.deleteGroups(['old-group']), [{ groupId: 'old-group', errorCode: 0 }]);
  t.same((await sluice.listGroups()).map((g) => g.groupId).sort(), ['busy-group'], 'old-group is gone for Sluice\'s protocol too');
  const missing = await admin.deleteGroups(['never-was']).catch((err: { groups?: Array<{ groupId: string; errorCode: number }> }) => err.groups);
  t.match(missing, [{ groupId: 'never-was', errorCode: 69 }], 'GROUP_ID_NOT_FOUND');
});

/** The body of an IncrementalAlterConfigs v0 request: resources of (type, name, [name, op, value]). */
function incrementalAlter(resources: Array<[number, string, Array<[string, number, string | null]>]>, validateOnly = false) {
  return (w: KafkaWriter) => {
    w.array(resources, (w, [type, name, configs]) => w.int8(type).string(name).array(configs, (w, [n, op, v]) => w.string(n).int8(op).string(v)));
    w.boolean(validateOnly);
  };
}

function alterResults(r: KafkaReader) {
  r.int32();
  const results = r.array((x) => ({ error: x.int16(), message: x.nullableString(), type: x.int8(), name: x.string() }));
  r.end('IncrementalAlterConfigs response');
  return results;
}

t.test('IncrementalAlterConfigs v0: SET and DELETE change only what they name; APPEND, brokers and bad values are refused per resource', async (t) => {
  const broker = await startBroker(t, { kafka: true });
  const sluice = new Admin({ broker: `127.0.0.1:${broker.port}` });
  t.teardown(() => sluice.close());
  await sluice.createTopic('inc', { partitions: 1, config: { segmentMs: 3_600_000 } });
  const raw = await RawKafka.connect(broker.kafkaPort!);
  t.teardown(() => raw.close());

  const SET = 0;
  const DELETE = 1;
  const APPEND = 2;
  let results = alterResults(await raw.request(KafkaApi.IncrementalAlterConfigs, 0, incrementalAlter([[TOPIC, 'inc', [['retention.bytes', SET, '1048576'], ['segment.ms', DELETE, null]]]])));
  t.same(results, [{ error: 0, message: null, type: TOPIC, name: 'inc' }]);
  t.same((await sluice.describeConfigs('inc')).filter((c) => c.source === 'topic'), [{ name: 'retention.bytes', value: '1048576', source: 'topic' }], 'segment.ms deleted, retention.bytes set');

  results = alterResults(await raw.request(KafkaApi.IncrementalAlterConfigs, 0, incrementalAlter([[TOPIC, 'inc', [['retention.ms', SET, '5']]]], true)));
  t.equal(results[0]!.error, 0, 'validate only');
  t.equal((await sluice.describeConfigs('inc')).find((c) => c.name === 'retention.ms')!.source, 'default', 'a validate-only alter changes nothing');

  results = alterResults(
    await raw.request(
      KafkaApi.IncrementalAlterConfigs,
      0,
      incrementalAlter([
        [TOPIC, 'inc', [['cleanup.policy', APPEND, 'compact']]],
        [BROKER, '1', [['log.retention.ms', SET, '1']]],
        [TOPIC, 'inc', [['segment.bytes', SET, '12abc']]],
        [TOPIC, 'nosuch', [['segment.bytes', SET, '1048576']]],
        [TOPIC, 'inc', [['segment.bytes', SET, '2097152']]],
      ]),
    ),
  );
  t.same(
    results.map((r) => [r.error, r.name]),
    [[40, 'inc'], [42, '1'], [40, 'inc'], [3, 'nosuch'], [0, 'inc']],
    'INVALID_CONFIG, INVALID_REQUEST, INVALID_CONFIG, UNKNOWN_TOPIC_OR_PARTITION, then the good one applied',
  );
  t.match(results[0]!.message, /operation 2 is not supported/);
  t.equal((await sluice.describeConfigs('inc')).find((c) => c.name === 'segment.bytes')!.value, '2097152');
});

t.test('OffsetDelete v0 removes committed offsets of a group without members; DescribeConfigs v0 reports is_default', async (t) => {
  const broker = await startBroker(t, { kafka: true });
  const sluice = new Admin({ broker: `127.0.0.1:${broker.port}` });
  t.teardown(() => sluice.close());
  await sluice.createTopic('od', { partitions: 2 });
  const kafka = kafkaOf(broker);
  const admin = kafka.admin();
  await admin.connect();
  t.teardown(() => admin.disconnect());
  await admin.setOffsets({ groupId: 'g', topic: 'od', partitions: [{ partition: 0, offset: '0' }, { partition: 1, offset: '0' }] });
  const raw = await RawKafka.connect(broker.kafkaPort!);
  t.teardown(() => raw.close());

  const r = await raw.request(KafkaApi.OffsetDelete, 0, (w) => w.string('g').array([['od', [1]]] as const, (w, [name, ps]) => w.string(name).array(ps, (w, p) => w.int32(p))));
  const answer = { error: r.int16(), throttle: r.int32(), topics: r.array((x) => ({ name: x.string(), partitions: x.array((p) => ({ partition: p.int32(), error: p.int16() })) })) };
  r.end('OffsetDelete response');
  t.same(answer, { error: 0, throttle: 0, topics: [{ name: 'od', partitions: [{ partition: 1, error: 0 }] }] });
  t.same((await admin.fetchOffsets({ groupId: 'g', topics: ['od'] }))[0]!.partitions.map((p) => [p.partition, p.offset]), [[0, '0'], [1, '-1']], 'only partition 1 forgot its offset');

  const d = await raw.request(KafkaApi.DescribeConfigs, 0, (w) => w.array([0], (w) => w.int8(TOPIC).string('od').array(['retention.ms', 'no.such.key'], (w, k) => w.string(k))));
  d.int32();
  const resources = d.array((x) => ({
    error: x.int16(),
    message: x.nullableString(),
    type: x.int8(),
    name: x.string(),
    configs: x.array((c) => ({ name: c.string(), value: c.nullableString(), readOnly: c.boolean(), isDefault: c.boolean(), sensitive: c.boolean() })),
  }));
  d.end('DescribeConfigs v0 response');
  t.same(resources, [{ error: 0, message: null, type: TOPIC, name: 'od', configs: [{ name: 'retention.ms', value: '604800000', readOnly: false, isDefault: true, sensitive: false }] }], 'the one known key asked for; an unknown key is left out');
});

t.test("OffsetDelete of a group with members, as Kafka's: partitions of topics a member subscribes to are kept (GROUP_SUBSCRIBED_TO_TOPIC), the others deleted; an unknown group is GROUP_ID_NOT_FOUND", async (t) => {
  const broker = await startBroker(t, { kafka: true, args: ['--group-initial-rebalance-delay-ms', '0'] });
  const sluice = new Admin({ broker: `127.0.0.1:${broker.port}` });
  t.teardown(() => sluice.close());
  await sluice.createTopic('read', { partitions: 1 });
  await sluice.createTopic('old', { partitions: 1 });
  const kafka = kafkaOf(broker);
  const admin = kafka.admin();
  await admin.connect();
  t.teardown(() => admin.disconnect());
  // Offsets of a topic the group no longer reads, committed while it had no members; then a member subscribes to another.
  await admin.setOffsets({ groupId: 'live', topic: 'old', partitions: [{ partition: 0, offset: '0' }] });
  await admin.setOffsets({ groupId: 'live', topic: 'read', partitions: [{ partition: 0, offset: '0' }] });
  const consumer = kafka.consumer({ groupId: 'live', retry: { retries: 0 } });
  await consumer.connect();
  t.teardown(() => consumer.disconnect());
  await consumer.subscribe({ topic: 'read' });
  await consumer.run({ eachMessage: async () => undefined });
  while ((await admin.describeGroups(['live'])).groups[0]!.state !== 'Stable') await new Promise((resolve) => setTimeout(resolve, 50));

  const raw = await RawKafka.connect(broker.kafkaPort!);
  t.teardown(() => raw.close());
  const offsetDelete = async (group: string) => {
    const r = await raw.request(KafkaApi.OffsetDelete, 0, (w) => w.string(group).array([['read', [0]], ['old', [0]]] as const, (w, [name, ps]) => w.string(name).array(ps, (w, p) => w.int32(p))));
    const answer = { error: r.int16(), throttle: r.int32(), topics: r.array((x) => ({ name: x.string(), partitions: x.array((p) => ({ partition: p.int32(), error: p.int16() })) })) };
    r.end('OffsetDelete response');
    return answer;
  };
  t.same(await offsetDelete('live'), { error: 0, throttle: 0, topics: [{ name: 'read', partitions: [{ partition: 0, error: 86 }] }, { name: 'old', partitions: [{ partition: 0, error: 0 }] }] });
  const left = await sluice.describeGroup('live');
  t.same(left.partitions.map((p) => [p.topic, p.committedOffset]), [['read', 0n]], "the subscribed topic's offset stays, the other is gone");
  t.same(await offsetDelete('nobody'), { error: 69, throttle: 0, topics: [] });
  // Sluice's Admin through Sluice's door: the same answer per partition.
  const outcomes = await sluice.deleteOffsets('live', 'read');
  t.same(outcomes.map((o) => [o.partition, o.error?.code]), [[0, 'GROUP_SUBSCRIBED_TO_TOPIC']]);
});

t.test('flexible admin versions: IncrementalAlterConfigs v1, DescribeConfigs v3-v4, CreatePartitions v2-v3, DeleteGroups v2', async (t) => {
  const broker = await startBroker(t, { kafka: true });
  const sluice = new Admin({ broker: `127.0.0.1:${broker.port}` });
  t.teardown(() => sluice.close());
  await sluice.createTopic('flex', { partitions: 1 });
  const raw = await RawKafka.connect(broker.kafkaPort!);
  t.teardown(() => raw.close());

  // IncrementalAlterConfigs v1: compact strings, a tag buffer after every struct.
  const altered = await raw.request(KafkaApi.IncrementalAlterConfigs, 1, (w) =>
    w
      .noTaggedFields()
      .compactArray([0], (w) => w.int8(TOPIC).compactString('flex').compactArray([0], (w) => w.compactString('retention.ms').int8(0).compactString('3600000').noTaggedFields()).noTaggedFields())
      .boolean(false)
      .noTaggedFields(),
  );
  altered.taggedFields();
  altered.int32();
  const results = altered.compactArray((x) => {
    const out = { error: x.int16(), message: x.compactNullableString(), type: x.int8(), name: x.compactString() };
    x.taggedFields();
    return out;
  });
  altered.taggedFields();
  altered.end('IncrementalAlterConfigs v1 response');
  t.same(results, [{ error: 0, message: null, type: TOPIC, name: 'flex' }]);

  // DescribeConfigs v3 (classic) and v4 (flexible): each setting's type, no documentation; an empty key list is "all", as in Kafka.
  for (const version of [3, 4]) {
    const flexible = version >= 4;
    const d = await raw.request(KafkaApi.DescribeConfigs, version, (w) => {
      if (flexible) w.noTaggedFields().compactArray([0], (w) => w.int8(TOPIC).compactString('flex').compactArray([], () => undefined).noTaggedFields());
      else w.array([0], (w) => w.int8(TOPIC).string('flex').array([], () => undefined));
      w.boolean(true).boolean(true);
      if (flexible) w.noTaggedFields();
    });
    if (flexible) d.taggedFields();
    d.int32();
    const str = () => (flexible ? d.compactNullableString() : d.nullableString());
    const array = <T>(read: () => T) => (flexible ? d.compactArray(read) : d.array(read));
    const tags = () => (flexible ? d.taggedFields().size : 0);
    const resources = array(() => {
      const head = { error: d.int16(), message: str(), type: d.int8(), name: str() };
      const configs = array(() => {
        const c = { name: str(), value: str(), readOnly: d.boolean(), source: d.int8(), sensitive: d.boolean(), synonyms: array(() => [str(), str(), d.int8(), tags()]), configType: d.int8(), documentation: str() };
        tags();
        return c;
      });
      tags();
      return { ...head, configs };
    });
    tags();
    d.end(`DescribeConfigs v${version} response`);
    const byName = new Map(resources[0]!.configs.map((c) => [c.name, c]));
    t.equal(byName.size, 6, `v${version}: every setting (no keys asked)`);
    t.same(byName.get('retention.ms'), { name: 'retention.ms', value: '3600000', readOnly: false, source: 1, sensitive: false, synonyms: [['retention.ms', '3600000', 1, 0]], configType: 5, documentation: null }, `v${version}: a LONG set on the topic`);
    t.same([byName.get('segment.bytes')!.configType, byName.get('cleanup.policy')!.configType, byName.get('segment.bytes')!.source], [3, 7, 5], `v${version}: INT and LIST types, a default's source`);
  }

  // CreatePartitions v2 and v3 (flexible; v3 answers as v2).
  for (const [version, count] of [[2, 2], [3, 3]] as const) {
    const c = await raw.request(KafkaApi.CreatePartitions, version, (w) =>
      w.noTaggedFields().compactArray([0], (w) => w.compactString('flex').int32(count).compactArray(null, () => undefined).noTaggedFields()).int32(5000).boolean(false).noTaggedFields(),
    );
    c.taggedFields();
    c.int32();
    const created = c.compactArray((x) => {
      const out = { name: x.compactString(), error: x.int16(), message: x.compactNullableString() };
      x.taggedFields();
      return out;
    });
    c.taggedFields();
    c.end(`CreatePartitions v${version} response`);
    t.same(created, [{ name: 'flex', error: 0, message: null }], `v${version}: to ${count} partitions`);
  }
  t.equal((await sluice.describeTopic('flex')).partitions.length, 3);

  // DeleteGroups v2: a group that never existed, in the flexible form.
  const g = await raw.request(KafkaApi.DeleteGroups, 2, (w) => w.noTaggedFields().compactArray(['never-was'], (w, id) => w.compactString(id)).noTaggedFields());
  g.taggedFields();
  g.int32();
  const deleted = g.compactArray((x) => {
    const out = { groupId: x.compactString(), error: x.int16() };
    x.taggedFields();
    return out;
  });
  g.taggedFields();
  g.end('DeleteGroups v2 response');
  t.same(deleted, [{ groupId: 'never-was', error: 69 }], 'GROUP_ID_NOT_FOUND');
});
