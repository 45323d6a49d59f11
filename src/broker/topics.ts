// The broker API for topic administration: create, delete, add partitions, delete records,
// describe and alter configs. One result per topic, each with its own error (a SluiceError the door encodes); the
// admin permission and the registry's rules apply once here for every door.

import { SluiceError } from '../errors.js';
import { applyConfigChanges, describeTopicConfig, topicConfigFrom, type ConfigChange, type DescribedConfig } from '../log/topic-configs.js';
import type { DeleteRecordsInput, DeleteRecordsOutcome } from '../log/log-service.js';
import type { TopicConfig } from '../log/topic-registry.js';

export type { TopicConfig };
import { adminDenied, readDenied } from './authorize.js';
import type { BrokerSession } from './session.js';

/** One topic's outcome: no error is success. */
export interface TopicOutcome {
  name: string;
  error?: SluiceError;
}

/** What a create made (or, validated only, would make). */
export interface CreatedTopic {
  /** Null when only validated: ids are made with the topic. */
  id: string | null;
  partitions: number;
  /** Replicas of each partition (1 for a single broker). */
  replicationFactor: number;
  configs: DescribedConfig[];
}

export interface CreateTopicOutcome extends TopicOutcome {
  created?: CreatedTopic;
}

export interface TopicToCreate {
  name: string;
  /** -1: the broker's default. */
  partitions: number;
  /** Settings as TopicConfig, or as Kafka-named entries (`retention.ms`: "1000"). */
  config: TopicConfig | readonly ConfigChange[];
  /** -1: the default; a single broker keeps one replica, a cluster up to one per live broker. */
  replicationFactor?: number;
  /** Manual placements asked for: a single broker has none to offer. */
  replicaAssignments?: number;
}

/**
 * Creates topics in order, each answering what it made (its id, partitions and settings);
 * `validateOnly` checks each as a create would, creates nothing and answers what it would make.
 */
export async function createTopics(s: BrokerSession, topics: readonly TopicToCreate[], validateOnly: boolean): Promise<CreateTopicOutcome[]> {
  const outcomes: CreateTopicOutcome[] = [];
  for (const t of topics) {
    let created: CreatedTopic | undefined;
    const outcome = await perTopic(s, t.name, async () => {
      const { config: given, minInsyncReplicas } = splitMinInsync(t.config);
      const config = Array.isArray(given) ? topicConfigFrom(given as readonly ConfigChange[]) : (given as TopicConfig);
      const configs = describeTopicConfig(config, s.topics.effectiveConfig({ config }));
      if (t.replicaAssignments) throw MANUAL_ASSIGNMENTS();
      const admin = s.placement.admin;
      if (admin) {
        // The cluster creates its internal topics itself, with their own settings (a single broker's registry has them already).
        if (s.topics.isInternal(t.name)) throw new SluiceError('INVALID_TOPIC_EXCEPTION', `${t.name} is internal to the broker: the cluster creates it`);
        const placed = await admin.createTopic(t.name, t.partitions, t.replicationFactor ?? -1, { ...config, ...(minInsyncReplicas !== undefined ? { minInsyncReplicas } : {}) }, validateOnly);
        created = { id: validateOnly ? null : placed.id, partitions: placed.partitions.length, replicationFactor: placed.partitions[0]?.replicas.length ?? 0, configs };
        return;
      }
      if (t.replicationFactor !== undefined && t.replicationFactor !== -1 && t.replicationFactor !== 1) {
        throw new SluiceError('INVALID_REPLICATION_FACTOR', `replication factor ${t.replicationFactor}: a single broker keeps one replica (start a cluster with --etcd-endpoints for more)`);
      }
      if (validateOnly) {
        created = { id: null, partitions: s.topics.validateCreate(t.name, t.partitions, config), replicationFactor: 1, configs };
      } else {
        const topic = await s.topics.create(t.name, t.partitions, config);
        created = { id: topic.id, partitions: topic.partitions.length, replicationFactor: 1, configs };
      }
    });
    outcomes.push(created && !outcome.error ? { ...outcome, created } : outcome);
  }
  return outcomes;
}

/** A topic to delete: by name, or by id (Kafka's DeleteTopics v6). */
export type TopicToDelete = { name: string; id?: undefined } | { id: string; name?: undefined };

