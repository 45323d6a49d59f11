// Kafka Produce v3, Fetch v4, ListOffsets v1 and Metadata v0-4: request decoders and response
// encoders, field for field as in Kafka's message definitions (clients/src/main/resources/common/
// message/*.json, Kafka 3.4). Decoders read a request body and check that nothing is left over;
// encoders write a response body. No I/O.

import { KafkaReader, KafkaWriter, type SizedPiece } from '../../../protocol/kafka-wire.js';

// Produce v3

export interface KafkaProduceRequest {
  transactionalId: string | null;
  acks: number;
  timeoutMs: number;
  topics: Array<{ name: string; partitions: Array<{ partition: number; records: Buffer | null }> }>;
}

export function decodeProduce(r: KafkaReader): KafkaProduceRequest {
  const request: KafkaProduceRequest = {
    transactionalId: r.nullableString('transactional_id'),
    acks: r.int16('acks'),
    timeoutMs: r.int32('timeout_ms'),
    topics: r.array((t) => ({ name: t.string('topic name'), partitions: t.array((p) => ({ partition: p.int32('partition'), records: p.nullableBytes('records') }), 'partitions', 8) }), 'topics', 6),
  };
  r.end('Produce');
  return request;
}

export interface KafkaProducePartition {
  partition: number;
  errorCode: number;
  baseOffset: bigint;
  logAppendTimeMs: bigint;
}

export function encodeProduce(w: KafkaWriter, topics: ReadonlyArray<{ name: string; partitions: readonly KafkaProducePartition[] }>): void {
  w.array(topics, (w, t) =>
    w.string(t.name).array(t.partitions, (w, p) => w.int32(p.partition).int16(p.errorCode).int64(p.baseOffset).int64(p.logAppendTimeMs)),
  );
  w.int32(0); // throttle_time_ms (v1+: last)
}

// Fetch v4

export interface KafkaFetchRequest {
  replicaId: number;
  maxWaitMs: number;
  minBytes: number;
  maxBytes: number;
  isolationLevel: number;
  topics: Array<{ name: string; partitions: Array<{ partition: number; fetchOffset: bigint; partitionMaxBytes: number }> }>;
}

export function decodeFetch(r: KafkaReader): KafkaFetchRequest {
  const request: KafkaFetchRequest = {
    replicaId: r.int32('replica_id'),
    maxWaitMs: r.int32('max_wait_ms'),
    minBytes: r.int32('min_bytes'),
    maxBytes: r.int32('max_bytes'),
    isolationLevel: r.int8('isolation_level'),
    topics: r.array(
      (t) => ({
        name: t.string('topic'),
        partitions: t.array((p) => ({ partition: p.int32('partition'), fetchOffset: p.int64('fetch_offset'), partitionMaxBytes: p.int32('partition_max_bytes') }), 'partitions', 16),
      }),
      'topics',
      6,
    ),
  };
  r.end('Fetch');
  return request;
}

export interface KafkaFetchPartition {
  partition: number;
  errorCode: number;
  highWatermark: bigint;
  lastStableOffset: bigint;
  /** Whole batches from the segment files; sent by the transfer engine. */
  records: SizedPiece | null;
}

/** `records` is written as int32 size + the slice's bytes (never null: librdkafka rejects -1). */
export function encodeFetch(w: KafkaWriter, topics: ReadonlyArray<{ name: string; partitions: readonly KafkaFetchPartition[] }>): void {
  w.int32(0); // throttle_time_ms
  w.array(topics, (w, t) =>
    w.string(t.name).array(t.partitions, (w, p) => {
      w.int32(p.partition).int16(p.errorCode).int64(p.highWatermark).int64(p.lastStableOffset);
      w.int32(0); // aborted_transactions: none (no transactions)
      w.int32(p.records?.bytes ?? 0);
      if (p.records) w.slice(p.records);
    }),
  );
}

// ListOffsets v1

export interface KafkaListOffsetsRequest {
  replicaId: number;
  topics: Array<{ name: string; partitions: Array<{ partition: number; timestamp: bigint }> }>;
}

export function decodeListOffsets(r: KafkaReader): KafkaListOffsetsRequest {
  const request: KafkaListOffsetsRequest = {
    replicaId: r.int32('replica_id'),
    topics: r.array((t) => ({ name: t.string('topic'), partitions: t.array((p) => ({ partition: p.int32('partition'), timestamp: p.int64('timestamp') }), 'partitions', 12) }), 'topics', 6),
  };
  r.end('ListOffsets');
  return request;
}

export interface KafkaListOffsetsPartition {
  partition: number;
  errorCode: number;
  timestamp: bigint;
  offset: bigint;
}

export function encodeListOffsets(w: KafkaWriter, topics: ReadonlyArray<{ name: string; partitions: readonly KafkaListOffsetsPartition[] }>): void {
  w.array(topics, (w, t) => w.string(t.name).array(t.partitions, (w, p) => w.int32(p.partition).int16(p.errorCode).int64(p.timestamp).int64(p.offset)));
}

// Metadata v0-4

export interface KafkaMetadataRequest {
  /** null: every topic. */
  topics: string[] | null;
  allowAutoTopicCreation: boolean;
}

export function decodeMetadata(r: KafkaReader, version: number): KafkaMetadataRequest {
  const topics = r.nullableArray((t) => t.string('topic'), 'topics', 2);
  // v0 has no null: an empty list means every topic. v1+: null means every topic, empty means none.
  const request: KafkaMetadataRequest = {
    topics: version === 0 && topics?.length === 0 ? null : topics,
    allowAutoTopicCreation: version >= 4 ? r.boolean('allow_auto_topic_creation') : true,
  };
  r.end('Metadata');
  return request;
}

export interface KafkaMetadataResponse {
  brokers: Array<{ nodeId: number; host: string; port: number }>;
  clusterId: string;
  controllerId: number;
  topics: Array<{ errorCode: number; name: string; internal: boolean; partitions: Array<{ errorCode: number; partition: number; leader: number; replicas: number[] }> }>;
}

export function encodeMetadata(w: KafkaWriter, version: number, m: KafkaMetadataResponse): void {
  if (version >= 3) w.int32(0); // throttle_time_ms
  w.array(m.brokers, (w, b) => {
    w.int32(b.nodeId).string(b.host).int32(b.port);
    if (version >= 1) w.string(null); // rack
  });
  if (version >= 2) w.string(m.clusterId);
  if (version >= 1) w.int32(m.controllerId);
  w.array(m.topics, (w, t) => {
    w.int16(t.errorCode).string(t.name);
    if (version >= 1) w.boolean(t.internal);
    w.array(t.partitions, (w, p) => {
      const nodes = (w: KafkaWriter, id: number) => w.int32(id);
      w.int16(p.errorCode).int32(p.partition).int32(p.leader).array(p.replicas, nodes).array(p.replicas, nodes);
    });
  });
}
