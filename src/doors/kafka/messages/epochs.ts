// Kafka OffsetForLeaderEpoch v0-4 (v1 answers the epoch found, v2 the asker's current leader epoch
// and throttle time, v3 the replica id, v4 flexible): where a leader epoch ended in the leader's
// log. Clients ask it to check their position after a leader change (KIP-320). No I/O.

import { KafkaReader, KafkaWriter, VersionedReader, VersionedWriter } from '../../../protocol/kafka-wire.js';

export interface KafkaOffsetForLeaderEpochRequest {
  replicaId: number;
  topics: Array<{ name: string; partitions: Array<{ partition: number; currentLeaderEpoch: number; leaderEpoch: number }> }>;
}

export function decodeOffsetForLeaderEpoch(r: KafkaReader, version: number): KafkaOffsetForLeaderEpochRequest {
  const v = new VersionedReader(r, version >= 4);
  const replicaId = version >= 3 ? r.int32('replica_id') : -2;
  const topics = v.array(() => {
    const name = v.string('topic');
    const partitions = v.array(() => {
      const partition = r.int32('partition');
      const currentLeaderEpoch = version >= 2 ? r.int32('current_leader_epoch') : -1;
      const leaderEpoch = r.int32('leader_epoch');
      v.tags();
      return { partition, currentLeaderEpoch, leaderEpoch };
    }, 'partitions', 8);
    v.tags();
    return { name, partitions };
  }, 'topics', 2);
  v.end('OffsetForLeaderEpoch');
  return { replicaId, topics };
}

export interface KafkaEpochEndOffset {
  partition: number;
  errorCode: number;
  leaderEpoch: number;
  endOffset: bigint;
}

export function encodeOffsetForLeaderEpoch(w: KafkaWriter, version: number, topics: ReadonlyArray<{ name: string; partitions: readonly KafkaEpochEndOffset[] }>): void {
  const v = new VersionedWriter(w, version >= 4);
  if (version >= 2) w.int32(0);
  v.array(topics, (t) => {
    v.string(t.name).array(t.partitions, (p) => {
      w.int16(p.errorCode).int32(p.partition);
      if (version >= 1) w.int32(p.leaderEpoch);
      w.int64(p.endOffset);
      v.tags();
    });
    v.tags();
  });
  v.tags();
}
