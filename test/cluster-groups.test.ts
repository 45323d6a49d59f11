// Consumer groups in a cluster, for real: etcd and three `sluice broker` processes on loopback.
// `__consumer_offsets` is a replicated topic created at the first FindCoordinator; both doors name
// the leader of the group's partition (Kafka's hash rule) as its coordinator, and every other
// broker answers the group's requests NOT_COORDINATOR. A kafkajs group of two members consumes an
// RF=3 topic with commits; the coordinator's broker is SIGKILLed mid-way; the group finds the
// new leader of its offsets partition, rebalances there and finishes. Every record is consumed,
// no commit acknowledged before the kill is lost, and the committed offsets end at the log end.

import t from 'tap';
import { Kafka, logLevel, type Consumer } from 'kafkajs';
import { Admin } from '../src/client/admin.js';
import { Connection } from '../src/client/connection.js';
import { OFFSETS_TOPIC, offsetsPartitionFor } from '../src/group/offsets-topic.js';
import { KafkaApi } from '../src/doors/kafka/apis.js';
import { ApiKey } from '../src/protocol/messages.js';
import { call } from './helpers/broker.js';
import { RawKafka } from './helpers/kafka-wire.js';
import { partitionOf, startCluster, type TestCluster } from './harness/cluster.js';

const GROUP = 'cluster-orders';
const TOPIC = 'orders';
const PARTITIONS = 4;
const OFFSETS_PARTITIONS = 10;
const PER_PHASE = 200;

const errorCode = (p: Promise<unknown>) => p.then(() => 'ok', (err: { code?: string }) => err.code ?? String(err));

async function sluice(cluster: TestCluster, nodeId: number): Promise<Connection> {
  return Connection.connect({ host: '127.0.0.1', port: cluster.broker(nodeId).port });
}

/** Polls `attempt` until it resolves (it throws while the cluster is not there yet); fails after `timeoutMs` with the last error. */
async function eventually<T>(what: string, attempt: () => Promise<T>, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await attempt();
    } catch (err) {
      if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}: ${String((err as Error).message ?? err)}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** FindCoordinator at broker `via` over Sluice's protocol. */
async function findCoordinator(cluster: TestCluster, via: number): Promise<{ nodeId: number; host: string; port: number }> {
  const c = await sluice(cluster, via);
  try {
    return await call<{ nodeId: number; host: string; port: number }>(c, ApiKey.FindCoordinator, { groupId: GROUP });
  } finally {
    await c.close();
  }
}

/** FindCoordinator v4 at broker `via` over Kafka's protocol. */
async function findKafkaCoordinator(cluster: TestCluster, via: number): Promise<{ node: number; host: string; port: number; error: number }> {
  const k = await RawKafka.connect(cluster.broker(via).kafkaPort);
  try {
    const r = await k.request(KafkaApi.FindCoordinator, 4, (w) => w.noTaggedFields().int8(0).compactArray([GROUP], (w, key) => w.compactString(key)).noTaggedFields());
    r.taggedFields();
    r.int32();
    const [answer] = r.compactArray((c) => {
      const entry = { key: c.compactString(), node: c.int32(), host: c.compactString(), port: c.int32(), error: c.int16(), message: c.compactNullableString() };
      c.taggedFields();
      return entry;
    });
    return { node: answer!.node, host: answer!.host, port: answer!.port, error: answer!.error };
  } finally {
    k.close();
  }
}

/** The group's committed offsets by partition, asked of broker `via` over Sluice's protocol (throws NOT_COORDINATOR elsewhere). */
async function committedAt(cluster: TestCluster, via: number): Promise<Map<number, bigint | null>> {
  const c = await sluice(cluster, via);
  try {
    const r = await call<{ partitions: Array<{ partition: number; offset: bigint | null }> }>(c, ApiKey.OffsetFetch, {
      groupId: GROUP,
      partitions: Array.from({ length: PARTITIONS }, (_, partition) => ({ topic: TOPIC, partition })),
    });
    return new Map(r.partitions.map((p) => [p.partition, p.offset === null ? null : BigInt(p.offset)]));
  } finally {
    await c.close();
  }
}

async function describeGroupAt(cluster: TestCluster, via: number): Promise<{ state: string; generationId: number; members: unknown[] }> {
  const c = await sluice(cluster, via);
  try {
    const r = await call<{ groups: Array<{ state: string; generationId: number; members: unknown[]; error?: { code: string } }> }>(c, ApiKey.DescribeGroups, { groups: [GROUP] });
    const g = r.groups[0]!;
    if (g.error) throw Object.assign(new Error(g.error.code), { code: g.error.code });
    return g;
  } finally {
    await c.close();
  }
}

