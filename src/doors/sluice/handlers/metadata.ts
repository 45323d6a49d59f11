// Metadata: the live brokers and, for the topics asked for (all when nil), their partitions: the
// leader, and in a cluster the leader epoch, replicas and in-sync replicas; with this broker's
// copy's offsets and size where it holds one. Unknown topics are created when the broker and the
// request both allow it.

import type { TopicPlacement } from '../../../log/placement.js';
import { SluiceError } from '../../../errors.js';
import { decodeMetadataRequest, errorBody, type MetadataResponse } from '../../../protocol/messages.js';
import { lookupTopics } from '../../../broker/metadata.js';
import type { BrokerSession } from '../../../broker/session.js';
import type { Handler } from './handler.js';

export const handleMetadata: Handler = async (ctx, { body }) => {
  const request = decodeMetadataRequest(body);
  const topics: MetadataResponse['topics'] = (await lookupTopics(ctx, request.topics, request.allowAutoCreate)).map((t) =>
    t.topic ? describe(t.topic, ctx) : { name: t.name, error: errorBody(t.error), partitions: [] },
  );
  const response: MetadataResponse = {
    clusterId: ctx.broker.clusterId,
    controllerId: ctx.placement.controllerId(),
    brokers: ctx.placement.brokers().map((b) => ({ nodeId: b.nodeId, host: b.host, port: b.port, ...(b.rack !== null ? { rack: b.rack } : {}) })),
    topics,
  };
  return { body: response };
};

function describe(topic: TopicPlacement, ctx: BrokerSession): MetadataResponse['topics'][number] {
  const local = ctx.topics.get(topic.name);
  const clustered = ctx.placement.admin !== undefined;
  return {
    name: topic.name,
    ...(topic.internal ? { internal: true } : {}),
    partitions: topic.partitions.map((placed) => {
      const p = local?.partitions[placed.partition];
      const stats = p && !p.closed ? p.log.stats() : undefined;
      return {
        partition: placed.partition,
        leader: placed.leader,
        ...(clustered ? { leaderEpoch: placed.leaderEpoch, replicas: [...placed.replicas], isr: [...placed.isr] } : {}),
        ...(placed.leader < 0 ? { error: errorBody(new SluiceError('LEADER_NOT_AVAILABLE')) } : {}),
        ...(p && !p.closed ? { highWatermark: p.highWatermark, logStartOffset: p.logStartOffset } : {}),
        ...(p && !p.closed && clustered ? { logEndOffset: p.logEndOffset } : {}),
        ...(stats ? { sizeBytes: stats.sizeBytes, segments: stats.segments } : {}),
      };
    }),
    config: ctx.topics.effectiveConfig(topic),
  };
}
