// The consumer-group APIs: thin calls into the broker API's groups (src/broker/groups.ts). JoinGroup and SyncGroup may be
// held until the rebalance completes, so clients keep them on a connection of their own. In a
// cluster a broker serves the groups of the offsets partitions it leads; the others answer
// NOT_COORDINATOR, and FindCoordinator names the broker to ask.

import {
  decodeDeleteGroupsRequest,
  decodeDescribeGroupsRequest,
  decodeOffsetDeleteRequest,
  decodeFindCoordinatorRequest,
  decodeJoinGroupRequest,
  decodeMemberRef,
  decodeOffsetCommitRequest,
  decodeOffsetFetchRequest,
  decodeSyncGroupRequest,
  type DeleteGroupsResponse,
  type DescribeGroupsResponse,
  type OffsetDeleteResponse,
  type DescribedGroup,
  type FindCoordinatorResponse,
  type JoinGroupResponse,
  type ListGroupsResponse,
  type OffsetCommitResponse,
  type OffsetFetchResponse,
} from '../../../protocol/group-messages.js';
import { errorBody } from '../../../protocol/messages.js';
import { commitOffsets, deleteGroups, deleteOffsets, describeGroup, fetchOffsets, findCoordinator, heartbeat, joinGroup, leaveMember, listGroups, syncGroup } from '../../../broker/groups.js';
import type { Handler } from './handler.js';

export const handleFindCoordinator: Handler = async (ctx, { body }) => {
  const { groupId } = decodeFindCoordinatorRequest(body);
  // Alone, this broker coordinates every group; in a cluster, the leader of the group's offsets partition (at its Sluice listener).
  const coordinator = (await findCoordinator(ctx, groupId)) ?? ctx.broker;
  return { body: { nodeId: coordinator.nodeId, host: coordinator.host, port: coordinator.port } satisfies FindCoordinatorResponse };
};

export const handleJoinGroup: Handler = async (ctx, { header, body }) => {
  const r = decodeJoinGroupRequest(body);
  const joined = await joinGroup(ctx, { ...r, clientId: header.clientId ?? '' });
  return { body: joined satisfies JoinGroupResponse };
};

export const handleSyncGroup: Handler = async (ctx, { body }) => {
  const r = decodeSyncGroupRequest(body);
  const assignment = await syncGroup(ctx, r, r.assignments);
  return { body: { assignment } };
};

export const handleHeartbeat: Handler = (ctx, { body }) => {
  heartbeat(ctx, decodeMemberRef(body, 'heartbeat'));
  return { body: {} };
};

export const handleLeaveGroup: Handler = (ctx, { body }) => {
  const r = decodeMemberRef(body, 'leaveGroup');
  leaveMember(ctx, r.groupId, r.memberId);
  return { body: {} };
};

export const handleOffsetCommit: Handler = async (ctx, { body }) => {
  const r = decodeOffsetCommitRequest(body);
  const outcomes = await commitOffsets(ctx, r, r.offsets);
  const partitions: OffsetCommitResponse['partitions'] = outcomes.map((o) => (o.error ? { topic: o.topic, partition: o.partition, error: errorBody(o.error) } : { topic: o.topic, partition: o.partition }));
  return { body: { partitions } satisfies OffsetCommitResponse };
};

export const handleOffsetFetch: Handler = (ctx, { body }) => {
  const r = decodeOffsetFetchRequest(body);
  // A partition of a topic the principal may not read shows no offset (Sluice's answer has no per-partition error).
  const partitions = fetchOffsets(ctx, r.groupId, r.partitions).map((o) => ({ topic: o.topic, partition: o.partition, offset: o.committed?.offset ?? null, metadata: o.committed?.metadata ?? null }));
  return { body: { partitions } satisfies OffsetFetchResponse };
};

export const handleDeleteGroups: Handler = async (ctx, { body }) => {
  const { groupIds } = decodeDeleteGroupsRequest(body);
  const groups: DeleteGroupsResponse['groups'] = (await deleteGroups(ctx, groupIds)).map(({ groupId, error }) => (error ? { groupId, error: errorBody(error) } : { groupId }));
  return { body: { groups } satisfies DeleteGroupsResponse };
};

export const handleOffsetDelete: Handler = async (ctx, { body }) => {
  const request = decodeOffsetDeleteRequest(body);
  const outcomes = await deleteOffsets(ctx, request.groupId, request.partitions);
  const partitions = outcomes.map((o) => (o.error ? { topic: o.topic, partition: o.partition, error: errorBody(o.error) } : { topic: o.topic, partition: o.partition }));
  return { body: { partitions } satisfies OffsetDeleteResponse };
};

export const handleListGroups: Handler = (ctx) => ({ body: { groups: listGroups(ctx) } satisfies ListGroupsResponse });

export const handleDescribeGroups: Handler = (ctx, { body }) => {
  const r = decodeDescribeGroupsRequest(body);
  const groups = r.groups.map((groupId): DescribedGroup => {
    const d = describeGroup(ctx, groupId);
    return d.error ? { groupId, error: errorBody(d.error), state: 'Dead', protocolType: null, protocol: null, generationId: -1, leaderId: null, members: [], offsets: [] } : d;
  });
  return { body: { groups } satisfies DescribeGroupsResponse };
};
