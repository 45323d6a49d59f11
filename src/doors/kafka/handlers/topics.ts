// Kafka Metadata, ListOffsets, CreateTopics, DeleteTopics and DeleteRecords over the broker API:
// topics by name or by id, the log's offsets (exact records by time), topic administration.
// What a version cannot express is refused here, per topic or partition, never reinterpreted.

import { ERRORS, SluiceError } from '../../../errors.js';
import { listOffsets as listRecordOffsets } from '../../../broker/data.js';
import { clusterView, findTopic, isInternalTopic, lookupTopicById, lookupTopics } from '../../../broker/metadata.js';
import type { BrokerSession } from '../../../broker/session.js';
import { createTopics as createTopicsOf, deleteRecords as deleteRecordsOf, deleteTopics as deleteTopicsOf, type TopicToDelete } from '../../../broker/topics.js';
import { ZERO_UUID } from '../../../protocol/kafka-wire.js';
import { kafkaErrorCode } from '../apis.js';
import { CONFIG_SOURCE } from '../messages/configs.js';
import { decodeDeleteRecords, decodeListOffsets, encodeDeleteRecords, encodeListOffsets } from '../messages/offsets.js';
import {
  decodeCreateTopics,
  decodeDeleteTopics,
  decodeMetadata,
  encodeCreateTopics,
  encodeDeleteTopics,
  encodeMetadata,
  OPERATIONS_NOT_ASKED,
  type KafkaMetadataTopic,
} from '../messages/topics.js';
import { body, byTopic, flatten, kafkaHandler } from './handler.js';
import { clusterOperations, topicOperations } from './operations.js';

/** Kafka's "no time" and "no offset". */
const NONE = -1n;

export const metadata = kafkaHandler(decodeMetadata, async (ctx, request, header) => {
  const version = header.apiVersion;
  const describe = (name: string, errorCode: number) => describeTopic(ctx, name, errorCode, request.includeTopicAuthorizedOperations);
  let topics: KafkaMetadataTopic[];
  if (request.topics === null) {
    topics = (await lookupTopics(ctx, null, false)).map((t) => describe(t.name, 0));
  } else if (version < 12 && request.topics.some((t) => t.name === null || t.topicId !== ZERO_UUID)) {
    // As Kafka: topics are asked by id from v12 only; before, the whole request is invalid.
    topics = request.topics.map((t) => ({ ...describe(t.name ?? '', ERRORS.INVALID_REQUEST.kafka), topicId: ZERO_UUID }));
  } else {
    const names = request.topics.filter((t) => t.topicId === ZERO_UUID && t.name !== null).map((t) => t.name!);
    const byName = (await lookupTopics(ctx, names, request.allowAutoTopicCreation)).values();
    topics = request.topics.map((t) => {
      if (t.topicId !== ZERO_UUID) {
        const found = lookupTopicById(ctx, t.topicId);
        return found.error ? { ...describe('', kafkaErrorCode(found.error)), name: null, topicId: t.topicId } : describe(found.name, 0);
      }
      if (t.name === null) return { ...describe('', ERRORS.INVALID_REQUEST.kafka), name: null }; // neither a name nor an id
      const found = byName.next().value!;
      return describe(found.name, kafkaErrorCode(found.error));
    });
  }
  const clusterAuthorizedOperations = request.includeClusterAuthorizedOperations ? clusterOperations(ctx) : OPERATIONS_NOT_ASKED;
  const { clusterId, controllerId } = clusterView(ctx);
  return body((w) => encodeMetadata(w, version, { brokers: kafkaBrokers(ctx), clusterId, controllerId, topics, clusterAuthorizedOperations }));
});

/** The live brokers at their Kafka listeners (this broker at the port its Kafka clients use). */
export function kafkaBrokers(ctx: BrokerSession): Array<{ nodeId: number; host: string; port: number; rack: string | null }> {
  return clusterView(ctx).brokers.flatMap((b) => {
    if (b.nodeId === ctx.broker.nodeId) return [{ nodeId: b.nodeId, host: ctx.broker.host, port: ctx.broker.port, rack: b.rack }];
    return b.kafkaPort === null ? [] : [{ nodeId: b.nodeId, host: b.host, port: b.kafkaPort, rack: b.rack }];
  });
}

/** Each partition's leader (LEADER_NOT_AVAILABLE while it has none), leader epoch, replicas, in-sync and offline replicas. */
function describeTopic(ctx: BrokerSession, name: string, errorCode: number, withOperations: boolean): KafkaMetadataTopic {
  const topic = errorCode === 0 ? findTopic(ctx, name) : undefined;
  return {
    errorCode,
    name,
    topicId: topic?.id ?? ZERO_UUID,
    internal: topic?.internal ?? isInternalTopic(ctx, name),
    partitions: (topic?.partitions ?? []).map((p) => ({
      errorCode: p.leader < 0 ? ERRORS.LEADER_NOT_AVAILABLE.kafka : 0,
      partition: p.partition,
      leader: p.leader,
      leaderEpoch: p.leaderEpoch,
      replicas: [...p.replicas],
      isr: [...p.isr],
      offline: [...p.offline],
    })),
    authorizedOperations: withOperations && topic ? topicOperations(ctx, name) : OPERATIONS_NOT_ASKED,
  };
}

