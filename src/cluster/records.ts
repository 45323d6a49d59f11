// What a Sluice cluster keeps in etcd, and the JSON of each record: the key layout under the
// cluster's prefix (`/sluice/<cluster-name>/`) and a decoder per record that checks every field, so
// a record another version or a person wrote wrongly is refused with its key named, not half-read.
//
//   brokers/<nodeId>            BrokerRecord     under the broker's lease: gone when the broker is
//   controller                  ControllerRecord under the controller's lease
//   topics/<name>               TopicRecord      what exists: written by CreateTopics at any broker
//   partitions/<name>/<index>   PartitionRecord  leader, epoch, replicas, ISR: the controller and
//                                                the partition's leader change it, by compare-and-swap
//   producer-ids                { next }         the next free block of producer ids
//
// No I/O here.

import type { TopicConfig } from '../log/topic-registry.js';

export const KEYS = {
  brokers: 'brokers/',
  broker: (nodeId: number) => `brokers/${nodeId}`,
  controller: 'controller',
  topics: 'topics/',
  topic: (name: string) => `topics/${name}`,
  partitions: 'partitions/',
  topicPartitions: (name: string) => `partitions/${name}/`,
  partition: (name: string, index: number) => `partitions/${name}/${index}`,
  producerIds: 'producer-ids',
} as const;

export interface BrokerRecord {
  nodeId: number;
  host: string;
  /** Sluice's listener. */
  port: number;
  kafkaPort: number | null;
  rack: string | null;
  startedAtMs: number;
}

export interface ControllerRecord {
  nodeId: number;
}

export interface TopicRecord {
  name: string;
  id: string;
  partitions: number;
  replicationFactor: number;
  config: TopicConfig & { minInsyncReplicas?: number };
  createdAtMs: number;
}

export interface PartitionRecord {
  /** -1: none (no in-sync replica is alive). */
  leader: number;
  leaderEpoch: number;
  replicas: number[];
  isr: number[];
  /** Bumped by every change (Kafka's partition epoch): what changed, and in which order, is visible. */
  partitionEpoch: number;
}

export function encodeRecord(record: BrokerRecord | ControllerRecord | TopicRecord | PartitionRecord): string {
  return JSON.stringify(record);
}

function parse(key: string, text: string): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new Error(`cluster record ${key} is not JSON`);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new Error(`cluster record ${key} is not an object`);
  return value as Record<string, unknown>;
}

function int(key: string, o: Record<string, unknown>, field: string, min = -1): number {
  const v = o[field];
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min) throw new Error(`cluster record ${key}: ${field} must be an integer >= ${min}`);
  return v;
}

function ids(key: string, o: Record<string, unknown>, field: string): number[] {
  const v = o[field];
  if (!Array.isArray(v) || !v.every((id) => typeof id === 'number' && Number.isInteger(id) && id >= 0)) throw new Error(`cluster record ${key}: ${field} must be a list of node ids`);
  return v as number[];
}

function str(key: string, o: Record<string, unknown>, field: string): string {
  const v = o[field];
  if (typeof v !== 'string') throw new Error(`cluster record ${key}: ${field} must be a string`);
  return v;
}

export function decodeBroker(key: string, text: string): BrokerRecord {
  const o = parse(key, text);
  return {
    nodeId: int(key, o, 'nodeId', 0),
    host: str(key, o, 'host'),
    port: int(key, o, 'port', 0),
    kafkaPort: o.kafkaPort === null ? null : int(key, o, 'kafkaPort', 0),
    rack: o.rack === null || o.rack === undefined ? null : str(key, o, 'rack'),
    startedAtMs: int(key, o, 'startedAtMs', 0),
  };
}

export function decodeController(key: string, text: string): ControllerRecord {
  return { nodeId: int(key, parse(key, text), 'nodeId', 0) };
}

export function decodeTopic(key: string, text: string): TopicRecord {
  const o = parse(key, text);
  const config = o.config;
  if (typeof config !== 'object' || config === null || Array.isArray(config)) throw new Error(`cluster record ${key}: config must be an object`);
  return {
    name: str(key, o, 'name'),
    id: str(key, o, 'id'),
    partitions: int(key, o, 'partitions', 1),
    replicationFactor: int(key, o, 'replicationFactor', 1),
    config: config as TopicRecord['config'],
    createdAtMs: int(key, o, 'createdAtMs', 0),
  };
}

export function decodePartition(key: string, text: string): PartitionRecord {
  const o = parse(key, text);
  return {
    leader: int(key, o, 'leader', -1),
    leaderEpoch: int(key, o, 'leaderEpoch', 0),
    replicas: ids(key, o, 'replicas'),
    isr: ids(key, o, 'isr'),
    partitionEpoch: int(key, o, 'partitionEpoch', 0),
  };
}
