// Apache Kafka's Java client and tools (4.x, from Maven Central, unmodified, default settings)
// against a real broker process's Kafka listener: test/java/SluiceJavaClient.java runs one
// scenario per JVM and reports each check as a JSON line; Kafka's own command-line tools run from
// their jars (TopicCommand, ConsumerGroupCommand, ConsoleProducer, ConsoleConsumer,
// ProducerPerformance). Each scenario starts its own broker. Java, javac and mvn come from
// .ci/run; the jars and compiled classes are cached under ~/.cache/sluice (test/helpers/java.ts).

import t, { type Test } from 'tap';
import { encodeRecordBatch } from '../src/protocol/record-batch.js';
import { createTopic, fetch, produce, startBroker, type RunningBroker } from './helpers/broker.js';
import { checksNamed, javaClasspath, runJava, runScenario, type CheckLine, type ScenarioRun } from './helpers/java.js';
import type { Connection } from '../src/client/connection.js';

// On a clean machine the first run downloads Kafka's jars from Maven Central (minutes): the file's
// timeout covers that, told to tap's runner (over IPC, hence the pause) before the synchronous
// resolve and compile. With the cache warm they take a moment, and the scenarios under 90 s.
t.before(async () => {
  t.setTimeout(10 * 60_000);
  await new Promise((resolve) => setTimeout(resolve, 50));
  javaClasspath();
});

/** Kafka's default group.initial.rebalance.delay.ms is 3 s; a shorter one keeps the file's wall time down. */
const BROKER_ARGS = ['--group-initial-rebalance-delay-ms', '300'];

const COMPRESSIONS = ['none', 'gzip', 'snappy', 'lz4', 'zstd'] as const;
/** The RecordBatch attributes' codec bits (Kafka's CompressionType ids). */
const CODEC = { none: 0, gzip: 1, snappy: 2, lz4: 3, zstd: 4 } as const;

interface JavaRecord {
  partition: number;
  offset: number;
  key: string | null;
  value: string | null;
  headers: Array<[string, string | null]>;
}

const byPosition = (a: JavaRecord, b: JavaRecord) => a.partition - b.partition || a.offset - b.offset;

/** The one check named `name` (a missing one is a failure that shows what did arrive). */
function only(t: Test, run: ScenarioRun, name: string): CheckLine {
  const found = checksNamed(run, name);
  if (found.length !== 1) t.fail(`expected one ${name} check, got ${found.length}`, { checks: run.checks.map((c) => c.check), stderr: run.stderr.slice(-4000) });
  return found[0] ?? { check: name, error: { class: 'missing', message: `no ${name} line` } };
}

/** Passes when the check ran without throwing; otherwise fails with the client's exception (class and message). */
function ran(t: Test, check: CheckLine, what: string): boolean {
  return t.equal(check.error, undefined, what);
}

async function kafkaBroker(t: Test): Promise<{ broker: RunningBroker; bootstrap: string; c: Connection }> {
  const broker = await startBroker(t, { kafka: true, args: BROKER_ARGS });
  return { broker, bootstrap: `127.0.0.1:${broker.kafkaPort}`, c: await broker.connect() };
}

/** Produces `values` to one partition through Sluice's own protocol (one batch). */
async function produceValues(c: Connection, topic: string, partition: number, values: string[], timestampsMs?: number[]): Promise<void> {
  const batch = encodeRecordBatch(values.map((value, i) => ({ key: `k${i}`, value, timestampMs: timestampsMs?.[i] })));
  const [result] = await produce(c, [{ topic, partition, batches: batch }], -1);
  if (result?.error) throw new Error(`produce ${topic}-${partition}: ${result.error.code}`);
}

/** The codec bits of every batch in a partition, read from a Sluice fetch's raw bytes. */
async function batchCodecs(c: Connection, topic: string, partition: number): Promise<number[]> {
  const [p] = await fetch(c, [{ topic, partition, offset: 0n, maxBytes: 8 << 20 }]);
  const codecs: number[] = [];
  // A batch: baseOffset (8), batchLength (4), then batchLength bytes; attributes are at byte 21.
  for (let at = 0; at + 12 <= p!.records.length; at += 12 + p!.records.readInt32BE(at + 8)) codecs.push(p!.records.readInt16BE(at + 21) & 0x07);
  return codecs;
}

