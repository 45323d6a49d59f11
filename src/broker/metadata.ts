// The broker API for topic lookup: the topics a Metadata request asks about (by name or by id),
// each found, created (when the broker runs with auto-create, the request allows it and the
// principal may administer), or answered with its error. Where partitions live comes from the
// session's placement (placement.ts: the registry alone, the cluster store's view in a cluster).
// A found topic is described once here, with the read rule on what its partitions hold; both
// doors encode the description in their own layout.

import { SluiceError } from '../errors.js';
import { adminDenied, readDenied } from './authorize.js';
import type { BrokerEndpoint, PartitionPlacement, TopicPlacement } from '../log/placement.js';
import type { TopicConfig } from '../log/topic-registry.js';
import type { BrokerSession } from './session.js';

export type TopicLookup = { name: string; topic: TopicPlacement; error?: undefined } | { name: string; topic?: undefined; error: SluiceError };

/** Every topic (`names` null), or the named ones in order, each with its placement or its error. */
export async function lookupTopics(s: BrokerSession, names: readonly string[] | null, allowAutoCreate: boolean): Promise<TopicLookup[]> {
  if (names === null) return s.placement.topics().map((topic) => ({ name: topic.name, topic }));
  const found: TopicLookup[] = [];
  for (const name of names) {
    try {
      found.push({ name, topic: await lookup(s, name, allowAutoCreate) });
    } catch (err) {
      if (!(err instanceof SluiceError)) throw err;
      found.push({ name, error: err });
    }
  }
  return found;
}

/** The topic, created first when the broker and the request allow it (as Kafka auto-creates on Metadata). */
export async function lookup(s: BrokerSession, name: string, allowAutoCreate: boolean): Promise<TopicPlacement> {
  const topic = s.placement.topic(name);
  if (topic) return topic;
  // An internal topic is the broker's to create (a cluster makes __consumer_offsets at the first FindCoordinator).
  if (!s.autoCreateTopics || !allowAutoCreate || adminDenied(s) || s.topics.isInternal(name)) throw new SluiceError('UNKNOWN_TOPIC_OR_PARTITION', `topic ${name} does not exist`);
  try {
    if (s.placement.admin) return await s.placement.admin.createTopic(name, -1, -1, {}, false);
    await s.topics.create(name, -1);
  } catch (err) {
    // Another request is creating it right now: retriable, like Kafka's LEADER_NOT_AVAILABLE.
    if (!(err instanceof SluiceError && err.code === 'TOPIC_ALREADY_EXISTS')) throw err;
  }
  const created = s.placement.topic(name);
  if (created) return created;
  throw new SluiceError('UNKNOWN_TOPIC_OR_PARTITION', `topic ${name} is being created; retry`);
}

/** The live topic with this id, or UNKNOWN_TOPIC_ID (ids of deleted topics name nothing). */
export function lookupTopicById(s: BrokerSession, id: string): TopicLookup & { id: string } {
  const topic = s.placement.topicById(id);
  return topic ? { id, name: topic.name, topic } : { id, name: '', error: new SluiceError('UNKNOWN_TOPIC_ID', `no topic has id ${id}`) };
}

/** This broker's copy of a partition, as a Metadata answer shows it to a principal that may read the topic. */
export interface LocalReplica {
  highWatermark: bigint;
  logStartOffset: bigint;
  logEndOffset: bigint;
  sizeBytes: number;
  segments: number;
}

export interface PartitionDescription extends PartitionPlacement {
  /** Absent when this broker holds no open copy, or when the principal may not read the topic. */
  local?: LocalReplica;
}

export interface TopicDescription extends Omit<TopicPlacement, 'partitions' | 'config'> {
  partitions: PartitionDescription[];
  /** Every setting the topic runs with: its own, the broker's defaults for the rest. */
  config: Required<TopicConfig>;
}

/**
 * A found topic as both doors describe it: where each partition lives, and this broker's copy's
 * offsets and size. Those last are records' business: a principal that may not read the topic
 * learns where its partitions are (a producer needs that much) but nothing of what they hold.
 */
export function describeTopic(s: BrokerSession, placement: TopicPlacement): TopicDescription {
  const local = readDenied(s, placement.name) ? undefined : s.topics.get(placement.name);
  return {
    name: placement.name,
    id: placement.id,
    internal: placement.internal,
    config: s.topics.effectiveConfig(placement),
    partitions: placement.partitions.map((placed) => {
      const p = local?.partitions[placed.partition];
      if (!p || p.closed) return placed;
      const stats = p.log.stats();
      return { ...placed, local: { highWatermark: p.highWatermark, logStartOffset: p.logStartOffset, logEndOffset: p.logEndOffset, sizeBytes: stats.sizeBytes, segments: stats.segments } };
    }),
  };
}

/** The topic's placement when it exists (no lookup rules: for describing a topic already found). */
export function findTopic(s: BrokerSession, name: string): TopicPlacement | undefined {
  return s.placement.topic(name);
}

/** Whether a name is one of the broker's own topics (__consumer_offsets), found or not. */
export function isInternalTopic(s: BrokerSession, name: string): boolean {
  return s.placement.topic(name)?.internal ?? s.topics.isInternal(name);
}

/** The cluster as a Metadata or DescribeCluster answer names it: its live brokers and controller; alone, this broker. */
export function clusterView(s: BrokerSession): { clusterId: string; controllerId: number; brokers: BrokerEndpoint[]; clustered: boolean } {
  return { clusterId: s.broker.clusterId, controllerId: s.placement.controllerId(), brokers: s.placement.brokers(), clustered: s.placement.admin !== undefined };
}
