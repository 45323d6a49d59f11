// The internal topic `__consumer_offsets`, where groups keep their committed offsets and metadata:
// its name, the settings its logs run with, and which of its partitions holds a given group. A
// single broker keeps it as one local partition; a cluster makes it a replicated topic of
// `partitions` partitions, and a group's coordinator is the leader of the partition its id maps
// to, by Kafka's own rule, so Kafka's tools and Sluice name the same partition for a group.

import type { TopicConfig } from '../log/topic-registry.js';

export const OFFSETS_TOPIC = '__consumer_offsets';

/** Kept whole (no retention: the latest commit of a partition may be years old) in 64 MiB segments. */
export const OFFSETS_TOPIC_CONFIG: TopicConfig = { retentionMs: -1, retentionBytes: -1, segmentBytes: 64 * 1024 * 1024 };

/** How a cluster creates the topic (Kafka's offsets.topic.num.partitions and offsets.topic.replication.factor). */
export interface OffsetsTopicSettings {
  partitions: number;
  replicationFactor: number;
}

export const DEFAULT_OFFSETS_TOPIC: OffsetsTopicSettings = { partitions: 10, replicationFactor: 3 };

/** Java's String.hashCode: over UTF-16 code units, as JavaScript strings are, in 32-bit arithmetic. */
export function javaStringHashCode(s: string): number {
  let h = 0;
  for (let i = 0; i < s.length; i++) h = (Math.imul(31, h) + s.charCodeAt(i)) | 0;
  return h;
}

/** The partition of a topic of `partitions` partitions that holds `groupId` (Kafka: `Utils.abs(groupId.hashCode) % partitions`). */
export function offsetsPartitionFor(groupId: string, partitions: number): number {
  const h = javaStringHashCode(groupId);
  // Kafka's Utils.abs maps Integer.MIN_VALUE (whose Math.abs overflows) to 0.
  return (h === -0x8000_0000 ? 0 : Math.abs(h)) % partitions;
}