t.test('a. default KafkaProducer (idempotent, acks all) per compression.type; a KafkaConsumer reads it back byte for byte', async (t) => {
  const { bootstrap, c } = await kafkaBroker(t);
  for (const compression of COMPRESSIONS) await createTopic(c, `java-${compression}`, 3);
  const run = await runScenario('produce-consume', bootstrap, { 'topic-prefix': 'java-', compressions: COMPRESSIONS.join(','), count: 30 });
  for (const compression of COMPRESSIONS) {
    const produced = run.checks.find((x) => x.check === 'produce' && x.compression === compression);
    if (!produced || !ran(t, produced, `${compression}: the default producer sends 30 records`)) continue;
    const sent = (produced.sent as JavaRecord[]).slice();
    // Per partition, offsets 0, 1, 2, ... in the order the records were sent; one key, one partition.
    for (const partition of new Set(sent.map((r) => r.partition))) {
      const offsets = sent.filter((r) => r.partition === partition).map((r) => r.offset);
      t.same(offsets, offsets.map((_, i) => i), `${compression}: partition ${partition}'s offsets are 0.. in send order`);
    }
    const keyPartitions = new Map<string, Set<number>>();
    for (const r of sent) if (r.key !== null) keyPartitions.set(r.key, (keyPartitions.get(r.key) ?? new Set()).add(r.partition));
    t.ok([...keyPartitions.values()].every((s) => s.size === 1), `${compression}: each key lands on one partition`);
    t.ok(new Set(sent.map((r) => r.partition)).size > 1, `${compression}: the keys spread over more than one partition`);

    const consumed = run.checks.find((x) => x.check === 'consume' && x.compression === compression);
    if (!consumed || !ran(t, consumed, `${compression}: the consumer polls`)) continue;
    const received = consumed.received as JavaRecord[];
    for (const partition of new Set(received.map((r) => r.partition))) {
      const offsets = received.filter((r) => r.partition === partition).map((r) => r.offset);
      t.same(offsets, [...offsets].sort((a, b) => a - b), `${compression}: partition ${partition} is consumed in offset order`);
    }
    t.same(received.slice().sort(byPosition), sent.sort(byPosition), `${compression}: keys, values (empty, null, 0x00-0xff, 64 KiB), headers (repeated, null) come back byte for byte at the same partitions and offsets`);

    const codecs = (await Promise.all([0, 1, 2].map((p) => batchCodecs(c, `java-${compression}`, p)))).flat();
    t.ok(codecs.length > 0 && codecs.every((x) => x === CODEC[compression]), `${compression}: the log holds the producer's batches as it compressed them (codec ${CODEC[compression]})`, { codecs });
  }
});

t.test('b. a KafkaConsumer group commits; a new consumer in the same group resumes from the commits; e. kafka-consumer-groups and kafka-topics describe them', async (t) => {
  const { bootstrap, c } = await kafkaBroker(t);
  await createTopic(c, 'orders', 2);
  await produceValues(c, 'orders', 0, ['a0', 'a1', 'a2', 'a3', 'a4', 'a5']);
  await produceValues(c, 'orders', 1, ['b0', 'b1', 'b2', 'b3']);

  const values = (check: CheckLine) => (check.received as JavaRecord[]).map((r) => [r.partition, r.offset, Buffer.from(r.value!, 'hex').toString()]);
  const first = only(t, await runScenario('group-consume', bootstrap, { topic: 'orders', group: 'orders-app', expect: 10, 'from-beginning': 'true' }), 'group-consume');
  if (ran(t, first, 'the first consumer joins, consumes and commits')) {
    t.same(values(first).sort(), [0, 1, 2, 3, 4, 5].map((i) => [0, i, `a${i}`]).concat([0, 1, 2, 3].map((i) => [1, i, `b${i}`])).sort(), 'it reads all 10 records');
    t.same(first.committed, { 0: 6, 1: 4 }, 'its commitSync() stored its positions (committed() reads them back)');
  }

  await produceValues(c, 'orders', 0, ['a6', 'a7', 'a8']);
  await produceValues(c, 'orders', 1, ['b4', 'b5', 'b6']);
  const second = only(t, await runScenario('group-consume', bootstrap, { topic: 'orders', group: 'orders-app', expect: 6 }), 'group-consume');
  if (ran(t, second, 'a new consumer in the same group (a new JVM) joins')) {
    t.same(values(second).sort(), [[0, 6, 'a6'], [0, 7, 'a7'], [0, 8, 'a8'], [1, 4, 'b4'], [1, 5, 'b5'], [1, 6, 'b6']].sort(), 'it resumes at the committed offsets: only the 6 new records');
    t.same(second.committed, { 0: 9, 1: 7 }, 'and commits its own positions');
  }

  // Two more on partition 0, so that the group lags there.
  await produceValues(c, 'orders', 0, ['a9', 'a10']);
  const groups = await runJava('org.apache.kafka.tools.consumer.group.ConsumerGroupCommand', ['--bootstrap-server', bootstrap, '--describe', '--group', 'orders-app']);
  t.equal(groups.code, 0, 'kafka-consumer-groups --describe exits 0', { stderr: groups.stderr });
  const rows = groups.stdout
    .split('\n')
    .map((line) => line.trim().split(/\s+/))
    .filter((cols) => cols[0] === 'orders-app')
    .map((cols) => cols.slice(1, 6));
  t.same(rows, [['orders', '0', '9', '11', '2'], ['orders', '1', '7', '7', '0']], 'kafka-consumer-groups --describe: topic, partition, current offset, log end offset, lag', { stdout: groups.stdout });
  t.match(groups.stdout + groups.stderr, /Consumer group 'orders-app' has no active members/, 'and says nobody is consuming');

  const topics = await runJava('org.apache.kafka.tools.TopicCommand', ['--bootstrap-server', bootstrap, '--describe', '--topic', 'orders']);
  t.equal(topics.code, 0, 'kafka-topics --describe exits 0', { stderr: topics.stderr });
  t.match(topics.stdout, /Topic: orders\s.*PartitionCount: 2\s+ReplicationFactor: 1/, 'kafka-topics --describe: the topic line');
  for (const p of [0, 1]) t.match(topics.stdout, new RegExp(`Topic: orders\\s+Partition: ${p}\\s+Leader: \\d+\\s+Replicas: \\d+\\s+Isr: \\d+`), `kafka-topics --describe: partition ${p}'s line`);
});

