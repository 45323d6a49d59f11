// A replicated cluster, for real: etcd and three `sluice broker` processes on loopback. An RF=3
// topic gets a leader and three in-sync replicas; kafkajs produces with acks=all (idempotent)
// while the leader is SIGKILLed; a follower takes over within the session timeout and the
// producer carries on; the killed broker comes back, truncates nothing it should keep, catches
// up and rejoins the ISR; and every replica's log, read from its files after a clean stop,
// holds every acknowledged record exactly once, in order, byte for byte the same as the others.
// A paused leader (SIGSTOP past its lease) acknowledges nothing it receives after it lost its
// leadership, and its divergent tail is truncated when it returns.

import t from 'tap';
import { Kafka, logLevel } from 'kafkajs';
import { Admin } from '../src/client/admin.js';
import { Connection } from '../src/client/connection.js';
import { ApiKey } from '../src/protocol/messages.js';
import { decodeRecordBatches } from '../src/protocol/record-batch.js';
import { PartitionLog } from '../src/storage/partition-log.js';
import { join } from 'node:path';
import { batchOf } from './helpers/tmp.js';
import { spawnSync } from 'node:child_process';
import { MAIN, produce, scrape } from './helpers/broker.js';
import { partitionOf, startCluster, type TestCluster } from './harness/cluster.js';

/** Every record value of one replica's log, read from its files (the broker is stopped). */
async function replicaValues(dataDir: string, topic: string, partition = 0): Promise<{ values: string[]; bytes: Buffer }> {
  const log = await PartitionLog.open(join(dataDir, `${topic}-${partition}`));
  try {
    const chunks: Buffer[] = [];
    for (let offset = log.logStartOffset; offset < log.highWatermark; ) {
      const { data } = log.read(offset, 1 << 20);
      if (data.length === 0) break;
      chunks.push(data);
      const batches = decodeRecordBatches(data);
      const last = batches.at(-1)!;
      offset = last.baseOffset + BigInt(last.lastOffsetDelta) + 1n;
    }
    const bytes = Buffer.concat(chunks);
    return { values: decodeRecordBatches(bytes).flatMap((b) => b.records.map((r) => r.value!.toString())), bytes };
  } finally {
    await log.close();
  }
}

/**
 * Produces to the broker a cluster record names as leader, retrying while it has not taken the
 * role yet (NOT_LEADER_OR_FOLLOWER is retriable: the record is written before the leader reads it).
 */
