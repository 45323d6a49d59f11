// Metadata: the broker's address and, for the topics asked for (all when nil), their partitions
// with high watermarks. Unknown topics are created when the broker and the request both allow it.

import { SluiceError } from '../../../errors.js';
import type { Topic } from '../../../log/topic-registry.js';
import { decodeMetadataRequest, errorBody, type MetadataResponse } from '../../../protocol/messages.js';
import { adminDenied } from '../../../broker/authorize.js';
import type { Handler, HandlerContext } from '../../../broker/session.js';

export const handleMetadata: Handler = async (ctx, { body }) => {
  const request = decodeMetadataRequest(body);
  const topics: MetadataResponse['topics'] = [];
  if (request.topics === null) {
    for (const t of ctx.topics.list()) topics.push(describe(t, ctx));
  } else {
    for (const name of request.topics) {
      try {
        topics.push(describe(await lookup(ctx, name, request.allowAutoCreate), ctx));
      } catch (err) {
        if (!(err instanceof SluiceError)) throw err;
        topics.push({ name, error: errorBody(err), partitions: [] });
      }
    }
  }
  const response: MetadataResponse = {
    clusterId: ctx.broker.clusterId,
    controllerId: ctx.broker.nodeId,
    brokers: [{ nodeId: ctx.broker.nodeId, host: ctx.broker.host, port: ctx.broker.port }],
    topics,
  };
  return { body: response };
};

/** The topic, created first when the broker and the request allow it (as Kafka auto-creates on Metadata). */
export async function lookup(ctx: HandlerContext, name: string, allowAutoCreate: boolean): Promise<Topic> {
  const topic = ctx.topics.get(name);
  if (topic) return topic;
  if (!ctx.autoCreateTopics || !allowAutoCreate || adminDenied(ctx)) throw new SluiceError('UNKNOWN_TOPIC_OR_PARTITION', `topic ${name} does not exist`);
  try {
    return await ctx.topics.create(name, -1);
  } catch (err) {
    // Another request is creating it right now: retriable, like Kafka's LEADER_NOT_AVAILABLE.
    if (err instanceof SluiceError && err.code === 'TOPIC_ALREADY_EXISTS') {
      const created = ctx.topics.get(name);
      if (created) return created;
      throw new SluiceError('UNKNOWN_TOPIC_OR_PARTITION', `topic ${name} is being created; retry`);
    }
    throw err;
  }
}

function describe(topic: Topic, ctx: HandlerContext): MetadataResponse['topics'][number] {
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
