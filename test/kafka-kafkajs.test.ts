// KafkaJS 2.2.4, unmodified, against a real broker process's Kafka listener: producers with acks
// -1 and 1, a consumer group of 3 on 6 partitions (subscribe + run), a member leaving and the
// others taking its partitions, a restart that resumes from committed offsets, and data crossing
// between the two protocols byte for byte (keys, values, headers), with the group visible to
// `sluice groups describe`.

import t from 'tap';
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { Kafka, logLevel, type Consumer, type EachMessagePayload } from 'kafkajs';
import { decodeRecordBatches, encodeRecordBatch } from '../src/protocol/record-batch.js';
import { MAIN, createTopic, fetch, produce, startBroker, type RunningBroker } from './helpers/broker.js';
import { tmpDir } from './helpers/tmp.js';

const GROUP_DELAY_MS = 1500;

function kafkaOf(broker: RunningBroker, clientId = 'kafkajs-test'): Kafka {
  return new Kafka({ brokers: [`127.0.0.1:${broker.kafkaPort}`], clientId, logLevel: logLevel.NOTHING, retry: { retries: 8, initialRetryTime: 100 } });
}

/** Resolves when `check` is true, polling; rejects after `ms`. */
async function until(check: () => boolean, ms: number, what: string): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

interface Member {
  consumer: Consumer;
  /** The partitions of the latest generation this member joined. */
  assigned: number[];
}

async function startMember(kafka: Kafka, groupId: string, topic: string, seen: Map<string, number>): Promise<Member> {
  const consumer = kafka.consumer({ groupId, sessionTimeout: 10_000, heartbeatInterval: 500, maxWaitTimeInMs: 200 });
  const member: Member = { consumer, assigned: [] };
  consumer.on(consumer.events.GROUP_JOIN, (e) => {
    member.assigned = [...(e.payload.memberAssignment[topic] ?? [])].sort((a, b) => a - b);
  });
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  await consumer.run({
    eachMessage: async ({ message }: EachMessagePayload) => {
      const v = message.value!.toString();
      seen.set(v, (seen.get(v) ?? 0) + 1);
    },
  });
  return member;
}

t.test('kafkajs producers (acks -1 and 1) write what a Sluice fetch reads byte for byte', async (t) => {
  const broker = await startBroker(t, { kafka: true });
  const kafka = kafkaOf(broker);
  const admin = kafka.admin();
  await admin.connect();
  t.teardown(() => admin.disconnect());
  t.equal(await admin.createTopics({ topics: [{ topic: 'bytes', numPartitions: 2 }] }), true, 'CreateTopics through the Kafka port');
  const producer = kafka.producer();
  await producer.connect();
  t.teardown(() => producer.disconnect());

  const sent: Array<{ key: Buffer; value: Buffer; header: Buffer }> = [];
  for (const acks of [-1, 1]) {
    const messages = Array.from({ length: 20 }, () => ({ key: randomBytes(8), value: randomBytes(100), headers: { bin: randomBytes(5) }, partition: 1 }));
    const [result] = await producer.send({ topic: 'bytes', acks, messages });
    t.equal(result!.errorCode, 0, `acks ${acks} acknowledged`);
    t.equal(BigInt(result!.baseOffset!), BigInt(sent.length), `acks ${acks}: the base offset names where the batch landed`);
    sent.push(...messages.map((m) => ({ key: m.key, value: m.value, header: m.headers.bin })));
  }
  const [p] = await fetch(await broker.connect(), [{ topic: 'bytes', partition: 1, offset: 0n, maxBytes: 1 << 20 }]);
  t.equal(p!.highWatermark, 40n);
  const records = decodeRecordBatches(p!.records).flatMap((b) => b.records);
  t.equal(records.length, 40);
  t.ok(records.every((r, i) => r.offset === BigInt(i) && r.key!.equals(sent[i]!.key) && r.value!.equals(sent[i]!.value) && r.headers[0]!.value!.equals(sent[i]!.header)), 'keys, values and headers identical');

  // And the other way: a Sluice produce read by a kafkajs consumer.
  const c = await broker.connect();
  await createTopic(c, 'from-sluice', 1);
  const value = randomBytes(64);
  const [produced] = await produce(c, [{ topic: 'from-sluice', partition: 0, batches: encodeRecordBatch([{ key: 'k', value, headers: [{ key: 'h', value: Buffer.from([0, 255]) }] }]) }]);
  t.notOk(produced!.error);
  const consumer = kafka.consumer({ groupId: 'reader', maxWaitTimeInMs: 100 });
  await consumer.connect();
  t.teardown(() => consumer.disconnect());
  await consumer.subscribe({ topic: 'from-sluice', fromBeginning: true });
  const got = await new Promise<EachMessagePayload['message']>((resolve) => void consumer.run({ eachMessage: async ({ message }) => resolve(message) }));
  t.equal(got.key!.toString(), 'k');
  t.ok(got.value!.equals(value), 'value identical');
  t.same([...(got.headers!.h as Buffer)], [0, 255], 'header identical');
});