/** One deletion's outcome: the topic's name and id when it was found (an unknown id has no name). */
export interface DeleteTopicOutcome {
  name: string | null;
  id: string | null;
  error?: SluiceError;
}

export async function deleteTopics(s: BrokerSession, topics: readonly TopicToDelete[]): Promise<DeleteTopicOutcome[]> {
  const outcomes: DeleteTopicOutcome[] = [];
  for (const t of topics) {
    const topic = t.id !== undefined ? s.placement.topicById(t.id) : s.placement.topic(t.name);
    if (t.id !== undefined && !topic) {
      outcomes.push({ name: null, id: t.id, error: new SluiceError('UNKNOWN_TOPIC_ID', `no topic has id ${t.id}`) });
      continue;
    }
    const name = topic?.name ?? t.name!;
    const outcome = await perTopic(s, name, () => {
      if (s.topics.isInternal(name)) throw new SluiceError('INVALID_TOPIC_EXCEPTION', `${name} is internal to the broker and cannot be deleted`);
      return s.placement.admin ? s.placement.admin.deleteTopic(name) : s.topics.delete(name);
    });
    outcomes.push({ name, id: topic?.id ?? null, ...(outcome.error ? { error: outcome.error } : {}) });
  }
  return outcomes;
}

/** Where replicas go is the broker's choice (the controller's in a cluster): a request that names them is refused, topic by topic. */
const MANUAL_ASSIGNMENTS = () => new SluiceError('INVALID_REQUEST', 'manual replica assignments are not supported: the controller places replicas');

/** Grows each topic to `count` partitions (never fewer). */
export async function createPartitions(s: BrokerSession, topics: ReadonlyArray<{ name: string; count: number; manualAssignments?: boolean }>, validateOnly: boolean): Promise<TopicOutcome[]> {
  const outcomes: TopicOutcome[] = [];
  for (const t of topics) {
    outcomes.push(
      await perTopic(s, t.name, () => {
        if (t.manualAssignments) throw MANUAL_ASSIGNMENTS();
        if (!s.placement.admin) return s.topics.addPartitions(t.name, t.count, validateOnly);
        // More offsets partitions would move groups to other partitions than those holding their commits.
        if (s.topics.isInternal(t.name)) throw new SluiceError('INVALID_TOPIC_EXCEPTION', `${t.name} is internal to the broker`);
        return s.placement.admin.addPartitions(t.name, t.count, validateOnly);
      }),
    );
  }
  return outcomes;
}

/**
 * Moves partitions' log starts forward (Kafka's DeleteRecords): an admin act, since what is
 * deleted is gone for every reader; each partition answers its new low watermark or its error.
 */
export async function deleteRecords(s: BrokerSession, inputs: readonly DeleteRecordsInput[]): Promise<DeleteRecordsOutcome[]> {
  const refused = adminDenied(s);
  if (refused) return inputs.map((i) => ({ topic: i.topic, partition: i.partition, error: refused }));
  return s.log.deleteRecords(inputs);
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
    if (s.placement.admin) {
      if (s.topics.isInternal(name)) throw new SluiceError('INVALID_TOPIC_EXCEPTION', `${name} is internal to the broker: its settings are the broker's`);
      await s.placement.admin.alterConfig(name, config, validateOnly);
    }
    else await s.topics.alterConfig(name, config, validateOnly);
  });
}

/** min.insync.replicas is the cluster's (a topic record field), not a log setting: taken out of either form of config. */
function splitMinInsync(config: TopicConfig | readonly ConfigChange[]): { config: TopicConfig | readonly ConfigChange[]; minInsyncReplicas?: number } {
  let value: unknown;
  let rest: TopicConfig | readonly ConfigChange[];
  if (Array.isArray(config)) {
    const changes = config as readonly ConfigChange[];
    value = changes.find((c) => c.name === 'min.insync.replicas')?.value ?? undefined;
    rest = changes.filter((c) => c.name !== 'min.insync.replicas');
  } else {
    const { minInsyncReplicas, ...others } = config as TopicConfig & { minInsyncReplicas?: unknown };
    value = minInsyncReplicas;
    rest = others;
  }
  if (value === undefined || value === null) return { config: rest };
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new SluiceError('INVALID_CONFIG', `min.insync.replicas must be a positive integer, got ${JSON.stringify(value)}`);
  return { config: rest, minInsyncReplicas: n };
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
