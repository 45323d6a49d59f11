// Kafka Metadata v0-12 (v9+ flexible, v10+ topic ids, v12 topics asked by id), CreateTopics v0-7
// (v5+ flexible, v7 topic ids) and DeleteTopics v0-6 (v4+ flexible, v6 topics by name or id):
// request decoders and response encoders, field for field as in Kafka's message definitions
// (clients/src/main/resources/common/message/*.json). No I/O.

import { KafkaReader, KafkaWriter, VersionedReader, VersionedWriter, ZERO_UUID } from '../../../protocol/kafka-wire.js';

/** "Not asked for" in an authorized-operations field. */
export const OPERATIONS_NOT_ASKED = -0x8000_0000;

// ---- Metadata (3)

/** A topic asked for: by name, or (v12) by id with a null name. */
export interface KafkaTopicRef {
  name: string | null;
  /** ZERO_UUID when asked by name (and before v10). */
  topicId: string;
}

export interface KafkaMetadataRequest {
  /** null: every topic. */
  topics: KafkaTopicRef[] | null;
  allowAutoTopicCreation: boolean;
  /** v8-10. */
  includeClusterAuthorizedOperations: boolean;
  /** v8+. */
  includeTopicAuthorizedOperations: boolean;
}

export function decodeMetadata(r: KafkaReader, version: number): KafkaMetadataRequest {
  const f = new VersionedReader(r, version >= 9);
  const readTopic = (): KafkaTopicRef => {
    const topicId = version >= 10 ? r.uuid('topic_id') : ZERO_UUID;
    // Nullable from v10 in the layout; whether a version may ask by id is the handler's call (Kafka answers it, not the codec).
    const name = version >= 10 ? f.nullableString('topic name') : f.string('topic name');
    f.tags();
    return { name, topicId };
  };
  const minTopicBytes = version >= 10 ? 18 : 2;
  // v0's list is never null (empty meant every topic); v1+ null is every topic.
  const topics = version >= 1 ? f.nullableArray(readTopic, 'topics', minTopicBytes) : f.array(readTopic, 'topics', minTopicBytes);
  const request: KafkaMetadataRequest = {
    // v0 has no null: an empty list means every topic. v1+: null means every topic, empty means none.
    topics: version === 0 && topics?.length === 0 ? null : topics,
    allowAutoTopicCreation: version >= 4 ? r.boolean('allow_auto_topic_creation') : true,
    includeClusterAuthorizedOperations: version >= 8 && version <= 10 ? r.boolean('include_cluster_authorized_operations') : false,
    includeTopicAuthorizedOperations: version >= 8 ? r.boolean('include_topic_authorized_operations') : false,
  };
  f.tags();
  r.end('Metadata');
  return request;
}

export interface KafkaMetadataPartition {
  errorCode: number;
  partition: number;
  leader: number;
  /** v7+. */
  leaderEpoch: number;
  replicas: number[];
  isr: number[];
  /** v5+: replicas whose broker is down. */
  offline: number[];
}

export interface KafkaMetadataTopic {
  errorCode: number;
  /** Null only for a topic asked by an id that names nothing (v12). */
  name: string | null;
  /** v10+; ZERO_UUID for a topic asked by a name that names nothing. */
  topicId: string;
  internal: boolean;
  partitions: KafkaMetadataPartition[];
  /** v8+: a bitfield of Kafka's AclOperation codes, or OPERATIONS_NOT_ASKED. */
  authorizedOperations: number;
}

export interface KafkaMetadataResponse {
  brokers: Array<{ nodeId: number; host: string; port: number; rack: string | null }>;
  clusterId: string;
  controllerId: number;
  topics: KafkaMetadataTopic[];
  /** v8-10: a bitfield of Kafka's AclOperation codes, or OPERATIONS_NOT_ASKED. */
  clusterAuthorizedOperations: number;
}

/** v1 racks and the controller, v2 the cluster id, v3 throttle, v5 offline replicas, v7 leader epochs, v8 operations, v9 flexible, v10 topic ids. */
export function encodeMetadata(w: KafkaWriter, version: number, m: KafkaMetadataResponse): void {
  const f = new VersionedWriter(w, version >= 9);
  const nodes = (id: number) => w.int32(id);
  if (version >= 3) w.int32(0); // throttle_time_ms
  f.array(m.brokers, (b) => {
    w.int32(b.nodeId);
    f.string(b.host);
    w.int32(b.port);
    if (version >= 1) f.string(b.rack);
    f.tags();
  });
  if (version >= 2) f.string(m.clusterId);
  if (version >= 1) w.int32(m.controllerId);
  f.array(m.topics, (t) => {
    w.int16(t.errorCode);
    f.string(t.name);
    if (version >= 10) w.uuid(t.topicId);
    if (version >= 1) w.boolean(t.internal);
    f.array(t.partitions, (p) => {
      w.int16(p.errorCode).int32(p.partition).int32(p.leader);
      if (version >= 7) w.int32(p.leaderEpoch);
      f.array(p.replicas, nodes); // replica_nodes
      f.array(p.isr, nodes); // isr_nodes
      if (version >= 5) f.array(p.offline, nodes); // offline_replicas
      f.tags();
    });
    if (version >= 8) w.int32(t.authorizedOperations);
    f.tags();
  });
  if (version >= 8 && version <= 10) w.int32(m.clusterAuthorizedOperations);
  f.tags();
}

