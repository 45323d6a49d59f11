// Metadata: the live brokers and, for the topics asked for (all when nil), their partitions: the
// leader, and in a cluster the leader epoch, replicas and in-sync replicas; with this broker's
// copy's offsets and size where it holds one and the principal may read the topic. Unknown topics
// are created when the broker and the request both allow it.

import { SluiceError } from '../../../errors.js';
import { decodeMetadataRequest, errorBody, type MetadataResponse } from '../../../protocol/messages.js';
import { clusterView, describeTopic, lookupTopics, type TopicDescription } from '../../../broker/metadata.js';
import type { Handler } from './handler.js';

export const handleMetadata: Handler = async (ctx, { body }) => {
  const request = decodeMetadataRequest(body);
  const cluster = clusterView(ctx);
  const topics: MetadataResponse['topics'] = (await lookupTopics(ctx, request.topics, request.allowAutoCreate)).map((t) =>
    t.topic ? encodeTopic(describeTopic(ctx, t.topic), cluster.clustered) : { name: t.name, error: errorBody(t.error), partitions: [] },
  );
  const response: MetadataResponse = {
    clusterId: cluster.clusterId,
    controllerId: cluster.controllerId,
    brokers: cluster.brokers.map((b) => ({ nodeId: b.nodeId, host: b.host, port: b.port, ...(b.rack !== null ? { rack: b.rack } : {}) })),
    topics,
  };
  return { body: response };
};

function encodeTopic(topic: TopicDescription, clustered: boolean): MetadataResponse['topics'][number] {
  return {
    name: topic.name,
    ...(topic.internal ? { internal: true } : {}),
    partitions: topic.partitions.map((p) => ({
      partition: p.partition,
      leader: p.leader,
      ...(clustered ? { leaderEpoch: p.leaderEpoch, replicas: [...p.replicas], isr: [...p.isr] } : {}),
      ...(p.leader < 0 ? { error: errorBody(new SluiceError('LEADER_NOT_AVAILABLE')) } : {}),
      ...(p.local ? { highWatermark: p.local.highWatermark, logStartOffset: p.local.logStartOffset } : {}),
      ...(p.local && clustered ? { logEndOffset: p.local.logEndOffset } : {}),
      ...(p.local ? { sizeBytes: p.local.sizeBytes, segments: p.local.segments } : {}),
    })),
    config: topic.config,
  };
}
