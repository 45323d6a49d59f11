// Partition assignment strategies, run by the group's leader member (the broker only relays the
// result), and the MessagePack format Sluice's client uses for assignments (its member metadata,
// which the broker also reads, is in ../protocol/consumer-protocol.ts):
//   assignment { partitions: [{ topic, partitions: [int] }] }
// `range` is Kafka's RangeAssignor (per topic, consecutive partitions; the first members get one
// extra when it does not divide evenly); `roundrobin` deals every partition of every topic in turn.

import { packr } from '../protocol/codec.js';

export type Assignment = Map<string, number[]>; // topic → partitions

export interface AssignorMember {
  memberId: string;
  topics: string[];
}

export interface Assignor {
  name: string;
  /** `partitionCounts`: topic → number of partitions. Returns memberId → assignment. */
  assign(members: readonly AssignorMember[], partitionCounts: ReadonlyMap<string, number>): Map<string, Assignment>;
}

function emptyAssignments(members: readonly AssignorMember[]): Map<string, Assignment> {
  return new Map(members.map((m) => [m.memberId, new Map<string, number[]>()]));
}

function give(out: Map<string, Assignment>, memberId: string, topic: string, partition: number): void {
  const a = out.get(memberId)!;
  const list = a.get(topic);
  if (list) list.push(partition);
  else a.set(topic, [partition]);
}

const byId = (a: AssignorMember, b: AssignorMember) => (a.memberId < b.memberId ? -1 : a.memberId > b.memberId ? 1 : 0);

export const rangeAssignor: Assignor = {
  name: 'range',
  assign(members, partitionCounts) {
    const out = emptyAssignments(members);
    const topics = [...new Set(members.flatMap((m) => m.topics))].sort();
    for (const topic of topics) {
      const count = partitionCounts.get(topic) ?? 0;
      const subscribers = members.filter((m) => m.topics.includes(topic)).sort(byId);
      const per = Math.floor(count / subscribers.length);
      const extra = count % subscribers.length;
      let next = 0;
      subscribers.forEach((m, i) => {
        const n = per + (i < extra ? 1 : 0);
        for (let k = 0; k < n; k++) give(out, m.memberId, topic, next++);
      });
    }
    return out;
  },
};

export const roundRobinAssignor: Assignor = {
  name: 'roundrobin',
  assign(members, partitionCounts) {
    const out = emptyAssignments(members);
    const sorted = [...members].sort(byId);
    const topics = [...new Set(members.flatMap((m) => m.topics))].sort();
    let turn = 0;
    for (const topic of topics) {
      for (let p = 0; p < (partitionCounts.get(topic) ?? 0); p++) {
        // The next member (in turn order) that subscribes to this topic.
        for (let tries = 0; tries < sorted.length; tries++) {
          const m = sorted[turn++ % sorted.length]!;
          if (m.topics.includes(topic)) {
            give(out, m.memberId, topic, p);
            break;
          }
        }
      }
    }
    return out;
  },
};

export const ASSIGNORS: ReadonlyMap<string, Assignor> = new Map([rangeAssignor, roundRobinAssignor].map((a) => [a.name, a]));

export { decodeMemberMetadata, encodeMemberMetadata } from '../protocol/consumer-protocol.js';

export function encodeAssignment(assignment: Assignment): Buffer {
  return packr.pack({ partitions: [...assignment].map(([topic, partitions]) => ({ topic, partitions })) });
}

export function decodeAssignment(bytes: Uint8Array): Assignment {
  if (bytes.length === 0) return new Map();
  const value = packr.unpack(Buffer.from(bytes)) as { partitions?: Array<{ topic: string; partitions: number[] }> };
  return new Map((value.partitions ?? []).map((p) => [p.topic, p.partitions]));
}
