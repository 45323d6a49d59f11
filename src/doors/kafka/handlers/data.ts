// Kafka Produce and Fetch over the same LogService and TopicRegistry as
// Sluice's own handlers: a Kafka produce is appended byte for byte through the same validator, and
// a Kafka fetch gets the same whole-batch log slices, sent by the transfer engine.

import { ERRORS, SluiceError } from '../../../errors.js';
import { findTopic, lookupTopicById } from '../../../broker/metadata.js';
import { bodiesBySlice, fetch as fetchRecords, produce as produceRecords, unacknowledgedFailure, type FetchOutcome, type ProduceInput, type ProduceOutcome } from '../../../broker/data.js';
import { isAcks } from '../../../vocabulary.js';
import { LOG_OVERHEAD_BYTES } from '../../../protocol/record-batch.js';
import { kafkaErrorCode } from '../apis.js';
import { decodeFetch, decodeProduce, encodeFetch, encodeProduce } from '../messages/data.js';
import { body, byTopic, flatten, kafkaHandler, type KafkaReply } from './handler.js';

/** Kafka's "no time" and "no offset". */
const NONE = -1n;

/** The batch header's compression codec (attributes' low 3 bits): 4 is zstd. */
const ZSTD = 4;
const ATTRIBUTES_AT = 21;

export const produce = kafkaHandler(decodeProduce, async (ctx, request, header) => {
  // Checks Kafka makes before the log sees the bytes; the log's validator does the rest (CRC,
  // magic, bounds, counts) and answers CORRUPT_MESSAGE.
  // Request-wide refusals apply to every partition; the others are per partition's records.
  const whole =
    request.transactionalId !== null
      ? new SluiceError('TRANSACTIONS_NOT_SUPPORTED', `transactional id ${JSON.stringify(request.transactionalId)}: transactions are not supported`)
      : !isAcks(request.acks)
        ? new SluiceError('INVALID_REQUIRED_ACKS', `acks must be 0, 1 or -1, got ${request.acks}`)
        : undefined;
  const refusal = (records: Buffer | null): SluiceError | undefined => {
    if (whole) return whole;
    if (records === null || records.length === 0) return new SluiceError('CORRUPT_MESSAGE', 'the partition has no records');
    if (records.length >= LOG_OVERHEAD_BYTES && records.readInt32BE(8) + LOG_OVERHEAD_BYTES < records.length) {
      return new SluiceError('INVALID_RECORD', 'Produce v3+ carries exactly one record batch per partition');
    }
    // As Kafka: a client that can send zstd asks with v7+, so one that did not cannot read it back.
    if (header.apiVersion < 7 && records.length > ATTRIBUTES_AT + 1 && (records.readInt16BE(ATTRIBUTES_AT) & 0x07) === ZSTD) {
      return new SluiceError('UNSUPPORTED_COMPRESSION_TYPE', `zstd batches need Produce v7+, this is v${header.apiVersion}`);
    }
    return undefined;
  };
  const items = flatten(request.topics, (topic, p) => ({ topic, partition: p.partition, batches: p.records ?? Buffer.alloc(0), refused: refusal(p.records) }));
  const valid: ProduceInput[] = items.filter((i) => !i.refused);
  const appended = await produceRecords(ctx, valid, isAcks(request.acks) ? request.acks : -1); // a refused acks appends nothing
  let next = 0;
  const outcomes = items.map((i): ProduceOutcome => (i.refused ? { topic: i.topic, partition: i.partition, error: i.refused } : appended[next++]!));
  if (request.acks === 0) {
    // As Kafka: no response; a failure closes the connection, the only way such a producer learns of it.
    const closeReason = unacknowledgedFailure(outcomes);
    return closeReason ? { noResponse: true, closeReason } : { noResponse: true };
  }
  return body((w) =>
    encodeProduce(
      w,
      header.apiVersion,
      byTopic(outcomes, (o) => ({
        partition: o.partition,
        errorCode: kafkaErrorCode(o.error),
        baseOffset: o.result?.baseOffset ?? NONE,
        logAppendTimeMs: NONE,
        logStartOffset: o.result?.logStartOffset ?? NONE,
        errorMessage: o.error?.message ?? null,
      })),
    ),
  );
});

export const fetch = kafkaHandler(decodeFetch, async (ctx, request, header) => {
  // Fetch sessions (KIP-227) are declined: every answer carries session id 0, so a client never
  // holds one; an incremental fetch on a session it claims to have is told it is not found.
  if (request.sessionId !== 0) {
    return body((w) => encodeFetch(w, header.apiVersion, ERRORS.FETCH_SESSION_ID_NOT_FOUND.kafka, []));
  }
  // v13+ names topics by id: each is looked up once; an id no live topic has is answered
  // UNKNOWN_TOPIC_ID for each of its partitions, after the others.
  const unknown: FetchOutcome[] = [];
  const byId = header.apiVersion >= 13;
  const topics = !byId ? request.topics : request.topics.flatMap((t) => {
    const found = lookupTopicById(ctx, t.id!);
    if (!found.error) return [{ ...t, name: found.name }];
    for (const p of t.partitions) unknown.push({ topic: t.id!, partition: p.partition, error: found.error, highWatermark: -1n, logStartOffset: -1n });
    return [];
  });
  const inputs = flatten(topics, (topic, p) => ({ topic, partition: p.partition, offset: p.fetchOffset, maxBytes: p.partitionMaxBytes, leaderEpoch: p.currentLeaderEpoch }));
  // replica_id is not passed on: Sluice's brokers replicate through Sluice's protocol, and a Kafka
  // client that sends an id >= 0 (a home-grown one's zeroed field) must not be taken for a follower
  // (it would read past the high watermark, and move the ISR and high watermark for the follower it names).
  const fetched = await fetchRecords(ctx, inputs, { maxWaitMs: request.maxWaitMs, minBytes: request.minBytes, maxBytes: request.maxBytes, ...(request.rackId ? { clientRack: request.rackId } : {}) });
  const { waitedSeconds } = fetched;
  const outcomes = unknown.length === 0 ? fetched.outcomes : [...fetched.outcomes, ...unknown];
  // An unknown id's outcomes carry the id as their topic; a known topic's id comes from the registry.
  const withIds = <T extends { name: string }>(grouped: T[]): Array<T & { id?: string }> => (byId ? grouped.map((t) => ({ ...t, id: findTopic(ctx, t.name)?.id ?? t.name })) : grouped);
  // No transactions: the last stable offset is the high watermark (read_committed clients use it as the end).
  const encode = () =>
    body((w) =>
      encodeFetch(
        w,
        header.apiVersion,
        0,
        withIds(
          byTopic(outcomes, (o) => ({
            partition: o.partition,
            errorCode: kafkaErrorCode(o.error),
            highWatermark: o.highWatermark,
            lastStableOffset: o.highWatermark,
            logStartOffset: o.logStartOffset,
            records: o.slice ?? null,
            preferredReadReplica: o.preferredReadReplica ?? -1,
          })),
        ),
      ),
    );
  // Shared responses: the fetches one append wakes share the partition's slice, and a
  // one-partition body is a function of it alone: written once per slice (as Sluice's door does).
  const only = outcomes.length === 1 ? outcomes[0]! : undefined;
  if (!only?.slice || only.error) return { ...encode(), waitedSeconds };
  return { ...sharedFetchBody(only.slice, header.apiVersion, encode), waitedSeconds };
});

/** One-partition Fetch bodies by the slice they carry and the version they are in. */
const sharedFetchBody = bodiesBySlice<KafkaReply>();
