// Kafka's topic administration beyond create and delete: CreatePartitions v0-1, DescribeConfigs
// v0-2, AlterConfigs v0-1 and IncrementalAlterConfigs v0 (every non-flexible version), request
// decoders and response encoders as in Kafka's message definitions. No I/O.

import { KafkaReader, KafkaWriter } from '../../../protocol/kafka-wire.js';

/** Kafka's ConfigResource types: the only ones a broker is asked about here. */
export const RESOURCE_TYPE = { TOPIC: 2, BROKER: 4 } as const;

/** Kafka's ConfigSource: where a described value comes from. */
export const CONFIG_SOURCE = { DYNAMIC_TOPIC_CONFIG: 1, DEFAULT_CONFIG: 5 } as const;

/** IncrementalAlterConfigs' operations. */
export const CONFIG_OPERATION = { SET: 0, DELETE: 1, APPEND: 2, SUBTRACT: 3 } as const;

// ---- CreatePartitions (37) v0-1 (v1 only changes how quota throttling is reported)

export interface KafkaCreatePartitionsRequest {
  topics: Array<{ name: string; count: number; assignments: number[][] | null }>;
  timeoutMs: number;
  validateOnly: boolean;
}

export function decodeCreatePartitions(r: KafkaReader): KafkaCreatePartitionsRequest {
  const request: KafkaCreatePartitionsRequest = {
    topics: r.array(
      (t) => ({
        name: t.string('topic name'),
        count: t.int32('count'),
        assignments: t.nullableArray((a) => a.array((b) => b.int32('broker id'), 'broker_ids', 4), 'assignments', 4),
      }),
      'topics',
      10,
    ),
    timeoutMs: r.int32('timeout_ms'),
    validateOnly: r.boolean('validate_only'),
  };
  r.end('CreatePartitions');
  return request;
}

export function encodeCreatePartitions(w: KafkaWriter, results: ReadonlyArray<{ name: string; errorCode: number; message: string | null }>): void {
  w.int32(0).array(results, (w, t) => w.string(t.name).int16(t.errorCode).string(t.message));
}

// ---- DescribeConfigs (32) v0-2

export interface KafkaDescribeConfigsRequest {
  resources: Array<{ type: number; name: string; keys: string[] | null }>;
  includeSynonyms: boolean;
}

export function decodeDescribeConfigs(r: KafkaReader, version: number): KafkaDescribeConfigsRequest {
  const request: KafkaDescribeConfigsRequest = {
    resources: r.array(
      (c) => ({ type: c.int8('resource_type'), name: c.string('resource_name'), keys: c.nullableArray((k) => k.string('configuration key'), 'configuration_keys', 2) }),
      'resources',
      7,
    ),
    includeSynonyms: version >= 1 ? r.boolean('include_synonyms') : false,
  };
  r.end('DescribeConfigs');
  return request;
}

export interface KafkaDescribedConfig {
  name: string;
  value: string;
  readOnly: boolean;
  source: number;
}

export interface KafkaDescribeConfigsResult {
  errorCode: number;
  message: string | null;
  type: number;
  name: string;
  configs: readonly KafkaDescribedConfig[];
}

export function encodeDescribeConfigs(w: KafkaWriter, version: number, results: readonly KafkaDescribeConfigsResult[], includeSynonyms: boolean): void {
  w.int32(0).array(results, (w, res) => {
    w.int16(res.errorCode).string(res.message).int8(res.type).string(res.name);
    w.array(res.configs, (w, c) => {
      w.string(c.name).string(c.value).boolean(c.readOnly);
      if (version === 0) w.boolean(c.source === CONFIG_SOURCE.DEFAULT_CONFIG); // is_default
      else w.int8(c.source);
      w.boolean(false); // is_sensitive: no topic setting here is a secret
      // v1+: the value's synonyms, most specific first; here the value itself is the only one.
      if (version >= 1) w.array(includeSynonyms ? [c] : [], (w, s) => w.string(s.name).string(s.value).int8(s.source));
    });
  });
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

export function decodeIncrementalAlterConfigs(r: KafkaReader): KafkaAlterConfigsRequest {
  return decodeAlter(r, 'IncrementalAlterConfigs', true);
}

function decodeAlter(r: KafkaReader, api: string, incremental: boolean): KafkaAlterConfigsRequest {
  const request: KafkaAlterConfigsRequest = {
    resources: r.array(
      (c) => ({
        type: c.int8('resource_type'),
        name: c.string('resource_name'),
        configs: c.array(
          (e) => {
            const name = e.string('config name');
            const operation = incremental ? e.int8('config_operation') : CONFIG_OPERATION.SET;
            return { name, operation, value: e.nullableString('config value') };
          },
          'configs',
          incremental ? 5 : 4,
        ),
      }),
      'resources',
      7,
    ),
    validateOnly: r.boolean('validate_only'),
  };
  r.end(api);
  return request;
}

/** AlterConfigs and IncrementalAlterConfigs answer alike. */
export function encodeAlterConfigs(w: KafkaWriter, results: ReadonlyArray<{ errorCode: number; message: string | null; type: number; name: string }>): void {
  w.int32(0).array(results, (w, res) => w.int16(res.errorCode).string(res.message).int8(res.type).string(res.name));
}
