// CreateTopics, CreatePartitions and DeleteTopics: one result per topic, each with its own error.

import { SluiceError } from '../errors.js';
import type { TopicConfig } from '../log/topic-registry.js';
import {
  decodeCreatePartitionsRequest,
  decodeCreateTopicsRequest,
  decodeDeleteTopicsRequest,
  errorBody,
  type CreatePartitionsResponse,
  type CreateTopicsResponse,
  type TopicResult,
} from '../protocol/messages.js';
import { adminDenied } from './authorize.js';
import type { Handler, HandlerContext } from './context.js';

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
