// Kafka ListOffsets v1-8 (v2 isolation level, v4 leader epochs, v6+ flexible, v7 max timestamp,
// v8 earliest local) and DeleteRecords v0-2 (v2 flexible): request decoders and response encoders,
// field for field as in Kafka's message definitions (clients/src/main/resources/common/message/
// *.json). No I/O.

import { KafkaDecodeError, KafkaReader, KafkaWriter, VersionedReader, VersionedWriter } from '../../../protocol/kafka-wire.js';

// ---- ListOffsets (2)

export interface KafkaListOffsetsRequest {
  replicaId: number;
  /** v2+: 0 READ_UNCOMMITTED, 1 READ_COMMITTED. */
  isolationLevel: number;
  topics: Array<{ name: string; partitions: Array<{ partition: number; currentLeaderEpoch: number; timestamp: bigint }> }>;
}

export function decodeListOffsets(r: KafkaReader, version: number): KafkaListOffsetsRequest {
  const f = new VersionedReader(r, version >= 6);
  const replicaId = r.int32('replica_id');
  const isolationLevel = version >= 2 ? r.int8('isolation_level') : 0;
  if (isolationLevel !== 0 && isolationLevel !== 1) throw new KafkaDecodeError(`isolation_level ${isolationLevel} is neither 0 nor 1`);
  const topics = f.array(
    () => {
      const name = f.string('topic');
      const partitions = f.array(
        () => {
          const partition = r.int32('partition_index');
          const currentLeaderEpoch = version >= 4 ? r.int32('current_leader_epoch') : -1;
          const entry = { partition, currentLeaderEpoch, timestamp: r.int64('timestamp') };
          f.tags();
          return entry;
        },
        'partitions',
        version >= 4 ? 16 : 12,
      );
      f.tags();
      return { name, partitions };
    },
    'topics',
    2,
  );
  f.tags();
  r.end('ListOffsets');
  return { replicaId, isolationLevel, topics };
}

export interface KafkaListOffsetsPartition {
  partition: number;
  errorCode: number;
  /** The answered record's timestamp; -1 for the log's bounds. */
  timestamp: bigint;
  offset: bigint;
  /** v4+: the epoch of the leader that wrote the answered offset (-1 unknown). */
  leaderEpoch: number;
}

/** v2 throttle, v4 leader epochs, v6 flexible. */
export function encodeListOffsets(w: KafkaWriter, version: number, topics: ReadonlyArray<{ name: string; partitions: readonly KafkaListOffsetsPartition[] }>): void {
  const f = new VersionedWriter(w, version >= 6);
  if (version >= 2) w.int32(0); // throttle_time_ms
  f.array(topics, (t) => {
    f.string(t.name);
    f.array(t.partitions, (p) => {
      w.int32(p.partition).int16(p.errorCode).int64(p.timestamp).int64(p.offset);
      if (version >= 4) w.int32(p.leaderEpoch);
      f.tags();
    });
    f.tags();
  });
  f.tags();
}

// ---- DeleteRecords (21)

export interface KafkaDeleteRecordsRequest {
  topics: Array<{ name: string; partitions: Array<{ partition: number; offset: bigint }> }>;
  timeoutMs: number;
}

export function decodeDeleteRecords(r: KafkaReader, version: number): KafkaDeleteRecordsRequest {
  const f = new VersionedReader(r, version >= 2);
  const topics = f.array(
    () => {
      const name = f.string('topic');
      const partitions = f.array(
        () => {
          const entry = { partition: r.int32('partition_index'), offset: r.int64('offset') };
          f.tags();
          return entry;
        },
        'partitions',
        12,
      );
      f.tags();
      return { name, partitions };
    },
    'topics',
    2,
  );
  const request = { topics, timeoutMs: r.int32('timeout_ms') };
  f.tags();
  r.end('DeleteRecords');
  return request;
}

export interface KafkaDeleteRecordsPartition {
  partition: number;
  /** The log start after the call; -1 on error. */
  lowWatermark: bigint;
  errorCode: number;
}

export function encodeDeleteRecords(w: KafkaWriter, version: number, topics: ReadonlyArray<{ name: string; partitions: readonly KafkaDeleteRecordsPartition[] }>): void {
  const f = new VersionedWriter(w, version >= 2);
  w.int32(0); // throttle_time_ms
  f.array(topics, (t) => {
    f.string(t.name);
    f.array(t.partitions, (p) => {
      w.int32(p.partition).int64(p.lowWatermark).int16(p.errorCode);
      f.tags();
    });
    f.tags();
  });
  f.tags();
}
