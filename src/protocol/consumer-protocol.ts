// Kafka's consumer protocol (ConsumerProtocolAssignment v0+, the bytes a Kafka group leader hands
// each member through SyncGroup): `version int16 | [topic string, [partition int32]] | user_data
// bytes`. The broker relays these bytes unread; Sluice's admin decodes them to show which member
// of a Kafka client's group reads which partition. No I/O.

import { KafkaReader } from './kafka-wire.js';
import type { TopicPartition } from '../vocabulary.js';

/** The partitions of a Kafka consumer-protocol assignment; throws KafkaDecodeError when the bytes are not one. */
export function decodeConsumerAssignment(bytes: Uint8Array): Array<TopicPartition> {
  const r = new KafkaReader(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength));
  r.int16('version');
  const topics = r.array((t) => ({ topic: t.string('topic'), partitions: t.array((p) => p.int32('partition'), 'partitions', 4) }), 'topics', 6);
  return topics.flatMap((t) => t.partitions.map((partition) => ({ topic: t.topic, partition })));
}
