// The cluster's crash loop with the network cut (test/harness/cluster-torture.ts on netns.ts's
// hosts: etcd and each broker in a network namespace of its own, joined by veth pairs to a bridge
// this process talks through). Three cuts, each of a partition leader, each longer than the
// session and lag timeouts: cut off from everything; cut off from etcd only (its clients and
// followers still reach it, so only its lease fences it); cut off from the other brokers only
// (its ISR shrinks below min.insync.replicas: acks=all is refused, not lost). After each the same
// checks as every other fault: nothing acknowledged lost or duplicated, replicas identical below
// the high watermark, consumers never handed what the log does not hold; at the end both groups
// finish. Then Sluice's own producer and consumer through a leader cut off for good: they give up
// its connection after their request timeout and carry on at the new leader. Needs root and
// iproute2 (as CI runs it).

import t from 'tap';
import { Admin } from '../src/client/admin.js';
import { Consumer } from '../src/client/consumer.js';
import { Producer } from '../src/client/producer.js';
import { partitionOf, startCluster } from './harness/cluster.js';
import { runClusterTorture, type Fault } from './harness/cluster-torture.js';
import { createNetwork, namespacesAvailable } from './harness/netns.js';

const FAULTS: Fault[] = [
  { kind: 'isolate', target: 'leader', downMs: 4_000 },
  { kind: 'cut-etcd', target: 'leader', downMs: 4_000 },
  { kind: 'cut-peers', target: 'leader', downMs: 5_000 },
];

t.test('network cuts of a leader: fenced, nothing acknowledged lost, replicas identical, groups finish', async (t) => {
  t.ok(namespacesAvailable(), 'this process can make network namespaces (root, iproute2)');
  const report = await runClusterTorture({
    teardown: t,
    network: true,
    cycles: FAULTS.length,
    faults: FAULTS,
    runMs: [500, 1_000],
    onCycle: (c) => t.comment(`cycle ${c.cycle}: ${c.fault}; healed in ${c.healMs.toFixed(0)} ms; ${c.acked} acked, ${c.unacked} unacked, ${c.records} records, ${c.consumed} consumed`),
  });
  t.same(report.faults, { isolate: 1, 'cut-etcd': 1, 'cut-peers': 1 }, 'each cut once');
  t.ok(report.acked > 0, `${report.acked} records acknowledged through the cuts, each found where its ack said`);
  t.ok(report.consumed >= Number(report.records) * 2, `both groups were handed every one of the ${report.records} records`);
  t.same(report.indexProblems, [], "every broker's indexes match its segments");
});

t.test("Sluice's producer and consumer move on from a leader cut off from the network within the request timeout", async (t) => {
  // No reset and no close reach the clients from a host whose link is down: only their request
  // timeout (REQUEST_TIMED_OUT, retriable) gets them to ask the cluster again and find the new leader.
  const network = createNetwork(t, ['etcd', 'node1', 'node2', 'node3']);
  const cluster = await startCluster(t, { network });
  const topic = 'cut-off';
  const admin = new Admin({ broker: cluster.bootstrap() });
  t.teardown(() => admin.close());
  await admin.createTopic(topic, { partitions: 1, replicationFactor: 3, config: { minInsyncReplicas: 2 } });
  const leader = partitionOf(await cluster.waitFor((d) => partitionOf(d, topic).isr?.length === 3, 'three in-sync replicas'), topic).leader;

  const timeouts = { broker: cluster.bootstrap(), requestTimeoutMs: 2_000, retries: 50, retryBackoffMs: 100 };
  const producer = new Producer({ ...timeouts, acks: 'all' });
  t.teardown(() => producer.close());
  const consumer = new Consumer(timeouts);
  t.teardown(() => consumer.close());
  await consumer.assign([{ topic, partition: 0, offset: 0n }]);
  const received: string[] = [];
  const reading = (async () => {
    for await (const m of consumer) received.push(m.value!.toString());
  })();

  const acked: Array<{ value: string; offset: bigint }> = [];
  const send = async (value: string) => {
    const [meta] = await producer.send(topic, [{ value, partition: 0 }]);
    acked.push({ value, offset: meta!.offset! });
  };
  for (let i = 0; i < 20; i++) await send(`before-${i}`);
  network.isolate(`node${leader}`);
  const cutAt = performance.now();
  // Each send() resolves or the test times out: without a request timeout the first one waits on the
  // dead connection for as long as TCP keeps retransmitting.
  for (let i = 0; i < 20; i++) await send(`after-${i}`);
  const movedMs = performance.now() - cutAt;
  t.comment(`20 acks=all sends after the cut took ${movedMs.toFixed(0)} ms (request timeout 2000 ms, session timeout 2000 ms)`);
  const now = partitionOf(await cluster.waitFor((d) => partitionOf(d, topic).leader !== leader, 'a new leader', 30_000, leader === 1 ? 2 : 1), topic);
  t.not(now.leader, leader, `broker ${now.leader} leads now`);
  t.ok(acked.every((a, i) => i === 0 || a.offset > acked[i - 1]!.offset), 'every acknowledgement at a higher offset than the one before');

  const deadline = Date.now() + 30_000;
  while (received.length < acked.length && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
  t.same(received, acked.map((a) => a.value), 'the consumer, moved to the new leader too, read every acknowledged record once, in order');
  network.healAll();
  await consumer.close();
  await reading;
});
