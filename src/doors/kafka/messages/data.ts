// Kafka Produce v3-11 and Fetch v4-12 (ListOffsets and Metadata: ./offsets.ts, ./topics.ts): request
// decoders and response encoders, field for field as in Kafka's message definitions (clients/src/main/resources/common/
// message/*.json, Kafka 3.4). Decoders read a request body and check that nothing is left over;
// encoders write a response body. No I/O.

import { KafkaReader, KafkaWriter, type SizedPiece, VersionedReader, VersionedWriter } from '../../../protocol/kafka-wire.js';

// Produce v3-11 (the request's fields are the same throughout; v7 allows zstd batches; v9+ flexible;
// v10-11 add only tagged fields this broker never writes, and promises clients read them when present)

export interface KafkaProduceRequest {
  transactionalId: string | null;
  acks: number;
  timeoutMs: number;
  topics: Array<{ name: string; partitions: Array<{ partition: number; records: Buffer | null }> }>;
}

export function decodeProduce(r: KafkaReader, version: number): KafkaProduceRequest {
  const v = new VersionedReader(r, version >= 9);
  const partition = () => {
    // Records stay a view of the request: the log stamps offsets into them in place.
    const out = { partition: r.int32('partition'), records: v.nullableBytesView('records') };
    v.tags();
    return out;
  };
  const topic = () => {
    const out = { name: v.string('topic name'), partitions: v.array(partition, 'partitions', 6) };
    v.tags();
    return out;
  };
  const request = { transactionalId: v.nullableString('transactional_id'), acks: r.int16('acks'), timeoutMs: r.int32('timeout_ms'), topics: v.array(topic, 'topics', 3) };
  v.end('Produce');
  return request;
}

export interface KafkaProducePartition {
  partition: number;
  errorCode: number;
  baseOffset: bigint;
  logAppendTimeMs: bigint;
  /** v5+: the partition's log start offset after the append (-1 when unknown). */
  logStartOffset: bigint;
  /** v8+: why the partition's records were refused (null: no message). */
  errorMessage: string | null;
}

/** v5 adds log_start_offset; v8 record_errors (none: a batch is refused whole) and error_message; v9+ compact. */
export function encodeProduce(w: KafkaWriter, version: number, topics: ReadonlyArray<{ name: string; partitions: readonly KafkaProducePartition[] }>): void {
  const v = new VersionedWriter(w, version >= 9);
  v.array(topics, (t) =>
    v
      .string(t.name)
      .array(t.partitions, (p) => {
        w.int32(p.partition).int16(p.errorCode).int64(p.baseOffset).int64(p.logAppendTimeMs);
        if (version >= 5) w.int64(p.logStartOffset);
        if (version >= 8) v.array([], () => undefined).string(p.errorMessage);
        v.tags();
      })
      .tags(),
  );
  w.int32(0); // throttle_time_ms (v1+: last)
  v.tags();
}

// Fetch v4-17 (v5 log start offsets, v7 fetch sessions, v9 leader epochs, v11 rack id, v12
// flexible with the last fetched epoch, v13 topics by id instead of name, v15 the replica id only
// in a follower's tagged replica state; v14, v16 and v17 change semantics or tags this broker
// has no use for: tiered storage, new-leader endpoints, a follower's directory id).

export interface KafkaFetchRequest {
  replicaId: number;
  maxWaitMs: number;
  minBytes: number;
  maxBytes: number;
  isolationLevel: number;
  /** v7+: 0 with epoch -1 asks for no session; 0 with epoch 0 asks for a new one (KIP-227). */
  sessionId: number;
  sessionEpoch: number;
  /** `name` until v12, `id` (a uuid's text) from v13. */
  topics: Array<{ name: string; id: string | null; partitions: Array<{ partition: number; currentLeaderEpoch: number; fetchOffset: bigint; partitionMaxBytes: number }> }>;
  /** v7+: partitions to drop from an incremental session's set. */
  forgottenTopics: Array<{ name: string; id: string | null; partitions: number[] }>;
  /** v11+: the consumer's rack (client.rack; empty: none), for fetching from a replica in it (KIP-392). */
  rackId: string;
}

