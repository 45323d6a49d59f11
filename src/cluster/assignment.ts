// The controller's two decisions, as pure functions: where a new partition's replicas go, and what
// a partition's record becomes when brokers die or return (Kafka's rules: the new leader comes
// from the in-sync replicas, in replica order, and every leader change bumps the leader epoch;
// dead brokers leave the ISR, except the last member, which stays so that the partition's data can
// come back with it; no unclean election: a partition whose in-sync replicas are all dead has no
// leader until one returns).

import type { PartitionRecord } from './records.js';

export interface BrokerPlace {
  nodeId: number;
  rack: string | null;
}

/**
 * Brokers ordered so that neighbours sit in different racks where the racks allow it (one from
 * each rack in turn), then replicas of partition p are the RF brokers from position start + p:
 * leaders spread over brokers, and a partition's replicas over racks (Kafka's rack-aware
 * round robin, simplified: the shift between a leader and its followers is fixed).
 */
export function assignReplicas(brokers: readonly BrokerPlace[], firstPartition: number, count: number, replicationFactor: number, start: number): number[][] {
  const byRack = new Map<string, number[]>();
  for (const b of [...brokers].sort((a, c) => a.nodeId - c.nodeId)) {
    const rack = b.rack ?? '';
    byRack.set(rack, [...(byRack.get(rack) ?? []), b.nodeId]);
  }
  const racks = [...byRack.values()];
  const ordered: number[] = [];
  for (let i = 0; ordered.length < brokers.length; i++) {
    for (const members of racks) if (i < members.length) ordered.push(members[i]!);
  }
  const n = ordered.length;
  return Array.from({ length: count }, (_, i) =>
    Array.from({ length: replicationFactor }, (_, k) => ordered[(start + firstPartition + i + k) % n]!),
  );
}

/**
 * The record a partition should have given the brokers alive now, or undefined when it is right
 * as it is. A dead leader is replaced by the first live ISR member in replica order (epoch + 1);
 * dead followers leave the ISR; a partition with no leader gets the first ISR member that returned.
 */
export function reconcilePartition(record: PartitionRecord, alive: ReadonlySet<number>): PartitionRecord | undefined {
  const liveIsr = record.replicas.filter((id) => record.isr.includes(id) && alive.has(id));
  const leaderAlive = record.leader >= 0 && alive.has(record.leader);
  if (leaderAlive) {
    if (liveIsr.length === record.isr.length) return undefined;
    return { ...record, isr: liveIsr, partitionEpoch: record.partitionEpoch + 1 };
  }
  if (liveIsr.length > 0) {
    return { ...record, leader: liveIsr[0]!, leaderEpoch: record.leaderEpoch + 1, isr: liveIsr, partitionEpoch: record.partitionEpoch + 1 };
  }
  // No in-sync replica alive: no leader, and the ISR keeps its members so one of them can lead again.
  if (record.leader === -1) return undefined;
  return { ...record, leader: -1, leaderEpoch: record.leaderEpoch + 1, partitionEpoch: record.partitionEpoch + 1 };
}
