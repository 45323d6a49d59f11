// The Kafka listener's one version table, and Sluice's error codes as Kafka's numbers. No I/O.
//
// Each API's versions from `flexibleFrom` on are flexible (KIP-482): their requests carry header v2
// (tagged fields after the client id) and their responses header v1 (tagged fields after the
// correlation id), except ApiVersions, whose response header stays v0 so that any client can read
// it. Versions before are non-flexible: request header v1, response header v0.
// The ranges are those current clients use with their default settings (Apache Kafka's Java
// client 4.x and its tools, librdkafka 2.x, kafkajs 2.2, @platformatic/kafka; each lands on the
// highest version both sides serve), down to what older ones still send (kafkajs, kafka-python).
// Group APIs start at 0 because librdkafka's balanced-consumer feature test needs v0 in each
// range. Not served: transactions (refused where a request names them), the KIP-848 consumer
// protocol, fetch sessions (declined with session id 0, as KIP-227 allows), replication.

import { kafkaErrorNumber } from '../../errors.js';
import { ApiKey } from '../../protocol/messages.js';

// Push subscriptions are Sluice's own: Kafka has no such APIs, so the Kafka door does not offer them.
const { Authenticate, Subscribe: _subscribe, Credit: _credit, Unsubscribe: _unsubscribe, ...shared } = ApiKey;

/**
 * Sluice's API keys are Kafka's numbers for the same operations; Sluice's Authenticate is Kafka's
 * SaslAuthenticate slot. AlterConfigs (replace a whole config) and DescribeCluster are Kafka's
 * only: Sluice's protocol has the incremental form and Metadata's broker list.
 */
export const KafkaApi = { ...shared, SaslHandshake: 17, AlterConfigs: 33, SaslAuthenticate: Authenticate, DescribeCluster: 60 } as const;
export type KafkaApiName = keyof typeof KafkaApi;

export interface KafkaVersionRange {
  apiKey: number;
  name: KafkaApiName;
  minVersion: number;
  maxVersion: number;
  /** The first flexible version (past maxVersion: none served). */
  flexibleFrom: number;
}

/** [min, max] served, and the first flexible version where one is served. */
const RANGES: Record<KafkaApiName, [number, number, number?]> = {
  Produce: [3, 11, 9],
  Fetch: [4, 17, 12],
  ListOffsets: [1, 8, 6],
  Metadata: [0, 12, 9],
  OffsetCommit: [2, 8, 8],
  OffsetFetch: [1, 8, 6],
  FindCoordinator: [0, 4, 3],
  JoinGroup: [0, 9, 6],
  Heartbeat: [0, 4, 4],
  LeaveGroup: [0, 5, 4],
  SyncGroup: [0, 5, 4],
  DescribeGroups: [0, 5, 5],
  ListGroups: [0, 5, 3],
  SaslHandshake: [1, 1],
  ApiVersions: [0, 4, 3],
  CreateTopics: [0, 7, 5],
  DeleteTopics: [0, 6, 4],
  DeleteRecords: [0, 2, 2],
  DescribeConfigs: [0, 4, 4],
  AlterConfigs: [0, 1],
  SaslAuthenticate: [0, 1],
  CreatePartitions: [0, 3, 2],
  DeleteGroups: [0, 2, 2],
  IncrementalAlterConfigs: [0, 1, 1],
  OffsetDelete: [0, 0],
  DescribeCluster: [0, 0, 0],
  InitProducerId: [0, 5, 2],
  DescribeProducers: [0, 0, 0],
  OffsetForLeaderEpoch: [0, 4, 4],
};

/** What ApiVersions advertises, and what the listener accepts. */
export const KAFKA_API_VERSIONS: readonly KafkaVersionRange[] = (Object.entries(KafkaApi) as Array<[KafkaApiName, number]>).map(([name, apiKey]) => ({
  apiKey,
  name,
  minVersion: RANGES[name][0],
  maxVersion: RANGES[name][1],
  flexibleFrom: RANGES[name][2] ?? RANGES[name][1] + 1,
}));

/** Whether `version` of the API is flexible (header v2 requests, tagged fields, compact encodings). */
export function isFlexible(api: KafkaVersionRange, version: number): boolean {
  return version >= api.flexibleFrom;
}

const BY_KEY: ReadonlyMap<number, KafkaVersionRange> = new Map(KAFKA_API_VERSIONS.map((a) => [a.apiKey, a]));

/** The API's range by key (looked up once per request, so a map rather than a scan). */
export function kafkaApiByKey(apiKey: number): KafkaVersionRange | undefined {
  return BY_KEY.get(apiKey);
}

/** Kafka's number for an error: the one table's (../../errors.ts); 0 for none. */
export const kafkaErrorCode = kafkaErrorNumber;