t.test('a kafkajs producer with idempotent: true: InitProducerId, sequences per partition, each message once', async (t) => {
  const broker = await startBroker(t, { kafka: true });
  const kafka = kafkaOf(broker);
  const admin = kafka.admin();
  await admin.connect();
  t.teardown(() => admin.disconnect());
  await admin.createTopics({ topics: [{ topic: 'exactly-once', numPartitions: 2 }] });
  const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
  await producer.connect();
  t.teardown(() => producer.disconnect());
  for (let round = 0; round < 3; round++) {
    const [result] = await producer.send({ topic: 'exactly-once', acks: -1, messages: Array.from({ length: 10 }, (_, i) => ({ value: `r${round}-${i}`, partition: 0 })) });
    t.same([result!.errorCode, result!.baseOffset], [0, String(round * 10)], `round ${round}: acknowledged at ${round * 10}`);
  }
  await producer.send({ topic: 'exactly-once', acks: -1, messages: [{ value: 'other', partition: 1 }] });
  const c = await broker.connect();
  const [p0, p1] = await fetch(c, [
    { topic: 'exactly-once', partition: 0, offset: 0n, maxBytes: 1 << 20 },
    { topic: 'exactly-once', partition: 1, offset: 0n, maxBytes: 1 << 20 },
  ]);
  const batches = decodeRecordBatches(p0!.records);
  t.same(batches.map((b) => b.baseSequence), [0, 10, 20], 'partition 0: sequences 0, 10, 20');
  t.ok(batches.every((b) => b.producerId >= 0n && b.producerId === batches[0]!.producerId && b.producerEpoch === 0), 'one producer id, epoch 0');
  t.same(decodeRecordBatches(p1!.records).map((b) => [b.producerId, b.baseSequence]), [[batches[0]!.producerId, 0]], 'partition 1 counts its own sequences');
  t.equal(p0!.highWatermark, 30n);
});

t.test('a kafkajs group of 3 on 6 partitions: balanced, rebalanced when a member leaves, resumed from committed offsets after a restart', async (t) => {
  const dataDir = tmpDir(t);
  const args = ['--group-initial-rebalance-delay-ms', String(GROUP_DELAY_MS)];
  let broker = await startBroker(t, { dataDir, kafka: true, args });
  let kafka = kafkaOf(broker);
  const admin = kafka.admin();
  await admin.connect();
  await admin.createTopics({ topics: [{ topic: 'work', numPartitions: 6 }] });
  await admin.disconnect();
  const producer = kafka.producer();
  await producer.connect();
  const send = async (from: number, count: number) => {
    for (let p = 0; p < 6; p++) {
      await producer.send({ topic: 'work', acks: -1, messages: Array.from({ length: count }, (_, i) => ({ value: `m${from + p * count + i}`, partition: p })) });
    }
  };
  await send(0, 10);

  const seen = new Map<string, number>();
  const members = await Promise.all([0, 1, 2].map(() => startMember(kafka, 'workers', 'work', seen)));
  t.teardown(() => Promise.all(members.map((m) => m.consumer.disconnect().catch(() => undefined))));
  await until(() => seen.size === 60, 30_000, 'the first 60 messages');
  await until(() => members.every((m) => m.assigned.length === 2), 10_000, 'a balanced assignment');
  t.same(members.flatMap((m) => m.assigned).sort(), [0, 1, 2, 3, 4, 5], 'each of the 6 partitions has exactly one of the 3 members');

  // One member leaves (LeaveGroup): the other two rebalance and take its partitions.
  await members[2]!.consumer.disconnect();
  await until(() => members[0]!.assigned.length === 3 && members[1]!.assigned.length === 3, 30_000, 'the rebalance after a leave');
  t.same([...members[0]!.assigned, ...members[1]!.assigned].sort(), [0, 1, 2, 3, 4, 5], 'the two remaining members cover every partition');
  await send(60, 5);
  await until(() => seen.size === 90, 30_000, 'the next 30 messages');
  t.ok([...seen.values()].every((n) => n === 1), 'no message twice within stable generations');
  await Promise.all(members.slice(0, 2).map((m) => m.consumer.disconnect()));
  await producer.disconnect();

  // Restart: kafkajs commits what it processed; a new member starts from those commits.
  t.equal(await broker.stop('SIGKILL'), null, 'killed');
  broker = await startBroker(t, { dataDir, kafka: true, args });
  kafka = kafkaOf(broker);
  const again = kafka.producer();
  await again.connect();
  for (let p = 0; p < 6; p++) await again.send({ topic: 'work', acks: -1, messages: [{ value: `after-restart-${p}`, partition: p }] });
  await again.disconnect();

  const described = spawnSync(process.execPath, [MAIN, 'groups', 'describe', 'workers', '--broker', `127.0.0.1:${broker.port}`], { encoding: 'utf8' });
  t.equal(described.status, 0, described.stderr);
  const rows = described.stdout.split('\n').filter((l) => /^work\s/.test(l)).map((l) => l.trim().split(/\s+/));
  t.same(rows.map((r) => [r[1], r[2], r[3], r[4]]), [0, 1, 2, 3, 4, 5].map((p) => [String(p), '15', '16', '1']), 'sluice groups describe: committed 15 of 16 in each partition, lag 1');

  const resumed = new Map<string, number>();
  const member = await startMember(kafka, 'workers', 'work', resumed);
  t.teardown(() => member.consumer.disconnect().catch(() => undefined));
  await until(() => resumed.size === 6, 30_000, 'the messages produced after the restart');
  await new Promise((r) => setTimeout(r, 500));
  t.same([...resumed.keys()].sort(), [0, 1, 2, 3, 4, 5].map((p) => `after-restart-${p}`), 'only what was produced after the last commit');
});

