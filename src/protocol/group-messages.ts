// Bodies of the consumer-group APIs (keys in messages.ts). The broker treats member metadata and
// assignments as opaque bytes chosen by the client's assignment strategy; Sluice's own client
// uses the MessagePack formats in src/client/assignors.ts. Grammar in protocol/PROTOCOL.md. No I/O.

import * as f from './fields.js';
import { INT32_MAX, MAX_PARTITIONS_PER_REQUEST, topicPartition, type ErrorBody } from './messages.js';
import type { TopicPartition } from '../vocabulary.js';

const GROUP_ID = 255;
const MEMBER_ID = 1024;
const MAX_MEMBERS = 10_000;

const groupId = (m: f.Fields, where: string) => f.string(m.groupId, `${where}.groupId`, GROUP_ID);
const memberId = (m: f.Fields, where: string) => f.string(m.memberId ?? '', `${where}.memberId`, MEMBER_ID);
const generationId = (m: f.Fields, where: string) => f.int(m.generationId, `${where}.generationId`, -1, INT32_MAX);

// ---- FindCoordinator (10) v0: { groupId } → { nodeId, host, port }

export function decodeFindCoordinatorRequest(body: unknown): { groupId: string } {
  const m = f.map(body, 'findCoordinator');
  return { groupId: groupId(m, 'findCoordinator') };
}

export interface FindCoordinatorResponse {
  nodeId: number;
  host: string;
  port: number;
}

// ---- JoinGroup (11) v0
// { groupId, memberId ("" to join as new), sessionTimeoutMs, rebalanceTimeoutMs?, protocolType,
//   protocols: [{ name, metadata: bin }] } → { generationId, protocolName, leaderId, memberId,
//   members: [{ memberId, metadata: bin }] (leader only) }

export interface JoinGroupRequest {
  groupId: string;
  memberId: string;
  sessionTimeoutMs: number;
  rebalanceTimeoutMs: number;
  protocolType: string;
  protocols: Array<{ name: string; metadata: Buffer }>;
}

export function decodeJoinGroupRequest(body: unknown): JoinGroupRequest {
  const m = f.map(body, 'joinGroup');
  const sessionTimeoutMs = f.int(m.sessionTimeoutMs, 'joinGroup.sessionTimeoutMs', 0, INT32_MAX, 30_000);
  return {
    groupId: groupId(m, 'joinGroup'),
    memberId: memberId(m, 'joinGroup'),
    sessionTimeoutMs,
    rebalanceTimeoutMs: f.int(m.rebalanceTimeoutMs, 'joinGroup.rebalanceTimeoutMs', 0, INT32_MAX, sessionTimeoutMs),
    protocolType: f.string(m.protocolType ?? 'consumer', 'joinGroup.protocolType', 255),
    protocols: f.list(m.protocols, 'joinGroup.protocols', 64, (v, w) => {
      const p = f.map(v, w);
      return { name: f.string(p.name, `${w}.name`, 255), metadata: f.bytes(p.metadata ?? Buffer.alloc(0), `${w}.metadata`) };
    }),
  };
}

export interface JoinGroupResponse {
  generationId: number;
  protocolName: string | null;
  leaderId: string;
  memberId: string;
  members: Array<{ memberId: string; metadata: Buffer }>;
}

// ---- SyncGroup (14) v0
// { groupId, generationId, memberId, assignments?: [{ memberId, assignment: bin }] (leader) } → { assignment: bin }

export interface SyncGroupRequest {
  groupId: string;
  generationId: number;
  memberId: string;
  assignments: Map<string, Buffer> | null;
}

export function decodeSyncGroupRequest(body: unknown): SyncGroupRequest {
  const m = f.map(body, 'syncGroup');
  const assignments =
    m.assignments == null
      ? null
      : new Map(
          f.list(m.assignments, 'syncGroup.assignments', MAX_MEMBERS, (v, w) => {
            const a = f.map(v, w);
            return [f.string(a.memberId, `${w}.memberId`, MEMBER_ID), f.bytes(a.assignment ?? Buffer.alloc(0), `${w}.assignment`)] as const;
          }),
        );
  return { groupId: groupId(m, 'syncGroup'), generationId: generationId(m, 'syncGroup'), memberId: memberId(m, 'syncGroup'), assignments };
}

// ---- Heartbeat (12) v0: { groupId, generationId, memberId } → {}
// ---- LeaveGroup (13) v0: { groupId, memberId } → {}

export function decodeMemberRef(body: unknown, api: string): { groupId: string; generationId: number; memberId: string } {
  const m = f.map(body, api);
  return { groupId: groupId(m, api), generationId: api === 'leaveGroup' ? -1 : generationId(m, api), memberId: memberId(m, api) };
}

// ---- OffsetCommit (8) v0
// { groupId, generationId (-1 without a group membership), memberId ("" likewise),
//   offsets: [{ topic, partition, offset, metadata? }] } → { partitions: [{ topic, partition, error? }] }

