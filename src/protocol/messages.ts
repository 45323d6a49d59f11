// Sluice's APIs: keys, versions, and for each one the request body (with its decoder, which checks
// every field) and the response body. Keys are Kafka's numbers for the same operation. The grammar
// of each message is in protocol/PROTOCOL.md; the code mirrors it. No I/O.

import { SluiceError } from '../errors.js';
import * as f from './fields.js';
import { isAcks, type Acks, type TopicPartition } from '../vocabulary.js';

export const ApiKey = {
  Produce: 0,
  Fetch: 1,
  ListOffsets: 2,
  Metadata: 3,
  OffsetCommit: 8,
  OffsetFetch: 9,
  FindCoordinator: 10,
  JoinGroup: 11,
  Heartbeat: 12,
  LeaveGroup: 13,
  SyncGroup: 14,
  DescribeGroups: 15,
  ListGroups: 16,
  ApiVersions: 18,
  InitProducerId: 22,
  CreateTopics: 19,
  DeleteTopics: 20,
  DeleteRecords: 21,
  DescribeConfigs: 32,
  Authenticate: 36,
  CreatePartitions: 37,
  DeleteGroups: 42,
  IncrementalAlterConfigs: 44,
  OffsetDelete: 47,
  DescribeProducers: 61,
  OffsetForLeaderEpoch: 23,
  // Sluice's own, with no Kafka counterpart: keys from 1000 up, clear of Kafka's numbering.
  Subscribe: 1000,
  Credit: 1001,
  Unsubscribe: 1002,
} as const;
export type ApiName = keyof typeof ApiKey;

export interface ApiVersionRange {
  apiKey: number;
  name: ApiName;
  minVersion: number;
  maxVersion: number;
}

/** The one version table: routing, version checks and the ApiVersions answer all read it. */
export const API_VERSIONS: readonly ApiVersionRange[] = (Object.entries(ApiKey) as Array<[ApiName, number]>).map(([name, apiKey]) => ({
  apiKey,
  name,
  minVersion: 0,
  maxVersion: 0,
}));

export function apiByKey(apiKey: number): ApiVersionRange | undefined {
  return API_VERSIONS.find((a) => a.apiKey === apiKey);
}

/** Every failure: a stable code (see src/errors.ts) and a message for humans. */
export interface ErrorBody {
  code: string;
  message: string;
}

export function errorBody(err: { code: string; message: string }): ErrorBody {
  return { code: err.code, message: err.message };
}

/** A request that failed as a whole (nothing was done) is answered with `{ error }`. */
export interface ErrorResponse {
  error: ErrorBody;
}

export const ACKS_NONE = 0;
export const ACKS_LEADER = 1;
export const ACKS_ALL = -1;

export const EARLIEST_TIMESTAMP = -2n;
export const LATEST_TIMESTAMP = -1n;

export const MAX_PARTITIONS_PER_REQUEST = 10_000;
export const MAX_TOPIC_NAME = 249;
export const INT32_MAX = 0x7fff_ffff;


export function topicPartition(m: f.Fields, where: string): TopicPartition {
  return {
    topic: f.string(m.topic, `${where}.topic`, MAX_TOPIC_NAME),
    partition: f.int(m.partition, `${where}.partition`, 0, INT32_MAX),
  };
}

// ---- ApiVersions (18) v0 ------------------------------------------------------------------------
// request: {}    response: { apis: [{ apiKey, name, minVersion, maxVersion }], broker: { software, version } }

export interface ApiVersionsResponse {
  apis: ApiVersionRange[];
  broker: { software: string; version: string };
}

// ---- Metadata (3) v0 ----------------------------------------------------------------------------
// request: { topics: [name] | nil (all topics), allowAutoCreate?: bool (default true) }

export interface MetadataRequest {
  topics: string[] | null;
  allowAutoCreate: boolean;
}

export function decodeMetadataRequest(body: unknown): MetadataRequest {
  const m = f.map(body, 'metadata');
  return {
    topics: m.topics == null ? null : f.list(m.topics, 'metadata.topics', MAX_PARTITIONS_PER_REQUEST, (v, w) => f.string(v, w, MAX_TOPIC_NAME)),
    allowAutoCreate: f.bool(m.allowAutoCreate, 'metadata.allowAutoCreate', true),
  };
}

