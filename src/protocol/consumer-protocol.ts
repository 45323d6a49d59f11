// The "consumer" group protocol's member bytes, in both clients' formats. Kafka's
// (ConsumerProtocolSubscription and ConsumerProtocolAssignment v0+): `version int16 | [topic
// string] | ...` in a member's JoinGroup metadata, `version int16 | [topic string, [partition
// int32]] | user_data bytes` in what the leader hands each member through SyncGroup. Sluice's
// client writes MessagePack: `{ topics: [string] }` as its metadata. The broker relays them unread
// but for two questions: which topics a group subscribes to (OffsetDelete refuses those, as Kafka
// does) and, in Sluice's admin, which member reads which partition. No I/O.

import { packr } from './codec.js';
import { KafkaReader } from './kafka-wire.js';
import type { TopicPartition } from '../vocabulary.js';

/** The partitions of a Kafka consumer-protocol assignment; throws KafkaDecodeError when the bytes are not one. */
export function decodeConsumerAssignment(bytes: Uint8Array): Array<TopicPartition> {
  const r = new KafkaReader(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength));
  r.int16('version');
  const topics = r.array((t) => ({ topic: t.string('topic'), partitions: t.array((p) => p.int32('partition'), 'partitions', 4) }), 'topics', 6);
  return topics.flatMap((t) => t.partitions.map((partition) => ({ topic: t.topic, partition })));
}

/** Sluice's client's member metadata: the topics it subscribes to. */
export function encodeMemberMetadata(topics: readonly string[]): Buffer {
  return packr.pack({ topics: [...topics] });
}

export function decodeMemberMetadata(bytes: Uint8Array): string[] {
  const value = bytes.length === 0 ? {} : (packr.unpack(Buffer.from(bytes)) as { topics?: unknown });
  return Array.isArray(value.topics) ? value.topics.filter((t): t is string => typeof t === 'string') : [];
}

/**
 * The topics a "consumer" group member subscribes to, from its JoinGroup metadata in Kafka's layout
 * (an int16 version first: its first byte is 0) or Sluice's (a MessagePack map); null when the
 * bytes are neither, and the caller must assume any topic.
 */
export function subscribedTopics(metadata: Uint8Array): string[] | null {
  try {
    if (metadata.length >= 2 && metadata[0] === 0) {
      const r = new KafkaReader(Buffer.from(metadata.buffer, metadata.byteOffset, metadata.byteLength));
      r.int16('version');
      return r.array((t) => t.string('topic'), 'topics', 2);
    }
    const value = packr.unpack(Buffer.from(metadata.buffer, metadata.byteOffset, metadata.byteLength)) as { topics?: unknown } | null;
    return value && Array.isArray(value.topics) && value.topics.every((x) => typeof x === 'string') ? (value.topics as string[]) : null;
  } catch {
    return null;
  }
}
