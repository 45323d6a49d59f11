// The package's public API.

export { SluiceError, ERRORS, type ErrorCode } from './errors.js';
export { systemClock, ManualClock, type Clock } from './clock.js';
export { crc32c, nativeAvailable } from './native.js';
export { PartitionLog, type AppendResult, type FileRange, type LogSlice, type LogOptions, type LogStats } from './storage/partition-log.js';
export {
  encodeRecordBatch,
  RecordBatchBuilder,
  decodeRecordBatch,
  decodeRecordBatches,
  type RecordInput,
  type DecodedBatch,
  type DecodedRecord,
  type BatchOptions,
} from './protocol/record-batch.js';
export { TransferEngine, FETCH_PATHS, isFetchPath, type FetchPath, type TransferCounters, type TransferEngineOptions } from './transfer/engine.js';
export { ResponseWriter, type ResponsePiece } from './transfer/response-writer.js';
export { Connection, responseError, type ConnectionOptions, type Response } from './client/connection.js';
export { encodeRequest, encodeResponse, decodeRequestMeta, decodeResponseMeta, type RequestHeader } from './protocol/codec.js';
export { FrameDecoder, FramingError, framePrefix, type FrameEvent } from './protocol/frame.js';
export * from './protocol/messages.js';
// The broker (its metrics, logging, groups) loads only when a broker is started: a client-only
// user does not pay for it. `sluice/broker` has the Broker class itself.
export type { BrokerConfig } from './app/broker.js';
export type { StartBrokerOptions, EmbeddedBroker } from './app/embedded.js';

/** A broker in this process (see embedded.ts): free ports, a temp data dir that close() removes. */
export async function startBroker(options?: import('./app/embedded.js').StartBrokerOptions): Promise<import('./app/embedded.js').EmbeddedBroker> {
  return (await import('./app/embedded.js')).startBroker(options);
}
export { Producer, type ProducerOptions, type ProducerRecord, type RecordMetadata, type ProducerAcks } from './client/producer.js';
export { Consumer, type ConsumerOptions, type Message, type MessageBatch } from './client/consumer.js';
export type { Acks, TopicPartition } from './vocabulary.js';
export { Admin, type TopicDescription, type GroupDescription } from './client/admin.js';
export { Subscription, DEFAULT_WINDOW_BYTES, type SubscriptionOptions, type PushedBatches } from './client/subscription.js';
export { type ClientOptions } from './client/broker-client.js';
export { rangeAssignor, roundRobinAssignor, type Assignor } from './client/assignors.js';
export { murmur2, partitionForKey } from './client/partitioner.js';
