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