export interface MetadataResponse {
  clusterId: string;
  controllerId: number;
  brokers: Array<{ nodeId: number; host: string; port: number; rack?: string }>;
  topics: Array<{
    name: string;
    error?: ErrorBody;
    /** Set on topics the broker keeps for itself (`__consumer_offsets`). */
    internal?: boolean;
    /**
     * Offsets and sizes are this broker's copy: present where it holds a replica. In a cluster
     * a partition also names its leader epoch, replicas and in-sync replicas; `leader` -1: none now.
     */
    partitions: Array<{
      partition: number;
      leader: number;
      leaderEpoch?: number;
      replicas?: number[];
      isr?: number[];
      error?: ErrorBody;
      highWatermark?: bigint;
      logStartOffset?: bigint;
      logEndOffset?: bigint;
      sizeBytes?: number;
      segments?: number;
    }>;
    /** The settings the topic runs with (its own over the broker's defaults). */
    config?: { retentionMs: number; retentionBytes: number; segmentBytes: number; segmentMs: number; maxBatchBytes: number; cleanupPolicy: string };
  }>;
}

// ---- CreateTopics (19) v0 -----------------------------------------------------------------------
// request: { topics: [{ name, partitions, config?: { retentionMs, retentionBytes, segmentBytes,
//            segmentMs, cleanupPolicy } }], validateOnly?: bool }

export interface TopicConfigInput {
  retentionMs?: number;
  retentionBytes?: number;
  segmentBytes?: number;
  segmentMs?: number;
  maxBatchBytes?: number;
  cleanupPolicy?: string;
  /** In a cluster: in-sync replicas an acks=all produce needs (Kafka's min.insync.replicas). */
  minInsyncReplicas?: number;
}

export interface CreateTopicsRequest {
  topics: Array<{ name: string; partitions: number; replicationFactor: number; config: TopicConfigInput }>;
  validateOnly: boolean;
}

const CONFIG_KEYS = ['retentionMs', 'retentionBytes', 'segmentBytes', 'segmentMs', 'maxBatchBytes', 'minInsyncReplicas'] as const;

function topicConfig(value: unknown, where: string): TopicConfigInput {
  if (value == null) return {};
  const m = f.map(value, where);
  const out: TopicConfigInput = {};
  for (const key of Object.keys(m)) {
    if (key === 'cleanupPolicy') out.cleanupPolicy = f.string(m[key], `${where}.cleanupPolicy`, 64);
    else if ((CONFIG_KEYS as readonly string[]).includes(key)) {
      out[key as (typeof CONFIG_KEYS)[number]] = f.int(m[key], `${where}.${key}`, -1, Number.MAX_SAFE_INTEGER);
    } else throw f.invalid(`${where}.${key}`, `is not a topic setting (known: ${[...CONFIG_KEYS, 'cleanupPolicy'].join(', ')})`);
  }
  return out;
}

export function decodeCreateTopicsRequest(body: unknown): CreateTopicsRequest {
  const m = f.map(body, 'createTopics');
  return {
    topics: f.list(m.topics, 'createTopics.topics', 1000, (v, w) => {
      const t = f.map(v, w);
      return {
        // Names are checked by the topic registry, which answers per topic.
        name: f.string(t.name, `${w}.name`, 1024),
        partitions: f.int(t.partitions, `${w}.partitions`, -1, INT32_MAX, 1),
        replicationFactor: f.int(t.replicationFactor, `${w}.replicationFactor`, -1, 100, -1),
        config: topicConfig(t.config, `${w}.config`),
      };
    }),
    validateOnly: f.bool(m.validateOnly, 'createTopics.validateOnly', false),
  };
}

export interface TopicResult {
  name: string;
  error?: ErrorBody;
}

export interface CreateTopicsResponse {
  topics: TopicResult[];
}

// ---- DeleteTopics (20) v0 -----------------------------------------------------------------------
// request: { topics: [name] }    response: { topics: [{ name, error? }] }

export interface DeleteTopicsRequest {
  topics: string[];
}