/** ListOffsets' special timestamps and the first version that may ask for each (Kafka's numbers). */
const SPEC_FROM_VERSION = new Map<bigint, number>([
  [-3n, 7], // MAX_TIMESTAMP
  [-4n, 8], // EARLIEST_LOCAL
]);

export const listOffsets = kafkaHandler(decodeListOffsets, async (ctx, request, header) => {
  // isolation_level READ_COMMITTED (1) reads up to the last stable offset; with no transactions
  // every record is committed once appended, so the last stable offset is the high watermark and
  // both levels get the same answer (as Fetch answers last_stable_offset = high watermark).
  const version = header.apiVersion;
  const items = flatten(request.topics, (topic, p) => {
    const from = SPEC_FROM_VERSION.get(p.timestamp);
    const refused = from !== undefined && version < from ? new SluiceError('UNSUPPORTED_VERSION', `timestamp ${p.timestamp} needs ListOffsets v${from}+, this is v${version}`) : undefined;
    return { topic, partition: p.partition, timestamp: p.timestamp, refused };
  });
  const answered = (await listRecordOffsets(ctx, items.filter((i) => !i.refused))).values();
  const outcomes = items.map((i) => (i.refused ? { topic: i.topic, partition: i.partition, error: i.refused } : answered.next().value!));
  return body((w) =>
    encodeListOffsets(
      w,
      version,
      byTopic(outcomes, (o) => {
        const found = !o.error && o.offset !== null && o.offset !== undefined;
        return {
          partition: o.partition,
          errorCode: kafkaErrorCode(o.error),
          timestamp: found ? (o.timestampMs ?? NONE) : NONE,
          offset: found ? o.offset! : NONE,
          leaderEpoch: found ? (o.leaderEpoch ?? 0) : -1,
        };
      }),
    ),
  );
});

export const createTopics = kafkaHandler(decodeCreateTopics, async (ctx, request, header) => {
  const topics = request.topics.map((t) => ({ name: t.name, partitions: t.partitions, config: t.configs, replicationFactor: t.replicationFactor, replicaAssignments: t.assignments.length }));
  const outcomes = await createTopicsOf(ctx, topics, request.validateOnly);
  return body((w) =>
    encodeCreateTopics(
      w,
      header.apiVersion,
      outcomes.map((o) => ({
        name: o.name,
        topicId: o.created?.id ?? ZERO_UUID,
        errorCode: kafkaErrorCode(o.error),
        message: o.error?.message ?? null,
        partitions: o.created?.partitions ?? -1,
        replicationFactor: o.created?.replicationFactor ?? -1,
        configs:
          o.created?.configs.map((c) => ({
            name: c.name,
            value: c.value,
            readOnly: false,
            configSource: c.source === 'topic' ? CONFIG_SOURCE.DYNAMIC_TOPIC_CONFIG : CONFIG_SOURCE.DEFAULT_CONFIG,
            isSensitive: false,
          })) ?? null,
      })),
    ),
  );
});

export const deleteTopics = kafkaHandler(decodeDeleteTopics, async (ctx, request, header) => {
  // v6 names each topic by name or by id, not both and not neither (as Kafka's controller checks).
  const invalid = (t: { name: string | null; topicId: string }) => (t.name === null) === (t.topicId === ZERO_UUID);
  const asked = request.topics.filter((t) => !invalid(t)).map((t): TopicToDelete => (t.topicId !== ZERO_UUID ? { id: t.topicId } : { name: t.name! }));
  const deleted = (await deleteTopicsOf(ctx, asked)).values();
  const results = request.topics.map((t) => {
    if (invalid(t)) return { name: t.name, topicId: t.topicId, errorCode: ERRORS.INVALID_REQUEST.kafka, message: 'name a topic by its name or by its id, not both and not neither' };
    const o = deleted.next().value!;
    return { name: o.name, topicId: o.id ?? ZERO_UUID, errorCode: kafkaErrorCode(o.error), message: o.error?.message ?? null };
  });
  return body((w) => encodeDeleteTopics(w, header.apiVersion, results));
});

export const deleteRecords = kafkaHandler(decodeDeleteRecords, async (ctx, request, header) => {
  const outcomes = await deleteRecordsOf(ctx, flatten(request.topics, (topic, p) => ({ topic, partition: p.partition, offset: p.offset })));
  return body((w) =>
    encodeDeleteRecords(
      w,
      header.apiVersion,
      byTopic(outcomes, (o) => ({ partition: o.partition, lowWatermark: o.lowWatermark ?? NONE, errorCode: kafkaErrorCode(o.error) })),
    ),
  );
});
