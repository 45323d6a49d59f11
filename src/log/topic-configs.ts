// Topic settings by their Kafka names (`retention.ms`, ...): the one table both doors, the Admin
// client and the CLI use to read, describe and change a topic's config. Values travel as strings,
// as in Kafka's DescribeConfigs and AlterConfigs; this module parses them into TopicConfig and
// refuses what the broker does not keep. No I/O.

import { SluiceError } from '../errors.js';
import type { TopicConfig } from './topic-registry.js';

type Key = keyof TopicConfig;

/** Kafka topic config name → TopicConfig key. Every entry can change on a live topic. */
export const TOPIC_CONFIG_NAMES: Readonly<Record<string, Key>> = {
  'cleanup.policy': 'cleanupPolicy',
  'max.message.bytes': 'maxBatchBytes',
  'retention.bytes': 'retentionBytes',
  'retention.ms': 'retentionMs',
  'segment.bytes': 'segmentBytes',
  'segment.ms': 'segmentMs',
};

/** Where a described value comes from: the topic's own setting or the broker's default. */
export type ConfigSource = 'topic' | 'default';

export interface DescribedConfig {
  name: string;
  value: string;
  source: ConfigSource;
}

/** One change of an incremental alter: `value` null returns the setting to the broker's default. */
export interface ConfigChange {
  name: string;
  value: string | null;
}

function keyOf(name: string): Key {
  const key = TOPIC_CONFIG_NAMES[name];
  if (!key) throw new SluiceError('INVALID_CONFIG', `topic config ${name} is not supported (supported: ${Object.keys(TOPIC_CONFIG_NAMES).join(', ')})`);
  return key;
}

function parseValue(name: string, key: Key, value: string): TopicConfig[Key] {
  if (key === 'cleanupPolicy') {
    if (value !== 'delete') throw new SluiceError('INVALID_CONFIG', `${name}=${value} is not supported (only "delete": compaction is not)`);
    return value;
  }
  // Kafka's configs are longs written in decimal; anything else (1e3, 0x10, 12abc) is refused.
  if (!/^-?\d+$/.test(value.trim())) throw new SluiceError('INVALID_CONFIG', `${name}=${JSON.stringify(value)} is not an integer`);
  const n = Number(value);
  if (!Number.isSafeInteger(n)) throw new SluiceError('INVALID_CONFIG', `${name}=${value} is out of range`);
  return n;
}

/** A config from `name=value` pairs (CreateTopics' configs); a null value keeps the default. */
export function topicConfigFrom(entries: ReadonlyArray<{ name: string; value: string | null }>): TopicConfig {
  return applyConfigChanges({}, entries);
}

/**
 * `current` with `changes` applied in order (IncrementalAlterConfigs' SET and DELETE): a value
 * sets the setting, null removes the topic's own setting so the default applies.
 */
export function applyConfigChanges(current: TopicConfig, changes: readonly ConfigChange[]): TopicConfig {
  const next: Record<string, unknown> = { ...current };
  for (const { name, value } of changes) {
    const key = keyOf(name);
    if (value === null) delete next[key];
    else next[key] = parseValue(name, key, value);
  }
  return next as TopicConfig;
}

/** Every setting by its Kafka name, with the value the topic runs with and where it comes from. */
export function describeTopicConfig(own: TopicConfig, effective: Required<TopicConfig>): DescribedConfig[] {
  return Object.entries(TOPIC_CONFIG_NAMES).map(([name, key]) => ({ name, value: String(effective[key]), source: own[key] === undefined ? 'default' : 'topic' }));
}
