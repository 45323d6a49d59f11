// A cluster with authentication: every broker runs with the same --auth-file and authenticates its
// followers at their leaders with --inter-broker-token, a principal allowed to replicate. Produce
// with acks=all and min.insync.replicas 3 is acknowledged only once both followers fetched as that
// principal; a client principal that may read every topic still may not fetch as a follower
// (which would move the leader's ISR and high watermark): CLUSTER_AUTHORIZATION_FAILED, in both
// doors' OffsetForLeaderEpoch too, while its consumer fetches are served.

import t from 'tap';
import { createHash } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Admin } from '../src/client/admin.js';
import { authenticate, Connection } from '../src/client/connection.js';
import { Consumer } from '../src/client/consumer.js';
import { Producer } from '../src/client/producer.js';
import { ApiKey, type FetchResponse, type OffsetForLeaderEpochResponse } from '../src/protocol/messages.js';
import { partitionOf, startCluster } from './harness/cluster.js';
import { tmpDir } from './helpers/tmp.js';

const sha256 = (token: string) => createHash('sha256').update(token).digest('hex');

t.test('brokers replicate as their inter-broker principal; no client principal may fetch as a follower', async (t) => {
  const authFile = join(tmpDir(t), 'auth.json');
  writeFileSync(
    authFile,
    JSON.stringify({
      principals: {
        brokers: { tokenSha256: sha256('brokers-secret'), replication: true },
        app: { tokenSha256: sha256('app-secret'), read: ['*'], write: ['*'], admin: true },
      },
    }),
  );
  const cluster = await startCluster(t, { args: ['--auth-file', authFile, '--inter-broker-token', 'brokers-secret'], token: 'app-secret' });
  const app = { broker: cluster.bootstrap(), token: 'app-secret' };
  const admin = new Admin(app);
  t.teardown(() => admin.close());
  const topic = 'secured';
  await admin.createTopic(topic, { partitions: 1, replicationFactor: 3, config: { minInsyncReplicas: 3 } });
  const placement = partitionOf(await cluster.waitFor((d) => partitionOf(d, topic).isr?.length === 3, 'three in-sync replicas'), topic);

  const producer = new Producer({ ...app, acks: 'all' });
  t.teardown(() => producer.close());
  const values = Array.from({ length: 50 }, (_, i) => `secret-${i}`);
  for (const value of values) await producer.send(topic, [{ value, partition: 0 }]);
  t.pass('50 acks=all sends acknowledged with min.insync.replicas 3: both followers replicated as the brokers principal');
  const after = partitionOf(await cluster.waitFor((d) => (partitionOf(d, topic).isr?.length ?? 0) === 3, 'the ISR whole'), topic);
  t.equal(after.isr?.length, 3, 'and stayed in sync');

  const consumer = new Consumer(app);
  t.teardown(() => consumer.close());
  await consumer.assign([{ topic, partition: 0, offset: 0n }]);
  const read: string[] = [];
  for await (const m of consumer) {
    read.push(m.value!.toString());
    if (read.length === values.length) break;
  }
  t.same(read, values, "the app principal's consumer fetches are served");

  // The app principal may read everything, yet not fetch (or ask epochs) as a follower.
  const leader = cluster.broker(placement.leader);
  const c = await authenticate(await Connection.connect({ host: leader.host, port: leader.port }), 'app-secret');
  t.teardown(() => c.close());
  const follower = placement.replicas!.find((id) => id !== placement.leader)!;
  const fetched = (await c.request(ApiKey.Fetch, 0, { maxWaitMs: 0, minBytes: 0, maxBytes: 1 << 20, replicaId: follower, partitions: [{ topic, partition: 0, offset: 0n, maxBytes: 1 << 20 }] })).body as FetchResponse;
  t.equal(fetched.partitions[0]?.error?.code, 'CLUSTER_AUTHORIZATION_FAILED', `a fetch as follower ${follower} is refused`);
  t.equal(fetched.partitions[0]?.bytes ?? 0, 0, 'and carries no records');
  const epochs = (await c.request(ApiKey.OffsetForLeaderEpoch, 0, { replicaId: follower, partitions: [{ topic, partition: 0, leaderEpoch: 0 }] })).body as OffsetForLeaderEpochResponse;
  t.equal(epochs.partitions[0]?.error?.code, 'CLUSTER_AUTHORIZATION_FAILED', 'OffsetForLeaderEpoch as a follower is refused');
  const asConsumer = (await c.request(ApiKey.OffsetForLeaderEpoch, 0, { partitions: [{ topic, partition: 0, leaderEpoch: 0 }] })).body as OffsetForLeaderEpochResponse;
  t.equal(asConsumer.partitions[0]?.error, undefined, 'as a consumer (replicaId -1) it is answered');
  const stillInSync = partitionOf(await cluster.describe(), topic);
  t.equal(stillInSync.isr?.length, 3, 'the refused fetch moved nothing: the ISR is whole');
});
