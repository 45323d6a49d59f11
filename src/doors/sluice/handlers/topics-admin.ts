// CreateTopics, CreatePartitions, DeleteTopics, DeleteRecords, DescribeConfigs and IncrementalAlterConfigs in
// Sluice's protocol: decode, the broker API's topic administration (../../../broker/topics.ts),
// encode one result per topic with its own error.

import { alterConfigs, createPartitions, createTopics, deleteRecords, deleteTopics, describeConfigs, type TopicConfig, type TopicOutcome } from '../../../broker/topics.js';
import {
  decodeCreatePartitionsRequest,
  decodeCreateTopicsRequest,
  decodeDeleteRecordsRequest,
  decodeDeleteTopicsRequest,
  decodeDescribeConfigsRequest,
  decodeIncrementalAlterConfigsRequest,
  errorBody,
  type CreatePartitionsResponse,
  type CreateTopicsResponse,
  type DeleteRecordsResponse,
  type DescribeConfigsResponse,
  type IncrementalAlterConfigsResponse,
  type TopicResult,
} from '../../../protocol/messages.js';
import type { Handler } from './handler.js';

const result = (o: TopicOutcome): TopicResult => (o.error ? { name: o.name, error: errorBody(o.error) } : { name: o.name });

export const handleCreateTopics: Handler = async (ctx, { body }) => {
  const request = decodeCreateTopicsRequest(body);
  const outcomes = await createTopics(ctx, request.topics.map((t) => ({ name: t.name, partitions: t.partitions, replicationFactor: t.replicationFactor, config: t.config as TopicConfig })), request.validateOnly);
  return { body: { topics: outcomes.map(result) } satisfies CreateTopicsResponse };
};

export const handleCreatePartitions: Handler = async (ctx, { body }) => {
  const request = decodeCreatePartitionsRequest(body);
  const outcomes = await createPartitions(ctx, request.topics, request.validateOnly);
  return { body: { topics: outcomes.map(result) } satisfies CreatePartitionsResponse };
};

export const handleDeleteTopics: Handler = async (ctx, { body }) => {
  const request = decodeDeleteTopicsRequest(body);
  const outcomes = await deleteTopics(ctx, request.topics.map((name) => ({ name })));
  // Asked by name, every outcome has its name.
  return { body: { topics: outcomes.map((o, i) => result({ ...o, name: o.name ?? request.topics[i]! })) } satisfies CreateTopicsResponse };
};

export const handleDeleteRecords: Handler = async (ctx, { body }) => {
  const request = decodeDeleteRecordsRequest(body);
  const partitions: DeleteRecordsResponse['partitions'] = (await deleteRecords(ctx, request.partitions)).map((o) =>
    o.error ? { topic: o.topic, partition: o.partition, error: errorBody(o.error) } : { topic: o.topic, partition: o.partition, lowWatermark: o.lowWatermark! },
  );
  return { body: { partitions } satisfies DeleteRecordsResponse };
};

export const handleDescribeConfigs: Handler = (ctx, { body }) => {
  const request = decodeDescribeConfigsRequest(body);
  const topics: DescribeConfigsResponse['topics'] = request.topics.map((name) => {
    const { error, configs } = describeConfigs(ctx, name);
    return error ? { name, error: errorBody(error), configs } : { name, configs };
  });
  return { body: { topics } satisfies DescribeConfigsResponse };
};

export const handleIncrementalAlterConfigs: Handler = async (ctx, { body }) => {
  const request = decodeIncrementalAlterConfigsRequest(body);
  const topics: TopicResult[] = [];
  for (const t of request.topics) topics.push(result(await alterConfigs(ctx, t.name, t.changes, 'incremental', request.validateOnly)));
  return { body: { topics } satisfies IncrementalAlterConfigsResponse };
};