export function decodeFetch(r: KafkaReader, version: number): KafkaFetchRequest {
  const flexible = version >= 12;
  const byId = version >= 13;
  const replicaId = version <= 14 ? r.int32('replica_id') : -1;
  const maxWaitMs = r.int32('max_wait_ms');
  const minBytes = r.int32('min_bytes');
  const maxBytes = r.int32('max_bytes');
  const isolationLevel = r.int8('isolation_level');
  const sessionId = version >= 7 ? r.int32('session_id') : 0;
  const sessionEpoch = version >= 7 ? r.int32('session_epoch') : -1;
  const v = new VersionedReader(r, flexible);
  const partition = () => {
    const index = r.int32('partition');
    const currentLeaderEpoch = version >= 9 ? r.int32('current_leader_epoch') : -1;
    const fetchOffset = r.int64('fetch_offset');
    if (version >= 12) r.int32('last_fetched_epoch'); // a follower's divergence check; no followers here
    if (version >= 5) r.int64('log_start_offset'); // a follower's; consumers send -1
    const out = { partition: index, currentLeaderEpoch, fetchOffset, partitionMaxBytes: r.int32('partition_max_bytes') };
    v.tags();
    return out;
  };
  const name = () => (byId ? { name: '', id: r.uuid('topic_id') } : { name: v.string('topic'), id: null });
  const topic = () => {
    const out = { ...name(), partitions: v.array(partition, 'partitions', 16) };
    v.tags();
    return out;
  };
  const forgotten = () => {
    const out = { ...name(), partitions: v.array(() => r.int32('partition'), 'partitions', 4) };
    v.tags();
    return out;
  };
  const topics = v.array(topic, 'topics', 2);
  const forgottenTopics = version >= 7 ? v.array(forgotten, 'forgotten_topics_data', 2) : [];
  const rackId = version >= 11 ? v.string('rack_id') : '';
  v.tags(); // v12+: cluster_id (tag 0) and a follower's replica_state are skipped
  r.end('Fetch');
  return { replicaId, maxWaitMs, minBytes, maxBytes, isolationLevel, sessionId, sessionEpoch, topics, forgottenTopics, rackId };
}

export interface KafkaFetchPartition {
  partition: number;
  errorCode: number;
  highWatermark: bigint;
  lastStableOffset: bigint;
  /** v5+. */
  logStartOffset: bigint;
  /** Whole batches from the segment files; sent by the transfer engine. */
  records: SizedPiece | null;
  /** v11+: the replica the consumer should fetch from instead (KIP-392); -1: this broker. */
  preferredReadReplica: number;
}

/**
 * `records` is written as its size + the slice's bytes (never null: librdkafka rejects -1; a
 * compact size from v12). v7+ carries the request-level error and the session id (always 0:
 * sessions are declined, KIP-227); v11 each partition's preferred read replica (KIP-392: a
 * replica in the consumer's rack; -1: this broker); v13+ names each topic by its id. Hot: one response per consumer per fetch,
 * so the versions branch inline.
 */
export function encodeFetch(w: KafkaWriter, version: number, errorCode: number, topics: ReadonlyArray<{ name: string; id?: string; partitions: readonly KafkaFetchPartition[] }>): void {
  w.int32(0); // throttle_time_ms
  if (version >= 7) w.int16(errorCode).int32(0);
  if (version >= 12) {
    w.compactArray(topics, (w, t) =>
      (version >= 13 ? w.uuid(t.id!) : w.compactString(t.name))
        .compactArray(t.partitions, (w, p) => {
          w.int32(p.partition).int16(p.errorCode).int64(p.highWatermark).int64(p.lastStableOffset).int64(p.logStartOffset);
          w.uvarint(1).int32(p.preferredReadReplica); // aborted_transactions: none (no transactions); preferred_read_replica
          w.uvarint((p.records?.bytes ?? 0) + 1);
          if (p.records) w.slice(p.records);
          w.noTaggedFields();
        })
        .noTaggedFields(),
    );
    w.noTaggedFields();
    return;
  }
  w.array(topics, (w, t) =>
    w.string(t.name).array(t.partitions, (w, p) => {
      w.int32(p.partition).int16(p.errorCode).int64(p.highWatermark).int64(p.lastStableOffset);
      if (version >= 5) w.int64(p.logStartOffset);
      w.int32(0); // aborted_transactions: none (no transactions)
      if (version >= 11) w.int32(p.preferredReadReplica);
      w.int32(p.records?.bytes ?? 0);
      if (p.records) w.slice(p.records);
    }),
  );
}