t.test('e. kafka-console-producer, kafka-console-consumer and kafka-producer-perf-test with their defaults', async (t) => {
  const { bootstrap, c } = await kafkaBroker(t);
  await createTopic(c, 'console', 1);
  await createTopic(c, 'perf', 1);
  const producer = await runJava('org.apache.kafka.tools.ConsoleProducer', ['--bootstrap-server', bootstrap, '--topic', 'console'], { input: 'one\ntwo\nthree\n' });
  t.equal(producer.code, 0, 'kafka-console-producer exits 0', { stderr: producer.stderr.slice(-4000) });
  const consumer = await runJava('org.apache.kafka.tools.consumer.ConsoleConsumer', ['--bootstrap-server', bootstrap, '--topic', 'console', '--from-beginning', '--max-messages', '3', '--timeout-ms', '15000']);
  t.equal(consumer.stdout, 'one\ntwo\nthree\n', 'kafka-console-consumer --from-beginning prints what kafka-console-producer sent', { stderr: consumer.stderr.slice(-4000) });

  const perf = await runJava('org.apache.kafka.tools.ProducerPerformance', ['--topic', 'perf', '--num-records', '2000', '--record-size', '100', '--throughput', '-1', '--bootstrap-server', bootstrap]);
  t.equal(perf.code, 0, 'kafka-producer-perf-test exits 0', { stderr: perf.stderr.slice(-4000) });
  t.match(perf.stdout, /^2000 records sent/m, 'kafka-producer-perf-test: all 2000 records sent', { stdout: perf.stdout });
  const [p] = await fetch(c, [{ topic: 'perf', partition: 0, offset: 0n, maxBytes: 1 }]);
  t.equal(p!.highWatermark, 2000n, 'and the log holds them');
});

t.test('c. a static member (group.instance.id) rejoins after close without a rebalance', async (t) => {
  const { bootstrap, c } = await kafkaBroker(t);
  await createTopic(c, 'static', 2);
  const run = await runScenario('static-member', bootstrap, { topic: 'static', group: 'static-app' });
  const join = only(t, run, 'static-join');
  if (!ran(t, join, 'a dynamic member b, then a static member a, join')) return;
  const a = join.a as { assigned: unknown[]; generation: number };
  const b = join.b as { assigned: unknown[]; generation: number };
  t.equal(a.assigned.length + b.assigned.length, 2, 'the two partitions are shared out');
  t.not(JSON.stringify(a.assigned), JSON.stringify(b.assigned), 'one each');
  const rejoin = only(t, run, 'static-rejoin');
  if (!ran(t, rejoin, 'a closes (no LeaveGroup) and a new consumer with the same group.instance.id joins')) return;
  t.equal(rejoin.sameAssignment, true, 'it gets a\'s partition back');
  t.equal((rejoin.again as { generation: number }).generation, rejoin.generationBefore, 'in the same generation: no rebalance');
  t.equal((rejoin.b as { generation: number }).generation, rejoin.generationBefore, 'b stays in its generation');
  t.same(rejoin.bEventsDuringRejoin, [], 'b\'s rebalance callbacks do not fire');
});

