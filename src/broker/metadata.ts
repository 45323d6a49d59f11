// The broker API for topic lookup: the topics a Metadata request asks about (by name or by id),
// each found, created (when the broker runs with auto-create, the request allows it and the
// principal may administer), or answered with its error. Where partitions live comes from the
// session's placement (placement.ts: the registry alone, the cluster store's view in a cluster).
// Both doors describe the result in their own layout.

import { SluiceError } from '../errors.js';
import { adminDenied } from './authorize.js';
import type { TopicPlacement } from '../log/placement.js';
import type { BrokerSession } from './session.js';

export type TopicLookup = { name: string; topic: TopicPlacement; error?: undefined } | { name: string; topic?: undefined; error: SluiceError };

/** Every topic (`names` null), or the named ones in order, each with its placement or its error. */
export async function lookupTopics(s: BrokerSession, names: readonly string[] | null, allowAutoCreate: boolean): Promise<TopicLookup[]> {
  if (names === null) return s.placement.topics().map((topic) => ({ name: topic.name, topic }));
  const found: TopicLookup[] = [];
  for (const name of names) {
    try {
      found.push({ name, topic: await lookup(s, name, allowAutoCreate) });
    } catch (err) {
      if (!(err instanceof SluiceError)) throw err;
      found.push({ name, error: err });
    }
  }
  return found;
}

/** The topic, created first when the broker and the request allow it (as Kafka auto-creates on Metadata). */
export async function lookup(s: BrokerSession, name: string, allowAutoCreate: boolean): Promise<TopicPlacement> {
  const topic = s.placement.topic(name);
  if (topic) return topic;
  // An internal topic is the broker's to create (a cluster makes __consumer_offsets at the first FindCoordinator).
  if (!s.autoCreateTopics || !allowAutoCreate || adminDenied(s) || s.topics.isInternal(name)) throw new SluiceError('UNKNOWN_TOPIC_OR_PARTITION', `topic ${name} does not exist`);
  try {
    if (s.placement.admin) return await s.placement.admin.createTopic(name, -1, -1, {}, false);
    await s.topics.create(name, -1);
  } catch (err) {
    // Another request is creating it right now: retriable, like Kafka's LEADER_NOT_AVAILABLE.
    if (!(err instanceof SluiceError && err.code === 'TOPIC_ALREADY_EXISTS')) throw err;
  }
  const created = s.placement.topic(name);
  if (created) return created;
  throw new SluiceError('UNKNOWN_TOPIC_OR_PARTITION', `topic ${name} is being created; retry`);
}

/** The live topic with this id, or UNKNOWN_TOPIC_ID (ids of deleted topics name nothing). */
export function lookupTopicById(s: BrokerSession, id: string): TopicLookup & { id: string } {
  const topic = s.placement.topicById(id);
  return topic ? { id, name: topic.name, topic } : { id, name: '', error: new SluiceError('UNKNOWN_TOPIC_ID', `no topic has id ${id}`) };
}