export interface OffsetCommitRequest {
  groupId: string;
  generationId: number;
  memberId: string;
  offsets: Array<TopicPartition & { offset: bigint; metadata: string | null }>;
}

export function decodeOffsetCommitRequest(body: unknown): OffsetCommitRequest {
  const m = f.map(body, 'offsetCommit');
  return {
    groupId: groupId(m, 'offsetCommit'),
    generationId: f.int(m.generationId, 'offsetCommit.generationId', -1, INT32_MAX, -1),
    memberId: memberId(m, 'offsetCommit'),
    offsets: f.list(m.offsets, 'offsetCommit.offsets', MAX_PARTITIONS_PER_REQUEST, (v, w) => {
      const o = f.map(v, w);
      return { ...topicPartition(o, w), offset: f.int64(o.offset, `${w}.offset`), metadata: o.metadata == null ? null : f.string(o.metadata, `${w}.metadata`, 4096) };
    }),
  };
}

export interface OffsetCommitResponse {
  partitions: Array<TopicPartition & { error?: ErrorBody }>;
}

// ---- OffsetFetch (9) v0
// { groupId, partitions: [{ topic, partition }] | nil (all) } → { partitions: [{ topic, partition, offset: int64 | nil, metadata }] }

export function decodeOffsetFetchRequest(body: unknown): { groupId: string; partitions: TopicPartition[] | null } {
  const m = f.map(body, 'offsetFetch');
  return {
    groupId: groupId(m, 'offsetFetch'),
    partitions: m.partitions == null ? null : f.list(m.partitions, 'offsetFetch.partitions', MAX_PARTITIONS_PER_REQUEST, (v, w) => topicPartition(f.map(v, w), w)),
  };
}

export interface OffsetFetchResponse {
  partitions: Array<TopicPartition & { offset: bigint | null; metadata: string | null }>;
}

// ---- ListGroups (16) v0: {} → { groups: [{ groupId, protocolType, state }] }

export interface ListGroupsResponse {
  groups: Array<{ groupId: string; protocolType: string | null; state: string }>;
}

// ---- DescribeGroups (15) v0
// { groups: [groupId] } → { groups: [{ groupId, error?, state, protocolType, protocol, generationId, leaderId,
//   members: [{ memberId, clientId, clientHost, metadata: bin, assignment: bin }],
//   offsets: [{ topic, partition, offset, metadata, highWatermark, lag }] }] }

export function decodeDescribeGroupsRequest(body: unknown): { groups: string[] } {
  const m = f.map(body, 'describeGroups');
  return { groups: f.list(m.groups, 'describeGroups.groups', 1000, (v, w) => f.string(v, w, GROUP_ID)) };
}

export interface DescribedGroup {
  groupId: string;
  error?: ErrorBody;
  state: string;
  protocolType: string | null;
  protocol: string | null;
  generationId: number;
  leaderId: string | null;
  members: Array<{ memberId: string; clientId: string; clientHost: string; metadata: Buffer; assignment: Buffer }>;
  offsets: Array<TopicPartition & { offset: bigint; metadata: string | null; highWatermark: bigint; lag: bigint }>;
}

export interface DescribeGroupsResponse {
  groups: DescribedGroup[];
}

// ---- DeleteGroups (42) v0: { groupIds: [groupId] } → { groups: [{ groupId, error? }] }
// A group with members is refused (NON_EMPTY_GROUP); an unknown one is GROUP_ID_NOT_FOUND.

export function decodeDeleteGroupsRequest(body: unknown): { groupIds: string[] } {
  const m = f.map(body, 'deleteGroups');
  return { groupIds: f.list(m.groupIds, 'deleteGroups.groupIds', 1000, (v, w) => f.string(v, w, GROUP_ID)) };
}

export interface DeleteGroupsResponse {
  groups: Array<{ groupId: string; error?: ErrorBody }>;
}

// ---- OffsetDelete (47) v0: { groupId, partitions: [{ topic, partition }] } → { error? } | { partitions: [{ topic, partition, error? }] }
// As Kafka: a group with members keeps the partitions of topics they subscribe to
// (GROUP_SUBSCRIBED_TO_TOPIC each); one of another protocol than "consumer" refuses the whole request (NON_EMPTY_GROUP).

export function decodeOffsetDeleteRequest(body: unknown): { groupId: string; partitions: TopicPartition[] } {
  const m = f.map(body, 'offsetDelete');
  return { groupId: groupId(m, 'offsetDelete'), partitions: f.list(m.partitions, 'offsetDelete.partitions', MAX_PARTITIONS_PER_REQUEST, (v, w) => topicPartition(f.map(v, w), w)) };
}

export interface OffsetDeleteResponse {
  partitions: Array<TopicPartition & { error?: ErrorBody }>;
}
