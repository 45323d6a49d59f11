// Sluice's own client against a replicated cluster, for real: etcd and three `sluice broker`
// processes on loopback, an RF=3 topic of three partitions with min.insync.replicas 2. An
// idempotent acks=all Producer, bootstrapped with every broker, sends each partition's records to
// its leader while the leader of partition 0 is SIGKILLed a third of the way through: every send()
// resolves (the producer follows the leadership to the new leader), and a Consumer without a group
// then reads every partition from its leader to the end: every record once, in send() order per
// partition. A bootstrap list whose first address is dead works too (the client tries the next),
// and a push Subscription subscribes at its partition's leader. With the killed broker back, a
// consumer group bootstrapped only with brokers that do not coordinate it reads everything and
// commits through the coordinator FindCoordinator names, and Admin describes and lists it there.

import t from 'tap';
import { Admin } from '../src/client/admin.js';
import { BrokerClient } from '../src/client/broker-client.js';
import { Consumer } from '../src/client/consumer.js';
import { Producer } from '../src/client/producer.js';
import { Subscription } from '../src/client/subscription.js';
import type { FindCoordinatorResponse } from '../src/protocol/group-messages.js';
import { ApiKey } from '../src/protocol/messages.js';
import { partitionOf, startCluster, type TestCluster } from './harness/cluster.js';

const TOPIC = 'routed';
const PARTITIONS = 3;

const bootstrap = (cluster: TestCluster, nodeIds = cluster.brokers.map((b) => b.nodeId)) => nodeIds.map((id) => `127.0.0.1:${cluster.broker(id).port}`).join(',');

