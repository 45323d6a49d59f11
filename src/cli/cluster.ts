// `sluice cluster describe`: the brokers (id, address, rack, alive, which is the controller) and,
// per partition, its leader, leader epoch, replicas, in-sync replicas, the leader's high
// watermark and each replica's log end offset. Placement comes from the broker asked; each live
// broker is then asked for its own copies' offsets (a dead broker's replicas show no offset).

import { Admin, type ClusterDescription } from '../client/admin.js';
import { clientOptions, type ClientFlags } from './client-options.js';
import { formatTable, printOutput, type OutputFormat } from './table.js';

export interface ClusterFlags extends ClientFlags {
  output?: OutputFormat;
}

interface ReplicaCopy {
  nodeId: number;
  logEndOffset: bigint | null;
  highWatermark: bigint | null;
}

export async function clusterDescribe(flags: ClusterFlags): Promise<void> {
  const admin = new Admin(clientOptions(flags));
  let cluster: ClusterDescription;
  try {
    cluster = await admin.describeCluster();
  } finally {
    await admin.close();
  }
  // Each live broker's own copies.
  const copies = new Map<string, ReplicaCopy[]>();
  await Promise.all(
    cluster.brokers.map(async (b) => {
      const one = new Admin({ ...clientOptions({ ...flags, broker: `${b.host}:${b.port}` }), retries: 1 });
      try {
        for (const t of (await one.describeCluster()).topics) {
          for (const p of t.partitions) {
            if (p.highWatermark === undefined) continue;
            const key = `${t.name}/${p.partition}`;
            copies.set(key, [...(copies.get(key) ?? []), { nodeId: b.nodeId, logEndOffset: p.logEndOffset ?? p.highWatermark, highWatermark: p.highWatermark }]);
          }
        }
      } catch {
        // Unreachable right now: its copies show no offsets.
      } finally {
        await one.close();
      }
    }),
  );
  const live = new Set(cluster.brokers.map((b) => b.nodeId));
  const replicaIds = new Set(cluster.topics.flatMap((t) => t.partitions.flatMap((p) => p.replicas ?? [p.leader])));
  const brokers = [
    ...cluster.brokers.map((b) => ({ nodeId: b.nodeId, address: `${b.host}:${b.port}`, rack: b.rack ?? null, alive: true, controller: b.nodeId === cluster.controllerId })),
    ...[...replicaIds].filter((id) => id >= 0 && !live.has(id)).map((id) => ({ nodeId: id, address: null, rack: null, alive: false, controller: false })),
  ].sort((a, b) => a.nodeId - b.nodeId);
  const partitions = cluster.topics.flatMap((t) =>
    t.partitions.map((p) => {
      const mine = copies.get(`${t.name}/${p.partition}`) ?? [];
      const leaderCopy = mine.find((c) => c.nodeId === p.leader);
      return {
        topic: t.name,
        partition: p.partition,
        leader: p.leader,
        leaderEpoch: p.leaderEpoch ?? 0,
        replicas: p.replicas ?? [p.leader],
        isr: p.isr ?? [p.leader],
        highWatermark: leaderCopy?.highWatermark ?? null,
        logEndOffsets: Object.fromEntries((p.replicas ?? [p.leader]).map((id) => [String(id), mine.find((c) => c.nodeId === id)?.logEndOffset ?? null])),
      };
    }),
  );
  printOutput(flags.output, { clusterId: cluster.clusterId, controllerId: cluster.controllerId, brokers, partitions }, () =>
    formatTable(
      ['BROKER', 'ADDRESS', 'RACK', 'ALIVE', 'CONTROLLER'],
      brokers.map((b) => [b.nodeId, b.address, b.rack, b.alive ? 'yes' : 'no', b.controller ? 'yes' : '']),
    ) +
      '\n' +
      formatTable(
        ['TOPIC', 'PARTITION', 'LEADER', 'EPOCH', 'REPLICAS', 'ISR', 'HIGH WATERMARK', 'LOG END (PER REPLICA)'],
        partitions.map((p) => [
          p.topic,
          p.partition,
          p.leader,
          p.leaderEpoch,
          p.replicas.join(','),
          p.isr.join(','),
          p.highWatermark,
          Object.entries(p.logEndOffsets)
            .map(([id, end]) => `${id}:${end ?? '-'}`)
            .join(' '),
        ]),
      ),
  );
}
