// Request frames the native load generators send over and over: a Sluice Fetch or Subscribe (and
// the Credit that answers its pushes) or a Kafka Fetch v4 for one partition, with where the
// correlation id and the offset sit so that each send can patch them in place. Used by the
// benchmarks and by the load tests.

import { encodeRequest } from '../../src/protocol/codec.js';
import { ApiKey } from '../../src/protocol/messages.js';
import { KafkaApi } from '../../src/doors/kafka/apis.js';
import { KafkaWriter } from '../../src/protocol/kafka-wire.js';

/** The topic the benchmarks fan out from unless told otherwise. */
export const TOPIC = 'fanout';
const CORRELATION_SENTINEL = 0x7fff_ffff;
const OFFSET_SENTINEL = 0x0123_4567_89ab_cdefn;

/** A fetch request frame for one partition, and where its correlation id and offset sit (for NativeFetchLoad). */
export function fetchTemplate(
  partition: number,
  fetchBytes: number,
  options: { topic?: string; maxWaitMs?: number; minBytes?: number } = {},
): { frame: Buffer; correlationAt: number; offsetAt: number } {
  return requestTemplate(ApiKey.Fetch, {
    maxWaitMs: options.maxWaitMs ?? 0,
    minBytes: options.minBytes ?? 1,
    maxBytes: fetchBytes,
    partitions: [{ topic: options.topic ?? TOPIC, partition, offset: OFFSET_SENTINEL, maxBytes: fetchBytes }],
  });
}

/**
 * A Subscribe request frame for one partition (its correlation id and offset patched as a fetch
 * template's), and the Credit frame the native consumers send back for it (subscription 1: the
 * only one on each of their connections), with where its u32 byte count sits.
 */
export function subscribeTemplates(
  partition: number,
  windowBytes: number,
  topic = TOPIC,
): { frame: Buffer; correlationAt: number; offsetAt: number; credit: { creditTemplate: Buffer; creditBytesAt: number; windowBytes: number } } {
  const subscribe = requestTemplate(ApiKey.Subscribe, { topic, partition, offset: OFFSET_SENTINEL, windowBytes });
  const credit = encodeRequest({ apiKey: ApiKey.Credit, apiVersion: 0, correlationId: 1, clientId: 'bench' }, { subscriptionId: 1, bytes: CORRELATION_SENTINEL });
  return { ...subscribe, credit: { creditTemplate: credit, creditBytesAt: locate(credit, uint32Marker(CORRELATION_SENTINEL)), windowBytes } };
}

/** A Sluice request frame whose correlation id (u32) and `OFFSET_SENTINEL` (i64) can be patched in place. */
function requestTemplate(apiKey: number, body: unknown): { frame: Buffer; correlationAt: number; offsetAt: number } {
  const frame = encodeRequest({ apiKey, apiVersion: 0, correlationId: CORRELATION_SENTINEL, clientId: 'bench' }, body);
  const off = Buffer.alloc(9);
  off[0] = 0xd3; // MessagePack int64
  off.writeBigInt64BE(OFFSET_SENTINEL, 1);
  return { frame, correlationAt: locate(frame, uint32Marker(CORRELATION_SENTINEL)), offsetAt: locate(frame, off) };
}

function uint32Marker(value: number): Buffer {
  const marker = Buffer.alloc(5);
  marker[0] = 0xce; // MessagePack uint32
  marker.writeUInt32BE(value, 1);
  return marker;
}

/** Where the value after `marker`'s type byte sits in `frame` (the marker must occur once). */
function locate(frame: Buffer, marker: Buffer): number {
  const at = frame.indexOf(marker);
  if (at < 0 || frame.indexOf(marker, at + 1) >= 0) throw new Error(`request template: cannot locate ${marker.toString('hex')}`);
  return at + 1;
}

