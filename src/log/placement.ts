// Where partitions live, as every door describes it (Metadata, FindCoordinator, DescribeCluster):
// the live brokers with both listeners, and per partition its leader, leader epoch, replicas and
// in-sync replicas. A single broker answers from its own registry (it leads everything at epoch
// 0); a cluster member answers from the cluster store's view (src/cluster). Topic administration
// in a cluster goes through the store too (`admin`), so every broker agrees on what exists.

import type { TopicConfig, TopicRegistry } from './topic-registry.js';

export interface BrokerEndpoint {
  nodeId: number;
  host: string;
  /** Sluice's listener. */
  port: number;
  /** Kafka's listener; null when it is off. */
  kafkaPort: number | null;
  rack: string | null;
}

export interface PartitionPlacement {
  partition: number;
  /** -1: no leader now (an election is under way, or no in-sync replica is alive). */
  leader: number;
  leaderEpoch: number;
  replicas: readonly number[];
  isr: readonly number[];
  /** Replicas whose broker is not alive. */
  offline: readonly number[];
}

export interface TopicPlacement {
  name: string;
  id: string;
  internal: boolean;
  config: TopicConfig;
  partitions: readonly PartitionPlacement[];
}

/** Topic administration a cluster decides in its store (a single broker uses its registry directly). */
export interface ClusterAdmin {
  createTopic(name: string, partitions: number, replicationFactor: number, config: TopicConfig, validateOnly: boolean): Promise<TopicPlacement>;
  deleteTopic(name: string): Promise<void>;
  addPartitions(name: string, count: number, validateOnly: boolean): Promise<void>;
  alterConfig(name: string, config: TopicConfig, validateOnly: boolean): Promise<void>;
}

export interface Placement {
  /** Present in a cluster: topic changes go through it. */
  readonly admin: ClusterAdmin | undefined;
  brokers(): BrokerEndpoint[];
  controllerId(): number;
  topic(name: string): TopicPlacement | undefined;
  topicById(id: string): TopicPlacement | undefined;
  topics(): TopicPlacement[];
}

/** The epoch a single broker leads every partition at (its storage core stamps it into each batch). */
export const SINGLE_NODE_LEADER_EPOCH = 0;

/** A single broker's placement: itself, leading every partition of its registry. */
export function singleNodePlacement(topics: TopicRegistry, self: () => BrokerEndpoint): Placement {
  const describe = (t: ReturnType<TopicRegistry['list']>[number]): TopicPlacement => {
    const node = self().nodeId;
    return {
      name: t.name,
      id: t.id,
      internal: topics.isInternal(t.name),
      config: t.config,
      partitions: t.partitions.map((_, index) => ({ partition: index, leader: node, leaderEpoch: SINGLE_NODE_LEADER_EPOCH, replicas: [node], isr: [node], offline: [] })),
    };
  };
  return {
    admin: undefined,
    brokers: () => [self()],
    controllerId: () => self().nodeId,
    topic: (name) => {
      const t = topics.get(name);
      return t && describe(t);
    },
    topicById: (id) => {
      const t = topics.byId(id);
      return t && describe(t);
    },
    topics: () => topics.list().map(describe),
  };
}
