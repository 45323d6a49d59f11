// Kafka API key → handler. The version table is ../apis.ts's KAFKA_API_VERSIONS.

import { KafkaApi } from '../apis.js';
import { apiVersions, describeCluster, saslAuthenticate, saslHandshake } from './admin.js';
import { fetch, produce } from './data.js';
import { alterConfigs, createPartitions, describeConfigs, incrementalAlterConfigs } from './configs.js';
import { deleteGroups, describeGroups, findCoordinator, heartbeat, joinGroup, leaveGroup, listGroups, offsetCommit, offsetDelete, offsetFetch, syncGroup } from './groups.js';
import type { KafkaHandler } from './handler.js';
import { describeProducers, initProducerId, offsetForLeaderEpoch } from './producers.js';
import { createTopics, deleteRecords, deleteTopics, listOffsets, metadata } from './topics.js';

export const KAFKA_HANDLERS: ReadonlyMap<number, KafkaHandler> = new Map<number, KafkaHandler>([
  [KafkaApi.Produce, produce],
  [KafkaApi.Fetch, fetch],
  [KafkaApi.ListOffsets, listOffsets],
  [KafkaApi.Metadata, metadata],
  [KafkaApi.OffsetCommit, offsetCommit],
  [KafkaApi.OffsetFetch, offsetFetch],
  [KafkaApi.FindCoordinator, findCoordinator],
  [KafkaApi.JoinGroup, joinGroup],
  [KafkaApi.Heartbeat, heartbeat],
  [KafkaApi.LeaveGroup, leaveGroup],
  [KafkaApi.SyncGroup, syncGroup],
  [KafkaApi.DescribeGroups, describeGroups],
  [KafkaApi.ListGroups, listGroups],
  [KafkaApi.SaslHandshake, saslHandshake],
  [KafkaApi.ApiVersions, apiVersions],
  [KafkaApi.CreateTopics, createTopics],
  [KafkaApi.DeleteTopics, deleteTopics],
  [KafkaApi.DeleteRecords, deleteRecords],
  [KafkaApi.SaslAuthenticate, saslAuthenticate],
  [KafkaApi.DescribeConfigs, describeConfigs],
  [KafkaApi.AlterConfigs, alterConfigs],
  [KafkaApi.CreatePartitions, createPartitions],
  [KafkaApi.DeleteGroups, deleteGroups],
  [KafkaApi.IncrementalAlterConfigs, incrementalAlterConfigs],
  [KafkaApi.OffsetDelete, offsetDelete],
  [KafkaApi.DescribeCluster, describeCluster],
  [KafkaApi.InitProducerId, initProducerId],
  [KafkaApi.DescribeProducers, describeProducers],
  [KafkaApi.OffsetForLeaderEpoch, offsetForLeaderEpoch],
]);