/**
 * The Kafka Fetch versions the load generators can send: v4 as kafkajs 2.2 once did, v11 as
 * librdkafka does, v13 (flexible, the topic by id) as Kafka's Java client 4.x and
 * @platformatic/kafka do.
 */
export const KAFKA_FETCH_VERSIONS = [4, 11, 13] as const;
export type KafkaFetchVersion = (typeof KAFKA_FETCH_VERSIONS)[number];

/**
 * A Kafka Fetch request frame (v4; v11 with no fetch session, leader epoch -1, no rack; v13 the
 * same flexible, naming the topic by `topicId`) for one partition, with where its correlation id
 * and offset sit, how many bytes of each response come before the records (v13: before the
 * records' varint size) and, from v13, how many follow them (tag buffers).
 */
export function kafkaFetchTemplate(
  partition: number,
  fetchBytes: number,
  topic = TOPIC,
  options: { maxWaitMs?: number; minBytes?: number; version?: KafkaFetchVersion; topicId?: string } = {},
): { frame: Buffer; correlationAt: number; offsetAt: number; headBytes: number; tailBytes?: number } {
  const version = options.version ?? 4;
  const flexible = version >= 12;
  if (flexible && !options.topicId) throw new Error(`Fetch v${version} names the topic by id: pass topicId`);
  const w = new KafkaWriter().int16(KafkaApi.Fetch).int16(version).int32(CORRELATION_SENTINEL).string('bench');
  if (flexible) w.noTaggedFields(); // request header v2
  w.int32(-1).int32(options.maxWaitMs ?? 0).int32(options.minBytes ?? 1).int32(fetchBytes).int8(1); // replica, maxWaitMs, minBytes, maxBytes, READ_COMMITTED
  if (version >= 7) w.int32(0).int32(-1); // no fetch session
  if (flexible) w.uvarint(2).uuid(options.topicId!).uvarint(2).int32(partition);
  else w.int32(1).string(topic).int32(1).int32(partition);
  if (version >= 9) w.int32(-1); // current leader epoch: unknown
  w.int64(OFFSET_SENTINEL);
  if (flexible) w.int32(-1); // last fetched epoch: a consumer's is -1
  if (version >= 5) w.int64(-1n); // log start offset: a consumer's is -1
  w.int32(fetchBytes);
  if (flexible) w.noTaggedFields().noTaggedFields().uvarint(1).compactString('').noTaggedFields(); // partition and topic tags, no forgotten topics, rack, body tags
  else {
    if (version >= 7) w.int32(0); // forgotten topics
    if (version >= 11) w.string(''); // rack id
  }
  const payload = Buffer.concat(w.pieces() as Buffer[]);
  const frame = Buffer.alloc(4 + payload.length);
  frame.writeInt32BE(payload.length, 0);
  payload.copy(frame, 4);
  const sentinel = Buffer.alloc(8);
  sentinel.writeBigInt64BE(OFFSET_SENTINEL);
  if (flexible) {
    // size, correlation id, header tags, throttle, error, session, topics (1), topic id,
    // partitions (1), partition, error, HW, LSO, log start, aborted (empty), preferred replica;
    // after the records: the partition's, the topic's and the body's tag buffers.
    return { frame, correlationAt: 8, offsetAt: frame.indexOf(sentinel), headBytes: 4 + 4 + 1 + 10 + 1 + 16 + 1 + 30 + 1 + 4, tailBytes: 3 };
  }
  // size, correlation id, throttle, [error, session], topics, topic, partitions, partition, error,
  // HW, LSO, [log start], aborted, [preferred replica], records size
  const headBytes =
    4 + 4 + 4 + (version >= 7 ? 6 : 0) + 4 + 2 + Buffer.byteLength(topic) + 4 + 4 + 2 + 8 + 8 + (version >= 5 ? 8 : 0) + 4 + (version >= 11 ? 4 : 0) + 4;
  return { frame, correlationAt: 8, offsetAt: frame.indexOf(sentinel), headBytes };
}
