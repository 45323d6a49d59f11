// The cluster's crash loop with the network cut (test/harness/cluster-torture.ts on netns.ts's
// hosts: etcd and each broker in a network namespace of its own, joined by veth pairs to a bridge
// this process talks through). Three cuts, each of a partition leader, each longer than the
// session and lag timeouts: cut off from everything; cut off from etcd only (its clients and
// followers still reach it, so only its lease fences it); cut off from the other brokers only
// (its ISR shrinks below min.insync.replicas: acks=all is refused, not lost). After each the same
// checks as every other fault: nothing acknowledged lost or duplicated, replicas identical below
// the high watermark, consumers never handed what the log does not hold; at the end both groups
// finish. Needs root and iproute2 (as CI runs it).

import t from 'tap';
import { runClusterTorture, type Fault } from './harness/cluster-torture.js';
import { namespacesAvailable } from './harness/netns.js';

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
