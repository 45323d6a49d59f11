// The broker API for topic administration: create, delete, add partitions, describe and alter
// configs. One result per topic, each with its own error (a SluiceError the door encodes); the
// admin permission and the registry's rules apply once here for every door.

import { SluiceError } from '../errors.js';
import { applyConfigChanges, describeTopicConfig, topicConfigFrom, type ConfigChange, type DescribedConfig } from '../log/topic-configs.js';
import type { TopicConfig } from '../log/topic-registry.js';
import { adminDenied, readDenied } from './authorize.js';
import type { BrokerSession } from './session.js';

/** One topic's outcome: no error is success. */
export interface TopicOutcome {
  name: string;
  error?: SluiceError;
}

export interface TopicToCreate {
  name: string;
  /** -1: the broker's default. */
  partitions: number;
  /** Settings as TopicConfig, or as Kafka-named entries (`retention.ms`: "1000"). */
  config: TopicConfig | readonly ConfigChange[];
  /** -1 or 1: one broker keeps one replica. */
  replicationFactor?: number;
  /** Manual placements asked for: a single broker has none to offer. */
  replicaAssignments?: number;
}

/** Creates topics in order; `validateOnly` checks each as a create would and creates nothing. */
export async function createTopics(s: BrokerSession, topics: readonly TopicToCreate[], validateOnly: boolean): Promise<TopicOutcome[]> {
  const outcomes: TopicOutcome[] = [];
  for (const t of topics) {
    outcomes.push(
      await perTopic(s, t.name, async () => {
        if (t.replicationFactor !== undefined && t.replicationFactor !== -1 && t.replicationFactor !== 1) {
          throw new SluiceError('INVALID_REQUEST', `replication factor ${t.replicationFactor}: this broker keeps one replica`);
        }
        if (t.replicaAssignments) throw new SluiceError('INVALID_REQUEST', 'manual replica assignments are not supported by a single broker');
        const config = Array.isArray(t.config) ? topicConfigFrom(t.config as readonly ConfigChange[]) : (t.config as TopicConfig);
        if (validateOnly) s.topics.validateCreate(t.name, t.partitions, config);
        else await s.topics.create(t.name, t.partitions, config);
      }),
    );
  }
  return outcomes;
}

export async function deleteTopics(s: BrokerSession, names: readonly string[]): Promise<TopicOutcome[]> {
  const outcomes: TopicOutcome[] = [];
  for (const name of names) outcomes.push(await perTopic(s, name, () => s.topics.delete(name)));
  return outcomes;
}

/** Grows each topic to `count` partitions (never fewer). */
export async function createPartitions(s: BrokerSession, topics: ReadonlyArray<{ name: string; count: number }>, validateOnly: boolean): Promise<TopicOutcome[]> {
  const outcomes: TopicOutcome[] = [];
  for (const t of topics) outcomes.push(await perTopic(s, t.name, () => s.topics.addPartitions(t.name, t.count, validateOnly)));
  return outcomes;
}

/** A topic's settings by Kafka name, for a principal that may read it. */
export function describeConfigs(s: BrokerSession, name: string): { error?: SluiceError; configs: DescribedConfig[] } {
  const refused = readDenied(s, name);
  if (refused) return { error: refused, configs: [] };
  const topic = s.topics.get(name);
  if (!topic) return { error: new SluiceError('UNKNOWN_TOPIC_OR_PARTITION', `topic ${name} does not exist`), configs: [] };
  return { configs: describeTopicConfig(topic.config, s.topics.effectiveConfig(topic)) };
}

/**
 * Changes one topic's settings (an admin act): `incremental` applies `changes` to what the topic
 * has (a null value deletes), `replace` makes them the topic's whole config (Kafka's AlterConfigs:
 * settings left out return to the defaults).
 */
export function alterConfigs(s: BrokerSession, name: string, changes: readonly ConfigChange[], mode: 'incremental' | 'replace', validateOnly: boolean): Promise<TopicOutcome> {
  return perTopic(s, name, async () => {
    const topic = s.topics.get(name);
    if (!topic) throw new SluiceError('UNKNOWN_TOPIC_OR_PARTITION', `topic ${name} does not exist`);
    const config = mode === 'incremental' ? applyConfigChanges(topic.config, changes) : topicConfigFrom(changes);
    await s.topics.alterConfig(name, config, validateOnly);
  });
}

/** One topic's admin action with the permission checked, as an outcome with its own error. */
async function perTopic(s: BrokerSession, name: string, action: () => Promise<void> | void): Promise<TopicOutcome> {
  try {
    const refused = adminDenied(s);
    if (refused) throw refused;
    await action();
    return { name };
  } catch (err) {
    if (!(err instanceof SluiceError)) throw err;
    return { name, error: err };
  }
}