export function decodeDeleteTopicsRequest(body: unknown): DeleteTopicsRequest {
  const m = f.map(body, 'deleteTopics');
  return { topics: f.list(m.topics, 'deleteTopics.topics', 1000, (v, w) => f.string(v, w, 1024)) };
}

export type DeleteTopicsResponse = CreateTopicsResponse;

// ---- Produce (0) v0 -----------------------------------------------------------------------------
// request: { acks: 0 | 1 | -1, timeoutMs? (accepted, unused: nothing to replicate), partitions: [{ topic, partition, bytes }] }
// data: each partition's record batches, back to back, in the order of `partitions`.

export interface ProduceRequest {
  acks: Acks;
  timeoutMs: number;
  partitions: Array<TopicPartition & { bytes: number }>;
}

export function decodeProduceRequest(body: unknown, dataBytes: number): ProduceRequest {
  const m = f.map(body, 'produce');
  const acks = f.int(m.acks, 'produce.acks', -0x8000, 0x7fff, ACKS_LEADER);
  if (!isAcks(acks)) throw new SluiceError('INVALID_REQUIRED_ACKS', `produce.acks must be 0, 1 or -1 (all), got ${acks}`);
  const partitions = f.list(m.partitions, 'produce.partitions', MAX_PARTITIONS_PER_REQUEST, (v, w) => {
    const p = f.map(v, w);
    return { ...topicPartition(p, w), bytes: f.int(p.bytes, `${w}.bytes`, 0, INT32_MAX) };
  });
  const total = partitions.reduce((n, p) => n + p.bytes, 0);
  if (total !== dataBytes) throw f.invalid('produce.partitions', `declare ${total} bytes of batches but the frame carries ${dataBytes}`);
  return { acks, timeoutMs: f.int(m.timeoutMs, 'produce.timeoutMs', 0, INT32_MAX, 30_000), partitions };
}

export interface ProducePartitionResponse extends TopicPartition {
  error?: ErrorBody;
  /** Offset of the first record appended; absent on error. */
  baseOffset?: bigint;
  lastOffset?: bigint;
  logAppendTimeMs?: number;
  logStartOffset?: bigint;
}

export interface ProduceResponse {
  partitions: ProducePartitionResponse[];
}

// ---- InitProducerId (22) v0: an idempotent producer's id ----------------------------------------
// request: {} (no transactional id: transactions are not offered)    response: { producerId, producerEpoch }
// The producer stamps the id, the epoch and per partition a sequence number (from 0, one per
// record) into each batch's header; the broker answers a retried batch with its original offsets.

export function decodeInitProducerIdRequest(body: unknown): Record<string, never> {
  const m = f.map(body, 'initProducerId');
  if (m.transactionalId !== undefined) throw new SluiceError('TRANSACTIONS_NOT_SUPPORTED', 'initProducerId.transactionalId: transactions are not supported');
  return {};
}

export interface InitProducerIdResponse {
  producerId: bigint;
  producerEpoch: number;
}

// ---- Fetch (1) v0 -------------------------------------------------------------------------------
// request: { maxWaitMs, minBytes, maxBytes, partitions: [{ topic, partition, offset, maxBytes }] }
// response: { partitions: [{ topic, partition, error?, highWatermark, logStartOffset, bytes }] }
// data: each partition's record batches, back to back, in the order of `partitions`.

export interface FetchPartitionRequest extends TopicPartition {
  offset: bigint;
  maxBytes: number;
  /** The leader epoch the fetcher knows (-1: not checked); an older one is FENCED_LEADER_EPOCH. */
  leaderEpoch: number;
}

export interface FetchRequest {
  maxWaitMs: number;
  minBytes: number;
  maxBytes: number;
  /** A follower broker's node id (it reads past the high watermark and reports its log end); -1 for consumers. */
  replicaId: number;
  /** The consumer's rack: in a cluster it may be sent to a replica there (KIP-392); '' for none. */
  rackId: string;
  partitions: FetchPartitionRequest[];
}

