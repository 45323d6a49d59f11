// API key → handler. The version table itself is protocol/messages.ts's API_VERSIONS.

import { ApiKey } from '../../../protocol/messages.js';
import { handleApiVersions } from './api-versions.js';
import { handleAuthenticate } from './authenticate.js';
import type { Handler } from './handler.js';
import { handleFetch } from './fetch.js';
import {
  handleDeleteGroups,
  handleDescribeGroups,
  handleFindCoordinator,
  handleHeartbeat,
  handleJoinGroup,
  handleLeaveGroup,
  handleListGroups,
  handleOffsetCommit,
  handleOffsetDelete,
  handleOffsetFetch,
  handleSyncGroup,
} from './groups.js';
import { handleListOffsets, handleOffsetForLeaderEpoch } from './list-offsets.js';
import { handleMetadata } from './metadata.js';
import { handleProduce } from './produce.js';
import { handleDescribeProducers, handleInitProducerId } from './producers.js';
import { handleCreatePartitions, handleCreateTopics, handleDeleteRecords, handleDeleteTopics, handleDescribeConfigs, handleIncrementalAlterConfigs } from './topics-admin.js';
import { handleCredit, handleSubscribe, handleUnsubscribe } from './subscribe.js';

export const HANDLERS: ReadonlyMap<number, Handler> = new Map<number, Handler>([
  [ApiKey.Produce, handleProduce],
  [ApiKey.Fetch, handleFetch],
  [ApiKey.ListOffsets, handleListOffsets],
  [ApiKey.OffsetForLeaderEpoch, handleOffsetForLeaderEpoch],
  [ApiKey.Metadata, handleMetadata],
  [ApiKey.OffsetCommit, handleOffsetCommit],
  [ApiKey.OffsetFetch, handleOffsetFetch],
  [ApiKey.FindCoordinator, handleFindCoordinator],
  [ApiKey.JoinGroup, handleJoinGroup],
  [ApiKey.Heartbeat, handleHeartbeat],
  [ApiKey.LeaveGroup, handleLeaveGroup],
  [ApiKey.SyncGroup, handleSyncGroup],
  [ApiKey.DescribeGroups, handleDescribeGroups],
  [ApiKey.ListGroups, handleListGroups],
  [ApiKey.ApiVersions, handleApiVersions],
  [ApiKey.InitProducerId, handleInitProducerId],
  [ApiKey.DescribeProducers, handleDescribeProducers],
  [ApiKey.CreateTopics, handleCreateTopics],
  [ApiKey.DeleteTopics, handleDeleteTopics],
  [ApiKey.DeleteRecords, handleDeleteRecords],
  [ApiKey.Authenticate, handleAuthenticate],
  [ApiKey.CreatePartitions, handleCreatePartitions],
  [ApiKey.DescribeConfigs, handleDescribeConfigs],
  [ApiKey.IncrementalAlterConfigs, handleIncrementalAlterConfigs],
  [ApiKey.DeleteGroups, handleDeleteGroups],
  [ApiKey.OffsetDelete, handleOffsetDelete],
  [ApiKey.Subscribe, handleSubscribe],
  [ApiKey.Credit, handleCredit],
  [ApiKey.Unsubscribe, handleUnsubscribe],
]);
