// Metadata: the broker's address and, for the topics asked for (all when nil), their partitions
// with high watermarks. Unknown topics are created when the broker and the request both allow it.

import type { Topic } from '../../../log/topic-registry.js';
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
    controllerId: ctx.broker.nodeId,
    brokers: [{ nodeId: ctx.broker.nodeId, host: ctx.broker.host, port: ctx.broker.port }],
    topics,
  };
  return { body: response };
};

function describe(topic: Topic, ctx: BrokerSession): MetadataResponse['topics'][number] {
  return {
    name: topic.name,
    ...(ctx.topics.isInternal(topic.name) ? { internal: true } : {}),
    partitions: topic.partitions.map((p) => {
      const stats = p.closed ? undefined : p.log.stats();
      return { partition: p.index, leader: 0, highWatermark: p.highWatermark, logStartOffset: p.logStartOffset, ...(stats ? { sizeBytes: stats.sizeBytes, segments: stats.segments } : {}) };
    }),
    config: ctx.topics.effectiveConfig(topic),
  };
}
