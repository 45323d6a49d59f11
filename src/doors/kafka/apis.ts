// The Kafka listener's one version table, and Sluice's error codes as Kafka's numbers. No I/O.
//
// Every advertised version is non-flexible, so requests carry header v1 and responses header v0
// (only ApiVersions v3+, which librdkafka opens with, is flexible: its header's first fields are
// read and it is answered with error 35).
// The table looks like a Kafka 0.11 broker (see ../shared/kafka-wire.md §0): each client lands on
// one version per API (KafkaJS takes min(its max, ours), librdkafka the highest common one, and
// kafka-python infers "0.11" from Metadata v4 and then hard-codes exactly these). Group APIs start
// at 0 because librdkafka's balanced-consumer feature test needs v0 in each range.

import type { ErrorCode } from '../../errors.js';
import { ApiKey } from '../../protocol/messages.js';

// Push subscriptions are Sluice's own: Kafka has no such APIs, so the Kafka door does not offer them.
const { Authenticate, Subscribe: _subscribe, Credit: _credit, Unsubscribe: _unsubscribe, ...shared } = ApiKey;

/**
 * Sluice's API keys are Kafka's numbers for the same operations; Sluice's Authenticate is Kafka's
 * SaslAuthenticate slot. AlterConfigs (replace a whole config) is Kafka's only: Sluice's protocol
 * has the incremental form alone.
 */
export const KafkaApi = { ...shared, SaslHandshake: 17, AlterConfigs: 33, SaslAuthenticate: Authenticate } as const;
export type KafkaApiName = keyof typeof KafkaApi;

export interface KafkaVersionRange {
  apiKey: number;
  name: KafkaApiName;
  minVersion: number;
  maxVersion: number;
}

const RANGES: Record<KafkaApiName, [number, number]> = {
  Produce: [3, 3],
  Fetch: [4, 4],
  ListOffsets: [1, 1],
  Metadata: [0, 4],
  OffsetCommit: [2, 2],
  OffsetFetch: [1, 1],
  FindCoordinator: [0, 0],
  JoinGroup: [0, 2],
  Heartbeat: [0, 1],
  LeaveGroup: [0, 1],
  SyncGroup: [0, 1],
  DescribeGroups: [0, 2],
  ListGroups: [0, 2],
  SaslHandshake: [1, 1],
  ApiVersions: [0, 2],
  CreateTopics: [0, 2],
  DeleteTopics: [0, 1],
  DescribeConfigs: [0, 2],
  AlterConfigs: [0, 1],
  SaslAuthenticate: [0, 1],
  CreatePartitions: [0, 1],
  DeleteGroups: [0, 1],
  IncrementalAlterConfigs: [0, 0],
  OffsetDelete: [0, 0],
};

/** What ApiVersions advertises, and what the listener accepts. */
export const KAFKA_API_VERSIONS: readonly KafkaVersionRange[] = (Object.entries(KafkaApi) as Array<[KafkaApiName, number]>).map(([name, apiKey]) => ({
  apiKey,
  name,
  minVersion: RANGES[name][0],
  maxVersion: RANGES[name][1],
}));

export function kafkaApiByKey(apiKey: number): KafkaVersionRange | undefined {
  return KAFKA_API_VERSIONS.find((a) => a.apiKey === apiKey);
}

/** Sluice's error codes as Kafka's numbers (Kafka's own where one exists). */
export const KAFKA_ERROR_CODES: Record<ErrorCode | 'NONE' | 'LEADER_NOT_AVAILABLE', number> = {
  NONE: 0,
  UNKNOWN_SERVER_ERROR: -1,
  OFFSET_OUT_OF_RANGE: 1,
  CORRUPT_MESSAGE: 2,
  UNKNOWN_TOPIC_OR_PARTITION: 3,
  LEADER_NOT_AVAILABLE: 5,
  MESSAGE_TOO_LARGE: 10,
  NETWORK_EXCEPTION: 13,
  TRANSFER_CANCELLED: 13,
  COORDINATOR_NOT_AVAILABLE: 15,
  NOT_COORDINATOR: 16,
  INVALID_TOPIC_EXCEPTION: 17,
  INVALID_REQUIRED_ACKS: 21,
  ILLEGAL_GENERATION: 22,
  INCONSISTENT_GROUP_PROTOCOL: 23,
  INVALID_GROUP_ID: 24,
  UNKNOWN_MEMBER_ID: 25,
  INVALID_SESSION_TIMEOUT: 26,
  REBALANCE_IN_PROGRESS: 27,
  TOPIC_AUTHORIZATION_FAILED: 29,
  CLUSTER_AUTHORIZATION_FAILED: 31,
  UNSUPPORTED_SASL_MECHANISM: 33,
  ILLEGAL_SASL_STATE: 34,
  UNSUPPORTED_VERSION: 35,
  TOPIC_ALREADY_EXISTS: 36,
  INVALID_PARTITIONS: 37,
  INVALID_CONFIG: 40,
  INVALID_REQUEST: 42,
  INVALID_ARGUMENT: 42,
  KAFKA_STORAGE_ERROR: 56,
  SASL_AUTHENTICATION_FAILED: 58,
  GROUP_ID_NOT_FOUND: 69,
  NON_EMPTY_GROUP: 68,
  UNSUPPORTED_COMPRESSION_TYPE: 76,
  INVALID_RECORD: 87,
  // Sluice-internal conditions a Kafka client can only see as "the server failed".
  UNKNOWN_CONNECTION: -1,
  LOG_CLOSED: 3,
  DATA_DIR_LOCKED: -1,
};

/** The Kafka number for an error (undefined: none). */
export function kafkaErrorCode(err: { code: string } | undefined): number {
  if (!err) return 0;
  return KAFKA_ERROR_CODES[err.code as ErrorCode] ?? -1;
}
