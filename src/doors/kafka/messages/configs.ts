// Kafka's topic administration beyond create and delete: CreatePartitions v0-3 (v2+ flexible),
// DescribeConfigs v0-4 (v4 flexible), AlterConfigs v0-1 and IncrementalAlterConfigs v0-1 (v1
// flexible), request decoders and response encoders as in Kafka's message definitions. No I/O.

import { KafkaReader, KafkaWriter, VersionedReader, VersionedWriter } from '../../../protocol/kafka-wire.js';

/** Kafka's ConfigResource types: the only ones a broker is asked about here. */
export const RESOURCE_TYPE = { TOPIC: 2, BROKER: 4 } as const;

/** Kafka's ConfigSource: where a described value comes from. */
export const CONFIG_SOURCE = { DYNAMIC_TOPIC_CONFIG: 1, DEFAULT_CONFIG: 5 } as const;

/** IncrementalAlterConfigs' operations. */
export const CONFIG_OPERATION = { SET: 0, DELETE: 1, APPEND: 2, SUBTRACT: 3 } as const;

// ---- CreatePartitions (37) v0-3 (v1 only changes how quota throttling is reported; v2+ flexible; v3 as v2)

export interface KafkaCreatePartitionsRequest {
  topics: Array<{ name: string; count: number; assignments: number[][] | null }>;
  timeoutMs: number;
  validateOnly: boolean;
}

export function decodeCreatePartitions(r: KafkaReader, version: number): KafkaCreatePartitionsRequest {
  const v = new VersionedReader(r, version >= 2);
  const assignment = () => {
    const brokers = v.array(() => r.int32('broker id'), 'broker_ids', 4);
    v.tags();
    return brokers;
  };
  const topic = () => {
    const out = { name: v.string('topic name'), count: r.int32('count'), assignments: v.nullableArray(assignment, 'assignments', 1) };
    v.tags();
    return out;
  };
  const request: KafkaCreatePartitionsRequest = { topics: v.array(topic, 'topics', 6), timeoutMs: r.int32('timeout_ms'), validateOnly: r.boolean('validate_only') };
  v.end('CreatePartitions');
  return request;
}

export function encodeCreatePartitions(w: KafkaWriter, version: number, results: ReadonlyArray<{ name: string; errorCode: number; message: string | null }>): void {
  const v = new VersionedWriter(w, version >= 2);
  w.int32(0);
  v.array(results, (t) => {
    v.string(t.name);
    w.int16(t.errorCode);
    v.string(t.message).tags();
  }).tags();
}

// ---- DescribeConfigs (32) v0-4 (v3 include_documentation and config types; v4 flexible)

export interface KafkaDescribeConfigsRequest {
  resources: Array<{ type: number; name: string; keys: string[] | null }>;
  includeSynonyms: boolean;
  /** v3+: asked for each setting's documentation (none is kept here: answered null). */
  includeDocumentation: boolean;
}

export function decodeDescribeConfigs(r: KafkaReader, version: number): KafkaDescribeConfigsRequest {
  const v = new VersionedReader(r, version >= 4);
  const resource = () => {
    const out = { type: r.int8('resource_type'), name: v.string('resource_name'), keys: v.nullableArray(() => v.string('configuration key'), 'configuration_keys', 1) };
    v.tags();
    return out;
  };
  const request: KafkaDescribeConfigsRequest = {
    resources: v.array(resource, 'resources', 4),
    includeSynonyms: version >= 1 ? r.boolean('include_synonyms') : false,
    includeDocumentation: version >= 3 ? r.boolean('include_documentation') : false,
  };
  v.end('DescribeConfigs');
  return request;
}

export interface KafkaDescribedConfig {
  name: string;
  value: string;
  readOnly: boolean;
  source: number;
  /** v3+: Kafka's ConfigType (CONFIG_TYPE). */
  type: number;
}

/** Kafka's ConfigType numbers for the settings described here. */
export const CONFIG_TYPE = { UNKNOWN: 0, INT: 3, LONG: 5, LIST: 7 } as const;