export function decodeFetchRequest(body: unknown): FetchRequest {
  const m = f.map(body, 'fetch');
  return {
    maxWaitMs: f.int(m.maxWaitMs, 'fetch.maxWaitMs', 0, INT32_MAX, 0),
    minBytes: f.int(m.minBytes, 'fetch.minBytes', 0, INT32_MAX, 1),
    maxBytes: f.int(m.maxBytes, 'fetch.maxBytes', 1, INT32_MAX, 52_428_800),
    replicaId: f.int(m.replicaId, 'fetch.replicaId', -1, INT32_MAX, -1),
    rackId: m.rackId == null ? '' : f.string(m.rackId, 'fetch.rackId', 255),
    partitions: f.list(m.partitions, 'fetch.partitions', MAX_PARTITIONS_PER_REQUEST, (v, w) => {
      const p = f.map(v, w);
      return {
        ...topicPartition(p, w),
        offset: f.int64(p.offset, `${w}.offset`),
        maxBytes: f.int(p.maxBytes, `${w}.maxBytes`, 1, INT32_MAX, 1_048_576),
        leaderEpoch: f.int(p.leaderEpoch, `${w}.leaderEpoch`, -1, INT32_MAX, -1),
      };
    }),
  };
}

export interface FetchPartitionResponse extends TopicPartition {
  error?: ErrorBody;
  highWatermark: bigint;
  logStartOffset: bigint;
  /** Fetch this partition from that broker instead (a replica in the consumer's rack); no data comes with it. */
  preferredReadReplica?: number;
  /** Bytes of record batches this partition has in the frame's data. */
  bytes: number;
}

export interface FetchResponse {
  partitions: FetchPartitionResponse[];
}

// ---- Subscribe (1000), Credit (1001), Unsubscribe (1002) v0: push subscriptions ----------------
// Subscribe request: { topic, partition, offset, windowBytes }; response: { subscriptionId?, error?,
// highWatermark, logStartOffset }. Then push frames, meta [nil, Push], data: whole record batches.
// Credit request: { subscriptionId, bytes }, no response. Unsubscribe: { subscriptionId } -> {}.

export interface SubscribeRequest extends TopicPartition {
  offset: bigint;
  /** The most credit the subscriber will hold; the broker starts with all of it granted. */
  windowBytes: number;
}

export function decodeSubscribeRequest(body: unknown): SubscribeRequest {
  const m = f.map(body, 'subscribe');
  return {
    ...topicPartition(m, 'subscribe'),
    offset: f.int64(m.offset, 'subscribe.offset'),
    windowBytes: f.int(m.windowBytes, 'subscribe.windowBytes', 1, INT32_MAX),
  };
}

export interface SubscribeResponse {
  subscriptionId?: number;
  error?: ErrorBody;
  highWatermark: bigint;
  logStartOffset: bigint;
}

/** The body of a push frame: the subscription's next data (`bytes` of it), or its end (`error`, no data). */
export interface PushBody {
  subscriptionId: number;
  highWatermark: bigint;
  logStartOffset: bigint;
  /** Where the next push starts (after the last batch in this one). */
  nextOffset?: bigint;
  bytes: number;
  /** Present on the subscription's last push: why it ended. */
  error?: ErrorBody;
}

export interface CreditRequest {
  subscriptionId: number;
  bytes: number;
}

export function decodeCreditRequest(body: unknown): CreditRequest {
  const m = f.map(body, 'credit');
  return { subscriptionId: f.int(m.subscriptionId, 'credit.subscriptionId', 1, INT32_MAX), bytes: f.int(m.bytes, 'credit.bytes', 1, INT32_MAX) };
}

export interface UnsubscribeRequest {
  subscriptionId: number;
}

export function decodeUnsubscribeRequest(body: unknown): UnsubscribeRequest {
  const m = f.map(body, 'unsubscribe');
  return { subscriptionId: f.int(m.subscriptionId, 'unsubscribe.subscriptionId', 1, INT32_MAX) };
}

// ---- CreatePartitions (37) v0
// request: { topics: [{ name, count }], validateOnly?: bool } → { topics: [{ name, error? }] }
// `count` is the new total; partitions are only ever added.

export interface CreatePartitionsRequest {
  topics: Array<{ name: string; count: number }>;
  validateOnly: boolean;
}