t.test("kafkajs admin.resetOffsets({ earliest }) commits -2, which Kafka accepts; consumers of the group go on without an error", async (t) => {
  const broker = await startBroker(t, { kafka: true, args: ['--group-initial-rebalance-delay-ms', '0'] });
  const kafka = kafkaOf(broker);
  const admin = kafka.admin();
  await admin.connect();
  t.teardown(() => admin.disconnect());
  await admin.createTopics({ topics: [{ topic: 'reset', numPartitions: 1 }] });
  const producer = kafka.producer();
  await producer.connect();
  await producer.send({ topic: 'reset', messages: Array.from({ length: 5 }, (_, i) => ({ value: `r${i}` })) });
  await producer.disconnect();
  // The group has committed past everything; a reset to earliest (the group has no members) must be accepted.
  await admin.setOffsets({ groupId: 'again', topic: 'reset', partitions: [{ partition: 0, offset: '5' }] });
  await admin.resetOffsets({ groupId: 'again', topic: 'reset', earliest: true });
  t.same((await admin.fetchOffsets({ groupId: 'again', topics: ['reset'] }))[0]!.partitions, [{ partition: 0, offset: '-2', metadata: null }], 'stored as committed');
  // kafkajs's consumer treats a negative committed offset as none and applies its own policy
  // (fromBeginning here); before, the commit itself failed and the consumer crashed.
  const seen: string[] = [];
  const consumer = kafka.consumer({ groupId: 'again', maxWaitTimeInMs: 100 });
  await consumer.connect();
  await consumer.subscribe({ topic: 'reset', fromBeginning: true });
  await consumer.run({ eachMessage: async ({ message }) => void seen.push(message.value!.toString()) });
  await until(() => seen.length >= 5, 30_000, 'the reset group to read from the beginning');
  await consumer.disconnect();
  t.same(seen, ['r0', 'r1', 'r2', 'r3', 'r4']);
  // Sluice's consumer reads -2 as the tool meant it, earliest, whatever its own reset policy.
  await admin.resetOffsets({ groupId: 'sluice-reset', topic: 'reset', earliest: true });
  const { Consumer: SluiceConsumer } = await import('../src/client/consumer.js');
  const sluice = new SluiceConsumer({ broker: `127.0.0.1:${broker.port}`, groupId: 'sluice-reset', autoCommit: false });
  t.teardown(() => sluice.close());
  sluice.subscribe(['reset']);
  const values: string[] = [];
  for await (const m of sluice) {
    values.push(m.value!.toString());
    if (values.length === 5) break;
  }
  t.same(values, ['r0', 'r1', 'r2', 'r3', 'r4']);
});
