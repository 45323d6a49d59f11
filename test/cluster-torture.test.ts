// The cluster's crash loop (test/harness/cluster-torture.ts; `npm run torture -- --cluster` runs it
// longer, with random faults): etcd and three brokers under two idempotent acks=all producers
// (Sluice's client, kafkajs) and two consumer groups, through one fault of each kind — the leader
// SIGKILLed past its session, the leader paused past its lease, the groups' coordinator SIGKILLed,
// a follower killed and restarted with an empty data directory, etcd killed and restarted. After
// each, the checks: every acknowledged record once where its ack said, in each producer's order;
// every replica the same batches as the leader below the high watermark; consumers never handed
// anything the log does not hold there; at the end both groups consume and commit everything and
// every broker's indexes verify. A second test changes a batch in a follower's files (its CRC made
// to match) to show that the replica comparison catches a copy that differs.

import t from 'tap';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { crc32c } from '../src/protocol/crc32c.js';
import { partitionOf } from './harness/cluster.js';
import { runClusterTorture, type Fault } from './harness/cluster-torture.js';
import { TORTURE_TOPIC } from './harness/torture.js';

const FAULTS: Fault[] = [
  { kind: 'kill', target: 'leader', downMs: 3_000 },
  { kind: 'pause', target: 'leader', downMs: 4_000 },
  { kind: 'kill', target: 'coordinator', downMs: 3_000 },
  { kind: 'kill-wipe', target: 'follower', downMs: 500 },
  { kind: 'etcd-restart', target: 'leader', downMs: 1_000 },
];

t.test('a fault of each kind under idempotent producers and two groups: nothing acknowledged lost, replicas identical, groups finish', async (t) => {
  const report = await runClusterTorture({
    teardown: t,
    cycles: FAULTS.length,
    faults: FAULTS,
    runMs: [500, 1_000],
    onCycle: (c) => t.comment(`cycle ${c.cycle}: ${c.fault}; healed in ${c.healMs.toFixed(0)} ms; ${c.acked} acked, ${c.unacked} unacked, ${c.records} records, ${c.consumed} consumed`),
  });
  t.equal(report.cycles, FAULTS.length, 'every cycle checked');
  t.same(report.faults, { kill: 2, pause: 1, 'kill-wipe': 1, 'etcd-restart': 1 }, 'one fault of each kind');
  t.ok(report.acked > 0, `${report.acked} records acknowledged through the faults, each found where its ack said`);
  t.ok(report.consumed >= Number(report.records) * 2, `both groups were handed every one of the ${report.records} records (${report.consumed} handed in all)`);
  t.same(report.indexProblems, [], "every broker's indexes match its segments");
  t.comment(`heal time median ${report.healMs.median.toFixed(0)} ms, max ${report.healMs.max.toFixed(0)} ms; ${report.unacked} sends failed for good; ${report.clientRestarts} clients replaced`);
});

t.test('the replica check fails when a follower holds a different batch', async (t) => {
  const run = runClusterTorture({
    teardown: t,
    cycles: 1,
    faults: [{ kind: 'pause', target: 'follower', downMs: 200 }],
    runMs: [300, 400],
    beforeCheck: async (_cycle, cluster) => {
      // A follower of partition 0, stopped: the first batch of its first segment gets another base
      // timestamp and a CRC that matches it, so its own recovery finds nothing wrong.
      const placement = partitionOf(await cluster.describe(), TORTURE_TOPIC, 0);
      const follower = placement.replicas!.find((id) => id !== placement.leader)!;
      await cluster.kill(follower, 'SIGKILL');
      const dir = join(cluster.broker(follower).dataDir, `${TORTURE_TOPIC}-0`);
      const segment = join(dir, readdirSync(dir).filter((f) => f.endsWith('.log')).sort()[0]!);
      const data = readFileSync(segment);
      const batchEnd = 12 + data.readInt32BE(8);
      data.writeBigInt64BE(data.readBigInt64BE(27) + 1n, 27);
      data.writeUInt32BE(crc32c(data.subarray(21, batchEnd)), 17);
      writeFileSync(segment, data);
      await cluster.start(follower);
      await cluster.waitFor((d) => partitionOf(d, TORTURE_TOPIC, 0).isr?.length === 3, 'the changed follower back in the ISR');
    },
  });
  await t.rejects(run, /the replica on broker \d differs from the leader's/, 'the check reports the follower whose copy differs');
});