t.test('the coordinator is the leader of the group offsets partition; a kafkajs group survives its SIGKILL', async (t) => {
  const cluster = await startCluster(t, { args: ['--group-initial-rebalance-delay-ms', '500'] });
  const index = offsetsPartitionFor(GROUP, OFFSETS_PARTITIONS);
  t.comment(`group ${GROUP} maps to ${OFFSETS_TOPIC}-${index}`);

  const admin = new Admin({ broker: `127.0.0.1:${cluster.brokers[0]!.port}` });
  t.teardown(() => admin.close());
  await admin.createTopic(TOPIC, { partitions: PARTITIONS, replicationFactor: 3 });
  await cluster.waitFor((d) => Array.from({ length: PARTITIONS }, (_, p) => partitionOf(d, TOPIC, p)).every((p) => p.isr?.length === 3), `${TOPIC} with three in-sync replicas everywhere`);
  t.notOk((await cluster.describe()).topics.some((x) => x.name === OFFSETS_TOPIC), 'no offsets topic before the first lookup');

  // The first lookup creates the offsets topic through the cluster; it may answer COORDINATOR_NOT_AVAILABLE until it is placed.
  const first = await eventually('a coordinator', () => findCoordinator(cluster, 1));
  const placed = await cluster.waitFor((d) => {
    const topic = d.topics.find((x) => x.name === OFFSETS_TOPIC);
    return topic !== undefined && topic.partitions.every((p) => p.isr?.length === 3);
  }, 'the offsets topic with three in-sync replicas everywhere');
  const offsetsTopic = placed.topics.find((x) => x.name === OFFSETS_TOPIC)!;
  t.equal(offsetsTopic.partitions.length, OFFSETS_PARTITIONS, '--offsets-topic-partitions partitions');
  t.ok(offsetsTopic.internal, 'listed as internal');
  t.ok(offsetsTopic.partitions.every((p) => p.replicas?.length === 3), '--offsets-topic-replication-factor replicas each');
  const coordinator = partitionOf(placed, OFFSETS_TOPIC, index).leader;
  t.equal(first.nodeId, coordinator, `FindCoordinator names broker ${coordinator}, the leader of ${OFFSETS_TOPIC}-${index}`);
  for (const b of cluster.brokers) {
    t.same(await findCoordinator(cluster, b.nodeId), { nodeId: coordinator, host: '127.0.0.1', port: cluster.broker(coordinator).port }, `Sluice door of broker ${b.nodeId}: the leader, at its Sluice port`);
    t.same(await findKafkaCoordinator(cluster, b.nodeId), { node: coordinator, host: '127.0.0.1', port: cluster.broker(coordinator).kafkaPort, error: 0 }, `Kafka door of broker ${b.nodeId}: the leader, at its Kafka port`);
  }

  // Clients cannot write to it, delete it or grow it.
  const toAny = await sluice(cluster, 1);
  t.teardown(() => toAny.close());
  const deleted = await call<{ topics: Array<{ error?: { code: string } }> }>(toAny, ApiKey.DeleteTopics, { topics: [OFFSETS_TOPIC] });
  t.equal(deleted.topics[0]?.error?.code, 'INVALID_TOPIC_EXCEPTION', 'DeleteTopics refused');
  const grown = await call<{ topics: Array<{ error?: { code: string } }> }>(toAny, ApiKey.CreatePartitions, { topics: [{ name: OFFSETS_TOPIC, count: 20 }] });
  t.equal(grown.topics[0]?.error?.code, 'INVALID_TOPIC_EXCEPTION', 'CreatePartitions refused');

  const kafka = new Kafka({ brokers: cluster.kafkaBootstrap(), clientId: 'cluster-groups', logLevel: logLevel.NOTHING, retry: { retries: 30, initialRetryTime: 100, maxRetryTime: 1000 } });
  const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
  await producer.connect();
  t.teardown(() => producer.disconnect().catch(() => undefined));
  const produced: string[] = [];
  const producePhase = async (phase: number) => {
    for (let i = 0; i < PER_PHASE; i++) {
      const value = `phase-${phase}-record-${i}`;
      await producer.send({ topic: TOPIC, acks: -1, messages: [{ key: `k${i}`, value }] });
      produced.push(value);
    }
  };
  const kafkaAdmin = kafka.admin();
  await kafkaAdmin.connect();
  t.teardown(() => kafkaAdmin.disconnect().catch(() => undefined));
  const logEnds = async () => new Map((await kafkaAdmin.fetchTopicOffsets(TOPIC)).map((o) => [o.partition, BigInt(o.high)]));
  await producePhase(1);
  const phase1Ends = await logEnds();

  // Two members; every commit kafkajs reports acknowledged is remembered per partition.
  const consumed = new Set<string>();
  const acked = new Map<number, bigint>();
  const consumers: Consumer[] = [];
  for (let m = 0; m < 2; m++) {
    // kafkajs keeps heartbeating the coordinator it joined at until its retries run out, then restarts the
    // consumer, which finds the coordinator again: short fetch waits and fewer retries make that take seconds, not minutes.
    const consumer = kafka.consumer({
      groupId: GROUP,
      sessionTimeout: 6_000,
      heartbeatInterval: 300,
      rebalanceTimeout: 10_000,
      maxWaitTimeInMs: 500,
      retry: { retries: 10, initialRetryTime: 100, maxRetryTime: 1000 },
    });
    consumer.on(consumer.events.CRASH, (e) => t.comment(`${new Date().toISOString()} member ${m} crashed: ${e.payload.error.name} ${e.payload.error.message} restart=${e.payload.restart}`));
    consumer.on(consumer.events.STOP, () => t.comment(`${new Date().toISOString()} member ${m} stopped`));
    consumer.on(consumer.events.GROUP_JOIN, (e) => t.comment(`${new Date().toISOString()} member ${m} joined generation ${e.payload.groupId} ${e.payload.memberId} ${JSON.stringify(e.payload.memberAssignment)}`));
    consumer.on(consumer.events.COMMIT_OFFSETS, (e) => {
      for (const topic of e.payload.topics) {
        for (const p of topic.partitions) {
          const offset = BigInt(p.offset);
          if (offset > (acked.get(Number(p.partition)) ?? -1n)) acked.set(Number(p.partition), offset);
        }
      }
    });
    await consumer.connect();
    t.teardown(() => consumer.disconnect().catch(() => undefined));
    await consumer.subscribe({ topic: TOPIC, fromBeginning: true });
    await consumer.run({ autoCommitInterval: 100, autoCommitThreshold: 10, eachMessage: async ({ message }) => void consumed.add(message.value!.toString()) });
    consumers.push(consumer);
  }
  const caughtUp = (ends: Map<number, bigint>) => [...ends].every(([p, end]) => (acked.get(p) ?? -1n) >= end);
  await eventually('the group to consume and commit the first half', async () => {
    if (!produced.every((v) => consumed.has(v)) || !caughtUp(phase1Ends)) throw new Error(`consumed ${consumed.size}, acked ${JSON.stringify([...acked].map(String))}`);
  }, 60_000);
  const before = await describeGroupAt(cluster, coordinator);
  t.equal(before.state, 'Stable', 'the group is stable at the coordinator');
  t.equal(before.members.length, 2, 'with both members');

  // Requests for the group at the other brokers: NOT_COORDINATOR, in both doors.
  const others = cluster.brokers.map((b) => b.nodeId).filter((id) => id !== coordinator);
  for (const id of others) {
    const c = await sluice(cluster, id);
    t.teardown(() => c.close());
    const codes = {
      join: await errorCode(call(c, ApiKey.JoinGroup, { groupId: GROUP, memberId: '', sessionTimeoutMs: 10_000, protocolType: 'consumer', protocols: [{ name: 'range', metadata: Buffer.alloc(0) }] })),
      heartbeat: await errorCode(call(c, ApiKey.Heartbeat, { groupId: GROUP, generationId: before.generationId, memberId: 'm' })),
      commit: await errorCode(call(c, ApiKey.OffsetCommit, { groupId: GROUP, generationId: -1, memberId: '', offsets: [{ topic: TOPIC, partition: 0, offset: 0n }] })),
      fetch: await errorCode(committedAt(cluster, id)),
      describe: await errorCode(describeGroupAt(cluster, id)),
      delete: (await call<{ groups: Array<{ error?: { code: string } }> }>(c, ApiKey.DeleteGroups, { groupIds: [GROUP] })).groups[0]?.error?.code,
    };
    t.same(codes, { join: 'NOT_COORDINATOR', heartbeat: 'NOT_COORDINATOR', commit: 'NOT_COORDINATOR', fetch: 'NOT_COORDINATOR', describe: 'NOT_COORDINATOR', delete: 'NOT_COORDINATOR' }, `broker ${id} (Sluice door): NOT_COORDINATOR`);
    const listed = await call<{ groups: Array<{ groupId: string }> }>(c, ApiKey.ListGroups, {});
    t.notOk(listed.groups.some((g) => g.groupId === GROUP), `broker ${id} does not list the group`);
    const k = await RawKafka.connect(cluster.broker(id).kafkaPort);
    t.teardown(() => k.close());
    const heartbeat = await k.request(KafkaApi.Heartbeat, 0, (w) => w.string(GROUP).int32(before.generationId).string('m'));
    t.equal(heartbeat.int16(), 16, `broker ${id} (Kafka door): Heartbeat NOT_COORDINATOR (16)`);
    const fetched = await k.request(KafkaApi.OffsetFetch, 2, (w) => w.string(GROUP).int32(-1));
    t.equal(fetched.int32(), 0, 'no topics');
    t.equal(fetched.int16(), 16, `broker ${id} (Kafka door): OffsetFetch NOT_COORDINATOR (16)`);
  }
  const atCoordinator = await sluice(cluster, coordinator);
  const listedThere = await call<{ groups: Array<{ groupId: string }> }>(atCoordinator, ApiKey.ListGroups, {});
  await atCoordinator.close();
  t.ok(listedThere.groups.some((g) => g.groupId === GROUP), 'the coordinator lists the group');

  // The coordinator's broker dies; commits it acknowledged are on the offsets partition's other replicas.
  const ackedBeforeKill = new Map(acked);
  await cluster.kill(coordinator, 'SIGKILL');
  t.comment(`${new Date().toISOString()} killed broker ${coordinator}`);
  const moved = await cluster.waitFor((d) => partitionOf(d, OFFSETS_TOPIC, index).leader >= 0 && partitionOf(d, OFFSETS_TOPIC, index).leader !== coordinator, `a new leader of ${OFFSETS_TOPIC}-${index}`, 30_000, others[0]);
  const next = partitionOf(moved, OFFSETS_TOPIC, index).leader;
  t.ok(others.includes(next), `broker ${next} leads ${OFFSETS_TOPIC}-${index} now`);
  for (const id of others) t.equal((await eventually('FindCoordinator', () => findCoordinator(cluster, id))).nodeId, next, `broker ${id} names broker ${next} the coordinator`);
  const survived = await eventually('the new coordinator to answer OffsetFetch', () => committedAt(cluster, next));
  for (const [p, offset] of ackedBeforeKill) t.ok((survived.get(p) ?? -1n) >= offset, `partition ${p}: the commit of ${offset} acknowledged before the kill is at the new coordinator (${survived.get(p)})`);

  // The second half goes through the failover; the group finishes at its new coordinator.
  await producePhase(2);
  const finalEnds = await logEnds();
  t.same([...finalEnds.values()].reduce((a, b) => a + b, 0n), BigInt(2 * PER_PHASE), 'every record is in the log once');
  await eventually('the group to consume and commit everything', async () => {
    if (!produced.every((v) => consumed.has(v)) || !caughtUp(finalEnds)) throw new Error(`consumed ${consumed.size} of ${produced.length}, acked ${JSON.stringify([...acked].map(String))}`);
  }, 90_000);
  t.ok(produced.every((v) => consumed.has(v)), `every one of the ${produced.length} records consumed at least once`);
  const after = await eventually('the group stable at the new coordinator with both members', async () => {
    const g = await describeGroupAt(cluster, next);
    if (g.state !== 'Stable' || g.members.length !== 2) throw new Error(`${g.state} with ${g.members.length} members`);
    return g;
  }, 120_000);
  t.ok(after.generationId > before.generationId, `the group rebalanced at the new coordinator: generation ${before.generationId} → ${after.generationId}`);

  // The committed offsets, read from a broker that survived (and through Kafka's admin, which finds the coordinator itself), are at the log end.
  const committed = await committedAt(cluster, next);
  for (const [p, end] of finalEnds) t.equal(committed.get(p), end, `partition ${p}: committed at the log end ${end}`);
  const viaKafka = await kafkaAdmin.fetchOffsets({ groupId: GROUP, topics: [TOPIC] });
  t.same(
    viaKafka[0]!.partitions.map((p) => [p.partition, BigInt(p.offset)]).sort((a, b) => Number(a[0]) - Number(b[0])),
    [...finalEnds].sort((a, b) => a[0] - b[0]),
    'kafkajs admin reads the same offsets',
  );
  await Promise.all(consumers.map((c) => c.disconnect()));
});