// ---- CreateTopics (19)

export interface KafkaCreateTopicsRequest {
  topics: Array<{
    name: string;
    partitions: number;
    replicationFactor: number;
    assignments: Array<{ partition: number; brokerIds: number[] }>;
    configs: Array<{ name: string; value: string | null }>;
  }>;
  timeoutMs: number;
  validateOnly: boolean;
}

export function decodeCreateTopics(r: KafkaReader, version: number): KafkaCreateTopicsRequest {
  const f = new VersionedReader(r, version >= 5);
  const topics = f.array(
    () => {
      const topic = {
        name: f.string('topic name'),
        partitions: r.int32('num_partitions'),
        replicationFactor: r.int16('replication_factor'),
        assignments: f.array(
          () => {
            const assignment = { partition: r.int32('partition_index'), brokerIds: f.array(() => r.int32('broker id'), 'broker_ids', 4) };
            f.tags();
            return assignment;
          },
          'assignments',
          5,
        ),
        configs: f.array(
          () => {
            const config = { name: f.string('config name'), value: f.nullableString('config value') };
            f.tags();
            return config;
          },
          'configs',
          2,
        ),
      };
      f.tags();
      return topic;
    },
    'topics',
    9,
  );
  const request: KafkaCreateTopicsRequest = { topics, timeoutMs: r.int32('timeout_ms'), validateOnly: version >= 1 ? r.boolean('validate_only') : false };
  f.tags();
  r.end('CreateTopics');
  return request;
}

/** A described config entry of a created topic (v5+). */
export interface KafkaCreatedConfig {
  name: string;
  value: string | null;
  readOnly: boolean;
  /** Kafka's ConfigSource: 5 the broker's default, 1 the topic's own. */
  configSource: number;
  isSensitive: boolean;
}

export interface KafkaCreatedTopic {
  name: string;
  /** v7+; ZERO_UUID when not created (or only validated). */
  topicId: string;
  errorCode: number;
  message: string | null;
  /** v5+: what the topic has (or would have, validated only); -1 and null configs on error. */
  partitions: number;
  replicationFactor: number;
  configs: KafkaCreatedConfig[] | null;
}

/** v1 messages, v2 throttle, v5 flexible with the topic's partitions, replication and configs, v7 its id. */
export function encodeCreateTopics(w: KafkaWriter, version: number, topics: readonly KafkaCreatedTopic[]): void {
  const f = new VersionedWriter(w, version >= 5);
  if (version >= 2) w.int32(0); // throttle_time_ms
  f.array(topics, (t) => {
    f.string(t.name);
    if (version >= 7) w.uuid(t.topicId);
    w.int16(t.errorCode);
    if (version >= 1) f.string(t.message);
    if (version >= 5) {
      w.int32(t.partitions).int16(t.replicationFactor);
      f.array(t.configs, (c) => {
        f.string(c.name);
        f.string(c.value);
        w.boolean(c.readOnly).int8(c.configSource).boolean(c.isSensitive);
        f.tags();
      });
    }
    f.tags(); // topic_config_error_code (tag 0) is never sent: configs come back whole or the topic has an error
  });
  f.tags();
}

// ---- DeleteTopics (20)

export interface KafkaDeleteTopicsRequest {
  /** v0-5 by name; v6 by name, or by id with a null name. */
  topics: KafkaTopicRef[];
  timeoutMs: number;
}

export function decodeDeleteTopics(r: KafkaReader, version: number): KafkaDeleteTopicsRequest {
  const f = new VersionedReader(r, version >= 4);
  const topics =
    version >= 6
      ? f.array(
          () => {
            const ref = { name: f.nullableString('topic name'), topicId: r.uuid('topic_id') };
            f.tags();
            return ref;
          },
          'topics',
          18,
        )
      : f.array(() => ({ name: f.string('topic name'), topicId: ZERO_UUID }), 'topic_names', version >= 4 ? 1 : 2);
  const request = { topics, timeoutMs: r.int32('timeout_ms') };
  f.tags();
  r.end('DeleteTopics');
  return request;
}

export interface KafkaDeletedTopic {
  /** Null (v6) for an id that names nothing. */
  name: string | null;
  topicId: string;
  errorCode: number;
  message: string | null;
}

/** v1 throttle, v4 flexible, v5 messages, v6 ids. */
export function encodeDeleteTopics(w: KafkaWriter, version: number, topics: readonly KafkaDeletedTopic[]): void {
  const f = new VersionedWriter(w, version >= 4);
  if (version >= 1) w.int32(0); // throttle_time_ms
  f.array(topics, (t) => {
    f.string(t.name);
    if (version >= 6) w.uuid(t.topicId);
    w.int16(t.errorCode);
    if (version >= 5) f.string(t.message);
    f.tags();
  });
  f.tags();
}