export function decodeCreatePartitionsRequest(body: unknown): CreatePartitionsRequest {
  const m = f.map(body, 'createPartitions');
  return {
    topics: f.list(m.topics, 'createPartitions.topics', 1000, (v, w) => {
      const t = f.map(v, w);
      return { name: f.string(t.name, `${w}.name`, MAX_TOPIC_NAME), count: f.int(t.count, `${w}.count`, 1, INT32_MAX) };
    }),
    validateOnly: f.bool(m.validateOnly, 'createPartitions.validateOnly', false),
  };
}

export interface CreatePartitionsResponse {
  topics: Array<{ name: string; error?: ErrorBody }>;
}

// ---- DescribeConfigs (32) v0
// request: { topics: [name] } → { topics: [{ name, error?, configs: [{ name, value, source }] }] }
// Names and values as Kafka's topic configs (`retention.ms`: "604800000"); source "topic" or "default".

export interface DescribeConfigsRequest {
  topics: string[];
}

export function decodeDescribeConfigsRequest(body: unknown): DescribeConfigsRequest {
  const m = f.map(body, 'describeConfigs');
  return { topics: f.list(m.topics, 'describeConfigs.topics', 1000, (v, w) => f.string(v, w, MAX_TOPIC_NAME)) };
}

export interface DescribeConfigsResponse {
  topics: Array<{ name: string; error?: ErrorBody; configs: Array<{ name: string; value: string; source: 'topic' | 'default' }> }>;
}

// ---- IncrementalAlterConfigs (44) v0
// request: { topics: [{ name, changes: [{ name, value: string | nil }] }], validateOnly?: bool }
//   → { topics: [{ name, error? }] }. A nil value returns the setting to the broker's default.

export interface IncrementalAlterConfigsRequest {
  topics: Array<{ name: string; changes: Array<{ name: string; value: string | null }> }>;
  validateOnly: boolean;
}

export function decodeIncrementalAlterConfigsRequest(body: unknown): IncrementalAlterConfigsRequest {
  const m = f.map(body, 'incrementalAlterConfigs');
  return {
    topics: f.list(m.topics, 'incrementalAlterConfigs.topics', 1000, (v, w) => {
      const t = f.map(v, w);
      return {
        name: f.string(t.name, `${w}.name`, MAX_TOPIC_NAME),
        changes: f.list(t.changes, `${w}.changes`, 100, (c, cw) => {
          const change = f.map(c, cw);
          return { name: f.string(change.name, `${cw}.name`, 255), value: change.value === null ? null : f.string(change.value, `${cw}.value`, 1024) };
        }),
      };
    }),
    validateOnly: f.bool(m.validateOnly, 'incrementalAlterConfigs.validateOnly', false),
  };
}

export interface IncrementalAlterConfigsResponse {
  topics: TopicResult[];
}

// ---- ListOffsets (2) v0 -------------------------------------------------------------------------
// request: { partitions: [{ topic, partition, timestamp }] }, timestamp -2 earliest, -1 latest,
// otherwise milliseconds. response: { partitions: [{ topic, partition, error?, offset }] }

export interface ListOffsetsRequest {
  partitions: Array<TopicPartition & { timestamp: bigint }>;
}

export function decodeListOffsetsRequest(body: unknown): ListOffsetsRequest {
  const m = f.map(body, 'listOffsets');
  return {
    partitions: f.list(m.partitions, 'listOffsets.partitions', MAX_PARTITIONS_PER_REQUEST, (v, w) => {
      const p = f.map(v, w);
      const timestamp = f.int64(p.timestamp, `${w}.timestamp`);
      if (timestamp < EARLIEST_TIMESTAMP) throw f.invalid(`${w}.timestamp`, 'must be -2 (earliest), -1 (latest) or a time in ms');
      return { ...topicPartition(p, w), timestamp };
    }),
  };
}

export interface ListOffsetsResponse {
  partitions: Array<TopicPartition & { error?: ErrorBody; offset?: bigint | null }>;
}

// ---- DeleteRecords (21) v0 -----------------------------------------------------------------------
// request: { partitions: [{ topic, partition, offset }] }, offset the new log start, -1 the high
// watermark. response: { partitions: [{ topic, partition, error?, lowWatermark? }] }

export interface DeleteRecordsRequest {
  partitions: Array<TopicPartition & { offset: bigint }>;
}

