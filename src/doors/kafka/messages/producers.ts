// Kafka's idempotent-producer APIs: InitProducerId v0-5 (v2+ flexible; v3+ carries the producer's
// current id and epoch, which a producer without a transactional id sends as -1) and
// DescribeProducers v0 (flexible). Request decoders and response encoders, as in Kafka's message
// definitions. No I/O.

import { KafkaReader, KafkaWriter, VersionedReader, VersionedWriter } from '../../../protocol/kafka-wire.js';

export interface KafkaInitProducerIdRequest {
  transactionalId: string | null;
  transactionTimeoutMs: number;
  /** v3+: -1 unless a transactional producer is re-initialising. */
  producerId: bigint;
  producerEpoch: number;
}

export function decodeInitProducerId(r: KafkaReader, version: number): KafkaInitProducerIdRequest {
  const v = new VersionedReader(r, version >= 2);
  const transactionalId = v.nullableString('transactional_id');
  const transactionTimeoutMs = r.int32('transaction_timeout_ms');
  const producerId = version >= 3 ? r.int64('producer_id') : -1n;
  const producerEpoch = version >= 3 ? r.int16('producer_epoch') : -1;
  v.end('InitProducerId');
  return { transactionalId, transactionTimeoutMs, producerId, producerEpoch };
}

export function encodeInitProducerId(w: KafkaWriter, version: number, errorCode: number, producerId: bigint, producerEpoch: number): void {
  w.int32(0).int16(errorCode).int64(producerId).int16(producerEpoch);
  new VersionedWriter(w, version >= 2).tags();
}

export interface KafkaDescribeProducersRequest {
  topics: Array<{ name: string; partitions: number[] }>;
}

export function decodeDescribeProducers(r: KafkaReader, _version: number): KafkaDescribeProducersRequest {
  const topic = (t: KafkaReader) => {
    const out = { name: t.compactString('topic name'), partitions: t.compactArray((p) => p.int32('partition_index'), 'partition_indexes', 4) };
    t.taggedFields();
    return out;
  };
  const request = { topics: r.compactArray(topic, 'topics', 3) };
  r.taggedFields();
  r.end('DescribeProducers');
  return request;
}

export interface KafkaProducerState {
  producerId: bigint;
  producerEpoch: number;
  lastSequence: number;
  lastTimestampMs: bigint;
}

export interface KafkaDescribeProducersPartition {
  partition: number;
  errorCode: number;
  errorMessage: string | null;
  producers: readonly KafkaProducerState[];
}

/** No transactions: every producer's coordinator epoch and current transaction start are -1. */
export function encodeDescribeProducers(w: KafkaWriter, _version: number, topics: ReadonlyArray<{ name: string; partitions: readonly KafkaDescribeProducersPartition[] }>): void {
  w.int32(0).compactArray(topics, (w, t) =>
    w
      .compactString(t.name)
      .compactArray(t.partitions, (w, p) =>
        w
          .int32(p.partition)
          .int16(p.errorCode)
          .compactString(p.errorMessage)
          .compactArray(p.producers, (w, s) => w.int64(s.producerId).int32(s.producerEpoch).int32(s.lastSequence).int64(s.lastTimestampMs).int32(-1).int64(-1n).noTaggedFields())
          .noTaggedFields(),
      )
      .noTaggedFields(),
  );
  w.noTaggedFields();
}