t.test('d. AdminClient: cluster, topics, configs, partitions, offsets by spec, group offsets, records', async (t) => {
  const { broker, bootstrap, c } = await kafkaBroker(t);
  await createTopic(c, 'timed', 1);
  // One batch (as a producer sends it) of three records, timestamps of a minute ago (older ones
  // would be past Kafka's default retention, 7 days), the second record the latest.
  const minuteAgo = Date.now() - 60_000;
  await produceValues(c, 'timed', 0, ['t0', 't1', 't2'], [minuteAgo, minuteAgo + 2000, minuteAgo + 1000]);
  const run = await runScenario('admin', bootstrap, { topic: 'made-by-admin', timed: 'timed', group: 'admin-group', 'find-ms': minuteAgo + 500, 'after-all-ms': minuteAgo + 3000 });

  const cluster = only(t, run, 'describeCluster');
  if (ran(t, cluster, 'describeCluster')) {
    const nodes = cluster.nodes as Array<[number, string, number]>;
    t.same(nodes.map(([, host, port]) => [host, port]), [['127.0.0.1', broker.kafkaPort]], 'one node: this listener');
    t.equal(cluster.controller, nodes[0]?.[0], 'which is the controller');
    t.type(cluster.clusterId, 'string', 'a cluster id');
  }
  ran(t, only(t, run, 'createTopics'), 'createTopics (3 partitions, retention.ms)');
  const described = only(t, run, 'describeTopics');
  if (ran(t, described, 'describeTopics')) {
    const topic = described.topic as { name: string; internal: boolean; partitions: Array<{ partition: number; leader: number; replicas: number[]; isr: number[] }> };
    t.same([topic.name, topic.internal, topic.partitions.map((p) => p.partition)], ['made-by-admin', false, [0, 1, 2]], 'the topic and its 3 partitions');
    t.ok(topic.partitions.every((p) => p.leader !== null && p.replicas.length === 1 && p.isr.length === 1), 'each led by the one node');
  }
  const configs = only(t, run, 'describeConfigs');
  if (ran(t, configs, 'describeConfigs')) t.match(configs.configs, { 'retention.ms': '86400000', 'cleanup.policy': 'delete' }, 'the topic\'s configs, retention.ms as created');
  const altered = only(t, run, 'incrementalAlterConfigs');
  if (ran(t, altered, 'incrementalAlterConfigs SET retention.ms')) t.match(altered.configs, { 'retention.ms': '3600000' }, 'describeConfigs then reads the new value');
  const grown = only(t, run, 'createPartitions');
  if (ran(t, grown, 'createPartitions to 4')) t.equal(grown.partitions, 4, 'describeTopics then reads 4 partitions');

  // Partition 0 of `timed` holds offsets 0, 1, 2 with timestamps T, T+2 s, T+1 s: a time names the
  // first record at or after it, with that record's own timestamp (Kafka's answers, record by
  // record inside the batch); earliest and latest carry no timestamp.
  const expected: Record<string, [number, number]> = {
    earliest: [0, -1],
    latest: [3, -1],
    forTimestamp: [1, minuteAgo + 2000],
    forTimestampAfterAll: [-1, -1],
    maxTimestamp: [1, minuteAgo + 2000],
  };
  for (const [spec, offsetAndTimestamp] of Object.entries(expected)) {
    const check = run.checks.find((x) => x.check === 'listOffsets' && x.spec === spec);
    if (!check) t.fail(`no listOffsets line for ${spec}`);
    else if (ran(t, check, `listOffsets ${spec}`)) t.same(check.offsets, { 0: offsetAndTimestamp }, `listOffsets ${spec}: offset and timestamp`);
  }

  ran(t, only(t, run, 'commitOffsets'), 'a consumer commits offset 2 with metadata (assign + commitSync)');
  const groupOffsets = only(t, run, 'listConsumerGroupOffsets');
  if (ran(t, groupOffsets, 'listConsumerGroupOffsets')) t.same(groupOffsets.offsets, { 'timed:0': [2, 'from the admin scenario'] }, 'the committed offset and its metadata');
  const deleted = only(t, run, 'deleteConsumerGroups');
  if (ran(t, deleted, 'deleteConsumerGroups')) t.same(deleted.offsetsAfter, {}, 'the group\'s offsets are gone');
  const records = only(t, run, 'deleteRecords');
  if (ran(t, records, 'deleteRecords before offset 1')) {
    t.equal(records.lowWatermark, 1, 'the new low watermark');
    t.same(records.earliestAfter, { 0: [1, -1] }, 'listOffsets earliest then says 1');
  }
});