export function decodeDeleteRecordsRequest(body: unknown): DeleteRecordsRequest {
  const m = f.map(body, 'deleteRecords');
  return {
    partitions: f.list(m.partitions, 'deleteRecords.partitions', MAX_PARTITIONS_PER_REQUEST, (v, w) => {
      const p = f.map(v, w);
      const offset = f.int64(p.offset, `${w}.offset`);
      if (offset < -1n) throw f.invalid(`${w}.offset`, 'must be an offset, or -1 (the high watermark)');
      return { ...topicPartition(p, w), offset };
    }),
  };
}

export interface DeleteRecordsResponse {
  partitions: Array<TopicPartition & { error?: ErrorBody; lowWatermark?: bigint }>;
}

// ---- DescribeProducers (61) v0 -------------------------------------------------------------------
// request: { partitions: [{ topic, partition }] }
// response: { partitions: [{ topic, partition, error?, producers?: [{ producerId, producerEpoch, lastSequence, lastTimestampMs }] }] }

export interface DescribeProducersRequest {
  partitions: TopicPartition[];
}

export function decodeDescribeProducersRequest(body: unknown): DescribeProducersRequest {
  const m = f.map(body, 'describeProducers');
  return { partitions: f.list(m.partitions, 'describeProducers.partitions', MAX_PARTITIONS_PER_REQUEST, (v, w) => topicPartition(f.map(v, w), w)) };
}

export interface ProducerDescription {
  producerId: bigint;
  producerEpoch: number;
  /** The last sequence number written (-1: none). */
  lastSequence: number;
  /** When it last wrote (the broker's clock, ms). */
  lastTimestampMs: number;
}

export interface DescribeProducersResponse {
  partitions: Array<TopicPartition & { error?: ErrorBody; producers?: ProducerDescription[] }>;
}

// ---- Authenticate (36) v0 (Kafka's SaslAuthenticate key; one token, one round trip) --------------
// request: { mechanism: "token", token: string }    response: { principal: string }

export interface AuthenticateRequest {
  mechanism: 'token';
  token: string;
}

export function decodeAuthenticateRequest(body: unknown): AuthenticateRequest {
  const m = f.map(body, 'authenticate');
  const mechanism = f.string(m.mechanism, 'authenticate.mechanism', 64);
  if (mechanism !== 'token') throw new SluiceError('UNSUPPORTED_SASL_MECHANISM', `authentication mechanism ${mechanism} is not supported (token is)`);
  return { mechanism, token: f.string(m.token, 'authenticate.token', 4096) };
}

export interface AuthenticateResponse {
  principal: string;
}

// ---- OffsetForLeaderEpoch (23) v0: where a leader epoch ended in the leader's log ---------------
// request: { replicaId, partitions: [{ topic, partition, leaderEpoch, currentLeaderEpoch? }] }
// response: { partitions: [{ topic, partition, error?, leaderEpoch, endOffset }] }
// A follower that returns after a leader change asks where its latest epoch ended at the leader
// and truncates its log there before fetching (Kafka's KIP-101/279 rule).

export interface OffsetForLeaderEpochRequest {
  replicaId: number;
  partitions: Array<TopicPartition & { leaderEpoch: number; currentLeaderEpoch: number }>;
}

export function decodeOffsetForLeaderEpochRequest(body: unknown): OffsetForLeaderEpochRequest {
  const m = f.map(body, 'offsetForLeaderEpoch');
  return {
    replicaId: f.int(m.replicaId, 'offsetForLeaderEpoch.replicaId', -1, INT32_MAX, -1),
    partitions: f.list(m.partitions, 'offsetForLeaderEpoch.partitions', MAX_PARTITIONS_PER_REQUEST, (v, w) => {
      const p = f.map(v, w);
      return {
        ...topicPartition(p, w),
        leaderEpoch: f.int(p.leaderEpoch, `${w}.leaderEpoch`, -1, INT32_MAX),
        currentLeaderEpoch: f.int(p.currentLeaderEpoch, `${w}.currentLeaderEpoch`, -1, INT32_MAX, -1),
      };
    }),
  };
}

export interface OffsetForLeaderEpochResponse {
  partitions: Array<TopicPartition & { error?: ErrorBody; leaderEpoch: number; endOffset: bigint }>;
}
