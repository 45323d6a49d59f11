// Kafka CreatePartitions, DescribeConfigs, AlterConfigs and IncrementalAlterConfigs over the same
// topic registry and the same per-topic steps as Sluice's own handlers. Only TOPIC resources exist
// here: a question about a broker's configs is answered with INVALID_REQUEST for that resource.

import { SluiceError } from '../../../errors.js';
import { alterConfigs as alterTopicConfigs, createPartitions as createPartitionsOf, describeConfigs as describeTopicConfigs } from '../../../broker/topics.js';
import type { BrokerSession } from '../../../broker/session.js';
import { kafkaErrorCode } from '../apis.js';
import {
  CONFIG_OPERATION,
  CONFIG_SOURCE,
  CONFIG_TYPE,
  TOPIC_CONFIG_TYPES,
  RESOURCE_TYPE,
  decodeAlterConfigs,
  decodeCreatePartitions,
  decodeDescribeConfigs,
  decodeIncrementalAlterConfigs,
  encodeAlterConfigs,
  encodeCreatePartitions,
  encodeDescribeConfigs,
  type KafkaAlterConfigsRequest,
  type KafkaDescribeConfigsResult,
} from '../messages/configs.js';
import { body, kafkaHandler } from './handler.js';

export const createPartitions = kafkaHandler(decodeCreatePartitions, async (ctx, request, header) => {
  const topics = request.topics.map((t) => ({ name: t.name, count: t.count, manualAssignments: t.assignments !== null }));
  const results = (await createPartitionsOf(ctx, topics, request.validateOnly)).map(({ name, error }) => ({ name, errorCode: kafkaErrorCode(error), message: error?.message ?? null }));
  return body((w) => encodeCreatePartitions(w, header.apiVersion, results));
});

function notATopic(type: number): SluiceError {
  return new SluiceError('INVALID_REQUEST', `resource type ${type} is not supported: this broker keeps configs for topics (type ${RESOURCE_TYPE.TOPIC}) only`);
}

export const describeConfigs = kafkaHandler(decodeDescribeConfigs, (ctx, request, header) => {
  const results = request.resources.map((res): KafkaDescribeConfigsResult => {
    const { error, configs } = res.type === RESOURCE_TYPE.TOPIC ? describeTopicConfigs(ctx, res.name) : { error: notATopic(res.type), configs: [] };
    // Named keys narrow the answer; a key the topic does not have is left out, as Kafka does. No
    // keys (null, or an empty list: Kafka's ConfigHelper reads both as "all") asks for every one.
    const asked = res.keys === null || res.keys.length === 0 ? configs : configs.filter((c) => res.keys!.includes(c.name));
    return {
      errorCode: kafkaErrorCode(error),
      message: error?.message ?? null,
      type: res.type,
      name: res.name,
      configs: asked.map((c) => ({
        name: c.name,
        value: c.value,
        readOnly: false,
        source: c.source === 'topic' ? CONFIG_SOURCE.DYNAMIC_TOPIC_CONFIG : CONFIG_SOURCE.DEFAULT_CONFIG,
        type: TOPIC_CONFIG_TYPES[c.name] ?? CONFIG_TYPE.UNKNOWN,
      })),
    };
  });
  return body((w) => encodeDescribeConfigs(w, header.apiVersion, results, request.includeSynonyms));
});

async function alter(ctx: BrokerSession, request: KafkaAlterConfigsRequest, mode: 'incremental' | 'replace', flexible: boolean) {
  const results: Array<{ errorCode: number; message: string | null; type: number; name: string }> = [];
  for (const res of request.resources) {
    let error: SluiceError | undefined;
    if (res.type !== RESOURCE_TYPE.TOPIC) error = notATopic(res.type);
    else {
      const unsupported = res.configs.find((c) => c.operation !== CONFIG_OPERATION.SET && c.operation !== CONFIG_OPERATION.DELETE);
      if (unsupported) error = new SluiceError('INVALID_CONFIG', `${unsupported.name}: operation ${unsupported.operation} is not supported (no topic setting here is a list: use SET or DELETE)`);
      else {
        const changes = res.configs.map((c) => ({ name: c.name, value: c.operation === CONFIG_OPERATION.DELETE ? null : c.value }));
        error = (await alterTopicConfigs(ctx, res.name, changes, mode, request.validateOnly)).error;
      }
    }
    results.push({ errorCode: kafkaErrorCode(error), message: error?.message ?? null, type: res.type, name: res.name });
  }
  return body((w) => encodeAlterConfigs(w, results, flexible));
}

export const alterConfigs = kafkaHandler(decodeAlterConfigs, (ctx, request) => alter(ctx, request, 'replace', false));

export const incrementalAlterConfigs = kafkaHandler(decodeIncrementalAlterConfigs, (ctx, request, header) => alter(ctx, request, 'incremental', header.apiVersion >= 1));
