// CreateTopics, CreatePartitions, DeleteTopics, DescribeConfigs and IncrementalAlterConfigs: one
// result per topic, each with its own error. The per-topic steps (perTopic, describeConfigs,
// alterConfigs) serve the Kafka door too.

import { denied } from '../../../auth/access.js';
import { SluiceError } from '../../../errors.js';
import { applyConfigChanges, describeTopicConfig, topicConfigFrom, type ConfigChange, type DescribedConfig } from '../../../log/topic-configs.js';
import type { TopicConfig } from '../../../log/topic-registry.js';
import {
  decodeCreatePartitionsRequest,
  decodeCreateTopicsRequest,
  decodeDeleteTopicsRequest,
  decodeDescribeConfigsRequest,
  decodeIncrementalAlterConfigsRequest,
  errorBody,
  type CreatePartitionsResponse,
  type CreateTopicsResponse,
  type DescribeConfigsResponse,
  type IncrementalAlterConfigsResponse,
  type TopicResult,
} from '../../../protocol/messages.js';
import { adminDenied } from '../../../broker/authorize.js';
import type { Handler, HandlerContext } from '../../../broker/session.js';

export const handleCreateTopics: Handler = async (ctx, { body }) => {
  const request = decodeCreateTopicsRequest(body);
  const topics: TopicResult[] = [];
  for (const t of request.topics) {
    topics.push(
      await perTopic(ctx, t.name, async () => {
        const config = t.config as TopicConfig;
        if (request.validateOnly) ctx.topics.validateCreate(t.name, t.partitions, config);
        else await ctx.topics.create(t.name, t.partitions, config);
      }),
    );
  }
  const response: CreateTopicsResponse = { topics };
  return { body: response };
};

export const handleCreatePartitions: Handler = async (ctx, { body }) => {
  const request = decodeCreatePartitionsRequest(body);
  const topics: TopicResult[] = [];
  for (const t of request.topics) topics.push(await perTopic(ctx, t.name, () => ctx.topics.addPartitions(t.name, t.count, request.validateOnly)));
  return { body: { topics } satisfies CreatePartitionsResponse };
};

export const handleDeleteTopics: Handler = async (ctx, { body }) => {
  const request = decodeDeleteTopicsRequest(body);
  const topics: TopicResult[] = [];
  for (const name of request.topics) topics.push(await perTopic(ctx, name, () => ctx.topics.delete(name)));
  return { body: { topics } satisfies CreateTopicsResponse };
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
  for (const t of request.topics) topics.push(await alterConfigs(ctx, t.name, t.changes, 'incremental', request.validateOnly));
  return { body: { topics } satisfies IncrementalAlterConfigsResponse };
};

/** A topic's settings by Kafka name, for a principal that may read it. */
export function describeConfigs(ctx: HandlerContext, name: string): { error?: SluiceError; configs: DescribedConfig[] } {
  const refused = denied(ctx.session.principal!, 'read', name);
  if (refused) return { error: refused, configs: [] };
  const topic = ctx.topics.get(name);
  if (!topic) return { error: new SluiceError('UNKNOWN_TOPIC_OR_PARTITION', `topic ${name} does not exist`), configs: [] };
  return { configs: describeTopicConfig(topic.config, ctx.topics.effectiveConfig(topic)) };
}

/**
 * Changes one topic's settings (an admin act): `incremental` applies `changes` to what the topic
 * has (a null value deletes), `replace` makes them the topic's whole config (Kafka's AlterConfigs:
 * settings left out return to the defaults).
 */
export function alterConfigs(ctx: HandlerContext, name: string, changes: readonly ConfigChange[], mode: 'incremental' | 'replace', validateOnly: boolean): Promise<TopicResult> {
  return perTopic(ctx, name, async () => {
    const topic = ctx.topics.get(name);
    if (!topic) throw new SluiceError('UNKNOWN_TOPIC_OR_PARTITION', `topic ${name} does not exist`);
    const config = mode === 'incremental' ? applyConfigChanges(topic.config, changes) : topicConfigFrom(changes);
    await ctx.topics.alterConfig(name, config, validateOnly);
  });
}

/** One topic's create or delete, with the admin permission checked, as a result with its own error. */
export async function perTopic(ctx: HandlerContext, name: string, action: () => Promise<void>): Promise<TopicResult> {
  try {
    const refused = adminDenied(ctx);
    if (refused) throw refused;
    await action();
    return { name };
  } catch (err) {
    if (!(err instanceof SluiceError)) throw err;
    return { name, error: errorBody(err) };
  }
}
