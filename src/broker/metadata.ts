// The broker API for topic lookup: the topics a Metadata request asks about (by name or by id),
// each found, created (when the broker runs with auto-create, the request allows it and the
// principal may administer), or answered with its error. Both doors describe the result in their own layout.

import { SluiceError } from '../errors.js';
import type { Topic } from '../log/topic-registry.js';
import { adminDenied } from './authorize.js';
import type { BrokerSession } from './session.js';

/**
 * The leader epoch of every partition: one broker has led each partition since it was created,
 * and the storage core stamps this epoch into every batch it appends (LogConfig.leader_epoch).
 */
export const LEADER_EPOCH = 0;

export type TopicLookup = { name: string; topic: Topic; error?: undefined } | { name: string; topic?: undefined; error: SluiceError };

/** Every topic (`names` null), or the named ones in order, each with its topic or its error. */
export async function lookupTopics(s: BrokerSession, names: readonly string[] | null, allowAutoCreate: boolean): Promise<TopicLookup[]> {
  if (names === null) return s.topics.list().map((topic) => ({ name: topic.name, topic }));
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
export async function lookup(s: BrokerSession, name: string, allowAutoCreate: boolean): Promise<Topic> {
  const topic = s.topics.get(name);
  if (topic) return topic;
  if (!s.autoCreateTopics || !allowAutoCreate || adminDenied(s)) throw new SluiceError('UNKNOWN_TOPIC_OR_PARTITION', `topic ${name} does not exist`);
  try {
    return await s.topics.create(name, -1);
  } catch (err) {
    // Another request is creating it right now: retriable, like Kafka's LEADER_NOT_AVAILABLE.
    if (err instanceof SluiceError && err.code === 'TOPIC_ALREADY_EXISTS') {
      const created = s.topics.get(name);
      if (created) return created;
      throw new SluiceError('UNKNOWN_TOPIC_OR_PARTITION', `topic ${name} is being created; retry`);
    }
    throw err;
  }
}

/** The live topic with this id, or UNKNOWN_TOPIC_ID (ids of deleted topics name nothing). */
export function lookupTopicById(s: BrokerSession, id: string): TopicLookup & { id: string } {
  const topic = s.topics.byId(id);
  return topic ? { id, name: topic.name, topic } : { id, name: '', error: new SluiceError('UNKNOWN_TOPIC_ID', `no topic has id ${id}`) };
}