/** Polls `check` until it holds (conditions, never sleeps, decide the test). */
async function until(what: string, check: () => Promise<boolean>, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Each partition's end offset (ListOffsets latest, at its leader). */
async function endOffsets(broker: string): Promise<bigint[]> {
  const client = new BrokerClient({ broker, retries: 10 });
  try {
    const r = await client.listOffsets(Array.from({ length: PARTITIONS }, (_, partition) => ({ topic: TOPIC, partition, timestamp: -1n })));
    return r.map((p) => {
      if (p.error) throw new Error(`${p.topic}-${p.partition}: ${p.error.code} ${p.error.message}`);
      return p.offset!;
    });
  } finally {
    await client.close();
  }
}

/** Every record value of every partition, read from offset 0 to `ends`, in offset order per partition. */
async function readAll(broker: string, ends: readonly bigint[], timeoutMs = 90_000): Promise<string[][]> {
  const consumer = new Consumer({ broker, maxWaitMs: 200 });
  // A consumer that fetched from a follower would be refused forever: fail, rather than wait for tap's timeout.
  const timer = setTimeout(() => void consumer.close(), timeoutMs);
  try {
    await consumer.assign(Array.from({ length: PARTITIONS }, (_, partition) => ({ topic: TOPIC, partition, offset: 0n })));
    const values: string[][] = Array.from({ length: PARTITIONS }, () => []);
    const next = Array.from({ length: PARTITIONS }, () => 0n);
    if (next.every((n, p) => n >= ends[p]!)) return values;
    for await (const batch of consumer.batches()) {
      for (const m of batch.messages) {
        values[m.partition]!.push(m.value!.toString());
        next[m.partition] = m.offset + 1n;
      }
      if (next.every((n, p) => n >= ends[p]!)) break;
    }
    if (next.some((n, p) => n < ends[p]!)) throw new Error(`read up to ${next.join(', ')} of ${ends.join(', ')} in ${timeoutMs} ms`);
    return values;
  } finally {
    clearTimeout(timer);
    await consumer.close();
  }
}

t.test("the client routes to each partition's leader and follows it through a leader SIGKILL", async (t) => {
  const cluster = await startCluster(t);
  const everyBroker = bootstrap(cluster);
  const admin = new Admin({ broker: everyBroker });
  await admin.createTopic(TOPIC, { partitions: PARTITIONS, replicationFactor: 3, config: { minInsyncReplicas: 2 } });
  await admin.close();
  const placed = await cluster.waitFor(
    (d) => Array.from({ length: PARTITIONS }, (_, p) => partitionOf(d, TOPIC, p)).every((p) => p.leader >= 0 && p.isr?.length === 3),
    `${TOPIC}: a leader and three in-sync replicas for each partition`,
  );
  const leaders = Array.from({ length: PARTITIONS }, (_, p) => partitionOf(placed, TOPIC, p).leader);
  const victim = leaders[0]!;
  t.comment(`leaders: ${leaders.join(', ')}; broker ${victim} (partition 0's) is killed`);

  await t.test('an idempotent acks=all producer rides through the election: every send() resolves', async (t) => {
    // Retries enough to outlast the election (the session timeout is 2 s; a loaded machine adds to it).
    const producer = new Producer({ broker: everyBroker, acks: 'all', idempotent: true, retries: 20 });
    t.teardown(() => producer.close());
    const total = 3_000;
    const sent: string[][] = Array.from({ length: PARTITIONS }, () => []);
    /** Per partition, the offset each send() resolved with, in send() order. */
    const offsets: bigint[][] = Array.from({ length: PARTITIONS }, () => []);

    // Routed at the first attempt: with no retries, a send succeeds only if it went to the leader
    // (a follower answers NOT_LEADER_OR_FOLLOWER).
    const direct = new Producer({ broker: everyBroker, acks: 1, retries: 0 });
    const first = await direct.send(TOPIC, Array.from({ length: PARTITIONS }, (_, partition) => ({ value: `first-${partition}`, partition })));
    await direct.close();
    for (const r of first) {
      sent[r.partition]!.push(`first-${r.partition}`);
      offsets[r.partition]!.push(r.offset!);
    }
    t.same(first.map((r) => r.offset), [0n, 0n, 0n], 'a producer without retries wrote to every partition: each at its leader');
    const failures: unknown[] = [];
    let acknowledged = 0;
    let kill: Promise<void> | undefined;
    let acknowledgedAtKill = 0;
    const pending = new Set<Promise<void>>();
    for (let i = 0; i < total; i++) {
      const partition = i % PARTITIONS;
      const value = `p${partition}-${i}`;
      const k = sent[partition]!.push(value) - 1;
      const send: Promise<void> = producer.send(TOPIC, { value, partition }).then(
        ([r]) => {
          offsets[partition]![k] = r!.offset!;
          acknowledged++;
        },
        (err: unknown) => void failures.push(err),
      );
      pending.add(send);
      void send.finally(() => pending.delete(send));
      // At most 60 sends outstanding: the kill lands mid-stream, with sends before and after it.
      if (pending.size >= 60) await Promise.race(pending);
      if (!kill && acknowledged >= total / 3) {
        acknowledgedAtKill = acknowledged;
        kill = cluster.kill(victim, 'SIGKILL');
      }
    }
    await Promise.all(pending);
    await kill;
    t.ok(kill, `broker ${victim} was SIGKILLed after ${acknowledgedAtKill} of ${total} sends were acknowledged`);
    t.ok(acknowledgedAtKill < total, 'sends were still to come when it died');
    t.same(failures.map(String), [], 'no send() failed');
    t.equal(acknowledged, total, 'every send() resolved with its offset');
    await producer.close();

    const after = await cluster.waitFor((d) => partitionOf(d, TOPIC, 0).leader >= 0 && partitionOf(d, TOPIC, 0).leader !== victim, 'a new leader of partition 0');
    t.not(partitionOf(after, TOPIC, 0).leader, victim, `broker ${partitionOf(after, TOPIC, 0).leader} leads partition 0 now`);

    // Read back from each partition's leader, to the end its leader acknowledges: the high
    // watermark reaches every acknowledged record once the followers caught up.
    const live = bootstrap(cluster, cluster.brokers.map((b) => b.nodeId).filter((id) => id !== victim));
    let ends: bigint[] = [];
    await until('every acknowledged record below its partition\'s high watermark', async () => {
      ends = await endOffsets(live);
      return ends.every((end, p) => end >= BigInt(sent[p]!.length));
    });
    t.same(ends, sent.map((s) => BigInt(s.length)), 'each partition holds as many records as were sent to it: none twice');
    const read = await readAll(everyBroker, ends);
    for (let p = 0; p < PARTITIONS; p++) {
      t.same(read[p], sent[p], `partition ${p}: every record once, in send() order`);
      // A retry the old leader had replicated before it died was answered with its first offset.
      t.same(offsets[p], sent[p]!.map((_, k) => BigInt(k)), `partition ${p}: each send() resolved with the offset its record is at`);
    }
  });

  await t.test('a bootstrap list whose first address is dead: the client goes on to the next', async (t) => {
    // The killed broker's address leads the list.
    const list = bootstrap(cluster, [victim, ...cluster.brokers.map((b) => b.nodeId).filter((id) => id !== victim)]);
    const admin = new Admin({ broker: list });
    t.teardown(() => admin.close());
    const described = await admin.describeCluster();
    t.equal(described.brokers.length, 2, 'the cluster is described (by a live broker): two brokers live');

    const before = await endOffsets(list);
    const producer = new Producer({ broker: list, acks: 'all' });
    t.teardown(() => producer.close());
    const values = Array.from({ length: 30 }, (_, i) => ({ value: `late-${i}`, partition: i % PARTITIONS }));
    const results = await producer.send(TOPIC, values);
    t.same(results.map((r) => r.offset! - before[r.partition]!), values.map((_, i) => BigInt(Math.floor(i / PARTITIONS))), 'written at each partition\'s end, in order');
    await producer.close();

    const consumer = new Consumer({ broker: list, maxWaitMs: 200 });
    t.teardown(() => consumer.close());
    await consumer.assign(Array.from({ length: PARTITIONS }, (_, partition) => ({ topic: TOPIC, partition, offset: before[partition]! })));
    const got: string[] = [];
    for await (const m of consumer) {
      got.push(m.value!.toString());
      if (got.length === values.length) break;
    }
    t.same([...got].sort(), values.map((v) => v.value).sort(), 'read back from each partition\'s leader');

    // A push subscription at the leader of a partition the first live broker of the list does not lead, if any.
    const now = await cluster.describe();
    const partition = Array.from({ length: PARTITIONS }, (_, p) => p).find((p) => partitionOf(now, TOPIC, p).leader !== cluster.brokers.find((b) => b.nodeId !== victim)!.nodeId) ?? 0;
    const subscription = await Subscription.open({ broker: list, topic: TOPIC, partition, offset: before[partition]! });
    t.teardown(() => subscription.close());
    const pushed: string[] = [];
    for await (const push of subscription) {
      for (const b of push.batches()) for (const r of b.records) pushed.push(r.value!.toString());
      if (pushed.length >= 10) break;
    }
    t.same(pushed, values.filter((v) => v.partition === partition).map((v) => v.value), `subscribed at partition ${partition}'s leader (broker ${partitionOf(now, TOPIC, partition).leader})`);
  });

  await t.test('a consumer group works through the coordinator FindCoordinator names', async (t) => {
    // __consumer_offsets is created with three replicas, so the killed broker comes back first.
    await cluster.start(victim);
    await cluster.waitFor((d) => d.brokers.length === 3, `broker ${victim} back`);
    const group = 'routed-readers';
    let coordinator = -1;
    await until('a coordinator for the group (the offsets topic is created at the first lookup)', async () => {
      const client = new BrokerClient({ broker: everyBroker, retries: 0 });
      try {
        coordinator = (await client.call<FindCoordinatorResponse>(ApiKey.FindCoordinator, { groupId: group })).nodeId;
        return true;
      } catch {
        return false;
      } finally {
        await client.close();
      }
    });
    // Bootstrapped only with the brokers that do not coordinate the group: they answer its requests NOT_COORDINATOR.
    const others = bootstrap(cluster, cluster.brokers.map((b) => b.nodeId).filter((id) => id !== coordinator));
    const ends = await endOffsets(everyBroker);
    const total = Number(ends.reduce((a, b) => a + b, 0n));
    const consumer = new Consumer({ broker: others, groupId: group, fromBeginning: true, maxWaitMs: 200 });
    const timer = setTimeout(() => void consumer.close(), 90_000);
    t.teardown(() => consumer.close());
    consumer.subscribe([TOPIC]);
    let read = 0;
    const next = new Map<number, bigint>();
    for await (const batch of consumer.batches()) {
      read += batch.messages.length;
      if (batch.messages.length > 0) next.set(batch.partition, batch.messages.at(-1)!.offset + 1n);
      if (read >= total) break;
    }
    clearTimeout(timer);
    t.equal(read, total, `the group (coordinated by broker ${coordinator}) read every record`);
    // What was read, committed (breaking out leaves the last batch unprocessed: delivery is at least once).
    await consumer.commit([...next].map(([partition, offset]) => ({ topic: TOPIC, partition, offset })));
    await consumer.close();

    const admin = new Admin({ broker: others });
    t.teardown(() => admin.close());
    const described = await admin.describeGroup(group);
    t.same(
      described.partitions.map((p) => [p.partition, p.committedOffset]).sort((a, b) => Number(a[0]) - Number(b[0])),
      ends.map((end, p) => [p, end]),
      'its commits are at each partition\'s end',
    );
    t.ok((await admin.listGroups()).some((g) => g.groupId === group), 'listed by the broker that coordinates it');
  });
});