async function produceToLeader(c: Connection, topic: string, batches: Buffer, acks: 1 | -1): Promise<Awaited<ReturnType<typeof produce>>> {
  for (let attempt = 0; ; attempt++) {
    const r = await produce(c, [{ topic, partition: 0, batches }], acks);
    if (r[0]!.error?.code !== 'NOT_LEADER_OR_FOLLOWER' || attempt >= 100) return r;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** `sluice cluster describe --output json`, asked of one broker. */
function describeCluster(cluster: TestCluster, nodeId: number) {
  const b = cluster.brokers.find((x) => x.nodeId === nodeId)!;
  const r = spawnSync(process.execPath, [MAIN, 'cluster', 'describe', '--broker', `127.0.0.1:${b.port}`, '--output', 'json'], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`cluster describe exited ${r.status}: ${r.stderr}`);
  return JSON.parse(r.stdout) as {
    controllerId: number;
    brokers: Array<{ nodeId: number; alive: boolean; controller: boolean }>;
    partitions: Array<{ topic: string; leader: number; highWatermark: string | null; logEndOffsets: Record<string, string | null> }>;
  };
}

async function createReplicated(cluster: TestCluster, topic: string, minInsyncReplicas = 2): Promise<number> {
  const admin = new Admin({ broker: `127.0.0.1:${cluster.brokers[0]!.port}` });
  try {
    await admin.createTopic(topic, { partitions: 1, replicationFactor: 3, config: { minInsyncReplicas } });
  } finally {
    await admin.close();
  }
  const c = await cluster.waitFor((d) => partitionOf(d, topic).isr?.length === 3, `${topic} with three in-sync replicas`);
  return partitionOf(c, topic).leader;
}

t.test('three brokers: acks=all through a leader SIGKILL, failover, rejoin, identical replicas', async (t) => {
  const cluster = await startCluster(t);
  const topic = 'orders';
  const firstLeader = await createReplicated(cluster, topic);
  t.ok(firstLeader >= 1 && firstLeader <= 3, `broker ${firstLeader} leads`);

  const kafka = new Kafka({ brokers: cluster.kafkaBootstrap(), clientId: 'cluster-test', logLevel: logLevel.NOTHING, retry: { retries: 30, initialRetryTime: 100, maxRetryTime: 1000 } });
  const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
  await producer.connect();
  t.teardown(() => producer.disconnect().catch(() => undefined));

  const acked: string[] = [];
  let attempts = 0;
  let killedAt = 0;
  let firstAckAfterKillMs = -1;
  const total = 400;
  for (let i = 0; acked.length < total; i++) {
    if (acked.length === 150 && killedAt === 0) {
      await cluster.kill(firstLeader, 'SIGKILL');
      killedAt = Date.now();
    }
    // A value per attempt: an attempt that failed may or may not be in the log, but never twice.
    const value = `record-${acked.length}-attempt-${attempts++}`;
    try {
      await producer.send({ topic, acks: -1, messages: [{ value }] });
      acked.push(value);
      if (killedAt > 0 && firstAckAfterKillMs < 0) firstAckAfterKillMs = Date.now() - killedAt;
    } catch {
      // Retries exhausted during the election: send the next attempt.
    }
  }
  t.ok(firstAckAfterKillMs > 0, `first acknowledgement on the new leader ${firstAckAfterKillMs} ms after the SIGKILL`);
  t.comment(`failover: leader SIGKILL to the first acks=all acknowledgement: ${firstAckAfterKillMs} ms (session timeout 2000 ms)`);

  const afterKill = await cluster.waitFor((d) => partitionOf(d, topic).leader !== firstLeader && partitionOf(d, topic).leader >= 0, 'a new leader');
  const newLeader = partitionOf(afterKill, topic);
  t.not(newLeader.leader, firstLeader, `broker ${newLeader.leader} leads now`);
  t.ok((newLeader.leaderEpoch ?? 0) > 0, `the leader epoch moved to ${newLeader.leaderEpoch}`);
  t.notOk(newLeader.isr?.includes(firstLeader), 'the killed broker left the ISR');
  const down = describeCluster(cluster, newLeader.leader);
  t.same(down.brokers.map((b) => [b.nodeId, b.alive]), [1, 2, 3].map((id) => [id, id !== firstLeader]), 'cluster describe: the killed broker is listed, not alive');
  t.equal(down.brokers.filter((b) => b.controller).length, 1, 'one controller');
  const orders = down.partitions.find((p) => p.topic === topic)!;
  t.equal(orders.leader, newLeader.leader);
  t.equal(orders.logEndOffsets[String(firstLeader)], null, 'a dead replica shows no log end');

  // The killed broker returns, catches up and rejoins the ISR.
  await cluster.start(firstLeader);
  await cluster.waitFor((d) => partitionOf(d, topic).isr?.length === 3, 'the restarted broker back in the ISR');
  await producer.disconnect();
  const up = describeCluster(cluster, firstLeader).partitions.find((p) => p.topic === topic)!;
  t.ok(BigInt(up.highWatermark!) >= BigInt(total), `cluster describe: the high watermark ${up.highWatermark} holds every acknowledged record`);
  t.same(Object.keys(up.logEndOffsets).sort(), ['1', '2', '3']);
  t.ok(Object.values(up.logEndOffsets).every((end) => end !== null), 'every replica alive again, with its log end');

  // Every replica's files: the same bytes, every acknowledged record once and in order.
  for (const b of cluster.brokers) await cluster.kill(b.nodeId, 'SIGTERM');
  const replicas = await Promise.all(cluster.brokers.map((b) => replicaValues(b.dataDir, topic)));
  for (const [i, r] of replicas.entries()) {
    t.ok(r.bytes.equals(replicas[0]!.bytes), `replica on broker ${i + 1} is byte-identical to broker 1's (${r.bytes.length} bytes)`);
    const positions = acked.map((v) => r.values.indexOf(v));
    t.equal(positions.filter((p) => p < 0).length, 0, `broker ${i + 1} holds every acknowledged record`);
    t.ok(positions.every((p, k) => k === 0 || p > positions[k - 1]!), `broker ${i + 1} holds them in the order they were acknowledged`);
    t.equal(new Set(r.values).size, r.values.length, `broker ${i + 1} holds no record twice`);
  }
});

t.test('a paused leader acknowledges nothing after it lost its leadership; its divergent tail is truncated when it returns', async (t) => {
  // Followers' fetches wait at most 200 ms at the leader: paused for longer, they have none parked
  // there, so nothing the leader appends then is on its way to them. Leases of 4 s outlast that pause.
  const cluster = await startCluster(t, { args: ['--replica-fetch-wait-max-ms', '200', '--broker-session-timeout-ms', '4000'] });
  const topic = 'paused';
  // min.insync.replicas 1 so that the acks=1 writes below are the leader's alone.
  const leader = await createReplicated(cluster, topic, 1);
  const followers = cluster.brokers.map((b) => b.nodeId).filter((id) => id !== leader);
  const toLeader = await Connection.connect({ host: '127.0.0.1', port: cluster.broker(leader).port });
  t.teardown(() => toLeader.close());
  const first = await produceToLeader(toLeader, topic, batchOf(1, 5), -1);
  t.notOk(first[0]!.error, `replicated before the pause ${JSON.stringify(first[0]!.error ?? '')}`);

  // Followers paused: the leader's next write (acks=1) reaches only its own log.
  for (const f of followers) cluster.pause(f);
  await new Promise((r) => setTimeout(r, 700));
  const unreplicated = await produce(toLeader, [{ topic, partition: 0, batches: batchOf(2, 3) }], 1);
  t.notOk(unreplicated[0]!.error, 'acks=1 acknowledged by the leader alone');
  cluster.pause(leader);
  for (const f of followers) cluster.resume(f);

  // Requests the paused leader will read when it wakes, after another broker took over.
  const late = [
    toLeader.request(ApiKey.Produce, 0, { acks: 1, partitions: [{ topic, partition: 0, bytes: batchOf(3).length }] }, [batchOf(3)]),
    toLeader.request(ApiKey.Produce, 0, { acks: -1, partitions: [{ topic, partition: 0, bytes: batchOf(4).length }] }, [batchOf(4)]),
  ];
  const taken = await cluster.waitFor((d) => partitionOf(d, topic).leader >= 0 && partitionOf(d, topic).leader !== leader, 'a follower to take over', 30_000, followers[0]);
  const newLeader = partitionOf(taken, topic).leader;
  const toNew = await Connection.connect({ host: '127.0.0.1', port: cluster.broker(newLeader).port });
  t.teardown(() => toNew.close());
  const written = await produceToLeader(toNew, topic, batchOf(5, 4), -1);
  t.notOk(written[0]!.error, 'the new leader takes writes');

  cluster.resume(leader);
  const answers = await Promise.all(late);
  for (const [i, a] of answers.entries()) {
    const body = a.body as { partitions?: Array<{ error?: { code: string } }>; error?: { code: string } };
    const code = body.error?.code ?? body.partitions?.[0]?.error?.code;
    t.ok(code, `the deposed leader refused the produce it read after waking (${i === 0 ? 'acks=1' : 'acks=all'}): ${code}`);
  }
  await cluster.waitFor((d) => partitionOf(d, topic).isr?.length === 3, 'the old leader back in the ISR as a follower', 30_000, newLeader);

  for (const b of cluster.brokers) await cluster.kill(b.nodeId, 'SIGTERM');
  const replicas = await Promise.all(cluster.brokers.map((b) => replicaValues(b.dataDir, topic)));
  for (const [i, r] of replicas.entries()) t.ok(r.bytes.equals(replicas[0]!.bytes), `replica on broker ${i + 1} is byte-identical to broker 1's`);
  const values = replicas[0]!.values;
  t.same(values.filter((v) => v.startsWith('batch 1 ')).length, 5, 'what the ISR held before the pause survives');
  t.same(values.filter((v) => v.startsWith('batch 5 ')).length, 4, 'what the new leader acknowledged survives');
  t.same(values.filter((v) => v.startsWith('batch 2 ') || v.startsWith('batch 3 ') || v.startsWith('batch 4 ')).length, 0, 'the old leader\'s unreplicated tail is gone, and nothing it read after losing its lease was written');
});

/** Produces `count` batches to the partition's leader, acks=all, retrying each on a retriable error (an ISR shrinking, an election). */
async function produceAll(cluster: TestCluster, topic: string, from: number, count: number): Promise<void> {
  for (let id = from; id < from + count; id++) {
    for (let attempt = 0; ; attempt++) {
      const leader = partitionOf(await cluster.describe(), topic).leader;
      const b = leader > 0 ? cluster.broker(leader) : undefined;
      if (b?.process) {
        const c = await Connection.connect({ host: '127.0.0.1', port: b.port });
        try {
          const [r] = await produce(c, [{ topic, partition: 0, batches: batchOf(id, 2) }], -1);
          if (!r!.error) break;
          if (attempt > 200) throw new Error(`batch ${id}: ${r!.error.code} ${r!.error.message}`);
        } catch (err) {
          if (attempt > 200) throw err;
        } finally {
          await c.close();
        }
      }
      await new Promise((r) => setTimeout(r, 50));
    }
  }
}

t.test('a follower killed and restarted catches up and rejoins the ISR; one whose data directory is gone is rebuilt from the others', async (t) => {
  const cluster = await startCluster(t);
  const topic = 'rebuilt';
  const leader = await createReplicated(cluster, topic);
  const follower = cluster.brokers.map((b) => b.nodeId).find((id) => id !== leader)!;
  await produceAll(cluster, topic, 0, 30);
  await cluster.kill(follower, 'SIGKILL');
  // acks=all goes on once the dead follower leaves the ISR (its lease expires).
  await produceAll(cluster, topic, 30, 30);
  t.notOk(partitionOf(await cluster.describe(), topic).isr?.includes(follower), 'the killed follower left the ISR');
  await cluster.start(follower);
  await cluster.waitFor((d) => partitionOf(d, topic).isr?.length === 3, 'the restarted follower back in the ISR');
  await produceAll(cluster, topic, 60, 10);
  await cluster.kill(follower, 'SIGKILL');
  await cluster.start(follower, { wipe: true });
  await cluster.waitFor((d) => partitionOf(d, topic).isr?.length === 3, 'the wiped follower back in the ISR');
  await produceAll(cluster, topic, 70, 10);
  await cluster.waitFor((d) => {
    const p = partitionOf(d, topic);
    return p.isr?.length === 3 && p.highWatermark === 160n;
  }, 'every batch committed');

  for (const b of cluster.brokers) await cluster.kill(b.nodeId, 'SIGTERM');
  const replicas = await Promise.all(cluster.brokers.map((b) => replicaValues(b.dataDir, topic)));
  for (const [i, r] of replicas.entries()) {
    t.ok(r.bytes.equals(replicas[0]!.bytes), `replica on broker ${i + 1} is byte-identical to broker 1's`);
    t.equal(r.values.length, 160, `broker ${i + 1} holds all 80 batches of 2 records`);
  }
  const expected = Array.from({ length: 80 }, (_, id) => [`batch ${id} record 0`, `batch ${id} record 1`]).flat();
  t.same(replicas[0]!.values, expected, 'in order, each once');
});

t.test('etcd restarted under load: brokers keep their leaderships, writes resume, nothing acknowledged is lost', async (t) => {
  // Leases of 6 s outlast an etcd restart; writes pause at most while a lease cannot be confirmed.
  const cluster = await startCluster(t, { args: ['--broker-session-timeout-ms', '6000'] });
  const topic = 'etcd-restart';
  const leader = await createReplicated(cluster, topic);
  const kafka = new Kafka({ brokers: cluster.kafkaBootstrap(), clientId: 'etcd-restart', logLevel: logLevel.NOTHING, retry: { retries: 40, initialRetryTime: 100, maxRetryTime: 1000 } });
  const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
  await producer.connect();
  t.teardown(() => producer.disconnect().catch(() => undefined));
  const acked: string[] = [];
  let restarted = false;
  for (let i = 0; acked.length < 300; i++) {
    if (acked.length === 100 && !restarted) {
      restarted = true;
      await cluster.etcd.restart();
    }
    const value = `etcd-${acked.length}-attempt-${i}`;
    try {
      await producer.send({ topic, acks: -1, messages: [{ value }] });
      acked.push(value);
    } catch {
      // retries exhausted: the next attempt
    }
  }
  const after = partitionOf(await cluster.describe(), topic);
  t.equal(after.leader, leader, 'the leader kept its leadership through the etcd restart');
  t.equal(after.leaderEpoch, 0, 'no election happened');
  await producer.disconnect();
  for (const b of cluster.brokers) await cluster.kill(b.nodeId, 'SIGTERM');
  const replicas = await Promise.all(cluster.brokers.map((b) => replicaValues(b.dataDir, topic)));
  for (const [i, r] of replicas.entries()) {
    t.ok(r.bytes.equals(replicas[0]!.bytes), `replica on broker ${i + 1} is byte-identical to broker 1's`);
    const positions = acked.map((v) => r.values.indexOf(v));
    t.ok(positions.every((p, k) => p >= 0 && (k === 0 || p > positions[k - 1]!)), `broker ${i + 1} holds every acknowledged record, in order`);
  }
});

t.test('KIP-392: a consumer that names its rack is sent to the in-sync replica there, which serves it up to its high watermark', async (t) => {
  const racks = ['rack-a', 'rack-b', 'rack-c'];
  const cluster = await startCluster(t, { racks });
  const topic = 'nearby';
  const leader = await createReplicated(cluster, topic);
  const follower = cluster.brokers.map((b) => b.nodeId).find((id) => id !== leader)!;
  const rack = racks[follower - 1]!;
  const kafka = new Kafka({ brokers: cluster.kafkaBootstrap(), clientId: 'nearby', logLevel: logLevel.NOTHING, retry: { retries: 20, initialRetryTime: 100 } });
  const producer = kafka.producer({ idempotent: true });
  await producer.connect();
  const values = Array.from({ length: 200 }, (_, i) => `nearby-${i}`);
  for (let i = 0; i < values.length; i += 20) await producer.send({ topic, acks: -1, messages: values.slice(i, i + 20).map((value) => ({ value })) });
  await producer.disconnect();
  await cluster.waitFor((d) => partitionOf(d, topic, 0).highWatermark === 200n, 'the follower knows the high watermark', 30_000, follower);

  const consumer = kafka.consumer({ groupId: 'nearby-group', rackId: rack, maxWaitTimeInMs: 200 });
  t.teardown(() => consumer.disconnect().catch(() => undefined));
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  const seen: string[] = [];
  const done = new Promise<void>((resolve) => {
    void consumer.run({
      eachMessage: async ({ message }) => {
        seen.push(message.value!.toString());
        if (seen.length === values.length) resolve();
      },
    });
  });
  await done;
  t.same(seen, values, 'every record once, in order');
  const served = (await scrape(cluster.broker(follower).process!)).match(new RegExp(`^sluice_bytes_out_total\\{topic="${topic}"\\} (\\d+)`, 'm'));
  t.ok(served && Number(served[1]) > 0, `the follower in ${rack} served the consumer (${served?.[1] ?? 0} bytes)`);
  const leaderOut = (await scrape(cluster.broker(leader).process!)).match(new RegExp(`^sluice_bytes_out_total\\{topic="${topic}"\\} (\\d+)`, 'm'));
  t.comment(`leader ${leader} sent ${leaderOut?.[1] ?? 0} bytes (to followers), follower ${follower} ${served?.[1]} bytes (to the consumer)`);
});