/** Each topic setting's type, as Kafka's LogConfig declares it (DescribeConfigs v3+). */
export const TOPIC_CONFIG_TYPES: Readonly<Record<string, number>> = {
  'cleanup.policy': CONFIG_TYPE.LIST,
  'max.message.bytes': CONFIG_TYPE.INT,
  'retention.bytes': CONFIG_TYPE.LONG,
  'retention.ms': CONFIG_TYPE.LONG,
  'segment.bytes': CONFIG_TYPE.INT,
  'segment.ms': CONFIG_TYPE.LONG,
};

export interface KafkaDescribeConfigsResult {
  errorCode: number;
  message: string | null;
  type: number;
  name: string;
  configs: readonly KafkaDescribedConfig[];
}

export function encodeDescribeConfigs(w: KafkaWriter, version: number, results: readonly KafkaDescribeConfigsResult[], includeSynonyms: boolean): void {
  const v = new VersionedWriter(w, version >= 4);
  w.int32(0);
  v.array(results, (res) => {
    w.int16(res.errorCode);
    v.string(res.message);
    w.int8(res.type);
    v.string(res.name);
    v.array(res.configs, (c) => {
      v.string(c.name).string(c.value);
      w.boolean(c.readOnly);
      if (version === 0) w.boolean(c.source === CONFIG_SOURCE.DEFAULT_CONFIG); // is_default
      else w.int8(c.source);
      w.boolean(false); // is_sensitive: no topic setting here is a secret
      // v1+: the value's synonyms, most specific first; here the value itself is the only one.
      if (version >= 1) {
        v.array(includeSynonyms ? [c] : [], (s) => {
          v.string(s.name).string(s.value);
          w.int8(s.source);
          v.tags();
        });
      }
      if (version >= 3) {
        w.int8(c.type);
        v.string(null); // documentation
      }
      v.tags();
    }).tags();
  }).tags();
}

// ---- AlterConfigs (33) v0-1 and IncrementalAlterConfigs (44) v0

export interface KafkaAlterConfigsRequest {
  resources: Array<{ type: number; name: string; configs: Array<{ name: string; operation: number; value: string | null }> }>;
  validateOnly: boolean;
}

/** AlterConfigs: the resource's whole config (every entry is a SET of it). */
export function decodeAlterConfigs(r: KafkaReader): KafkaAlterConfigsRequest {
  return decodeAlter(r, 'AlterConfigs', false);
}

export function decodeIncrementalAlterConfigs(r: KafkaReader, version: number): KafkaAlterConfigsRequest {
  return decodeAlter(r, 'IncrementalAlterConfigs', true, version >= 1);
}

function decodeAlter(r: KafkaReader, api: string, incremental: boolean, flexible = false): KafkaAlterConfigsRequest {
  const v = new VersionedReader(r, flexible);
  const config = () => {
    const name = v.string('config name');
    const operation = incremental ? r.int8('config_operation') : CONFIG_OPERATION.SET;
    const out = { name, operation, value: v.nullableString('config value') };
    v.tags();
    return out;
  };
  const resource = () => {
    const out = { type: r.int8('resource_type'), name: v.string('resource_name'), configs: v.array(config, 'configs', incremental ? 3 : 2) };
    v.tags();
    return out;
  };
  const request: KafkaAlterConfigsRequest = { resources: v.array(resource, 'resources', 3), validateOnly: r.boolean('validate_only') };
  v.end(api);
  return request;
}

/** AlterConfigs and IncrementalAlterConfigs answer alike (IncrementalAlterConfigs v1 flexible). */
export function encodeAlterConfigs(w: KafkaWriter, results: ReadonlyArray<{ errorCode: number; message: string | null; type: number; name: string }>, flexible = false): void {
  const v = new VersionedWriter(w, flexible);
  w.int32(0);
  v.array(results, (res) => {
    w.int16(res.errorCode);
    v.string(res.message);
    w.int8(res.type);
    v.string(res.name).tags();
  }).tags();
}
