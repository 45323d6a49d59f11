// Kafka's classic group protocol and committed offsets: FindCoordinator v0-4 (v3+ flexible, v4
// batched), JoinGroup v0-2,
// SyncGroup v0-1, Heartbeat v0-1, LeaveGroup v0-1, OffsetCommit v2, OffsetFetch v1-5,
// ListGroups v0-2, DescribeGroups v0-2, DeleteGroups v0-1 and OffsetDelete v0. Request decoders and response encoders, as in Kafka's
// message definitions (Kafka 3.4). Member metadata and assignments are opaque bytes. No I/O.

import { KafkaReader, KafkaWriter } from '../../../protocol/kafka-wire.js';

/** Throttle time leads the response body from these versions on. */
const throttleFrom = (w: KafkaWriter, version: number, first: number) => {
  if (version >= first) w.int32(0);
};

export interface KafkaFindCoordinatorRequest {
  /** 0 a consumer group, 1 a transactional id (v1+; v0 asks for groups only). */
  keyType: number;
  /** One key before v4; several from v4. */
  keys: string[];
}

export function decodeFindCoordinator(r: KafkaReader, version: number): KafkaFindCoordinatorRequest {
  let request: KafkaFindCoordinatorRequest;
  if (version >= 4) {
    const keyType = r.int8('key_type');
    request = { keyType, keys: r.compactArray((k) => k.compactString('coordinator key'), 'coordinator_keys', 1) };
  } else {
    const key = version >= 3 ? r.compactString('key') : r.string('key');
    request = { keyType: version >= 1 ? r.int8('key_type') : 0, keys: [key] };
  }
  if (version >= 3) r.taggedFields();
  r.end('FindCoordinator');
  return request;
}

export interface KafkaCoordinator {
  key: string;
  errorCode: number;
  message: string | null;
  nodeId: number;
  host: string;
  port: number;
}

/** v0: one coordinator; v1-3: throttle and an error message; v3 compact; v4 one entry per key. */
export function encodeFindCoordinator(w: KafkaWriter, version: number, coordinators: readonly KafkaCoordinator[]): void {
  if (version >= 4) {
    w.int32(0).compactArray(coordinators, (w, c) => w.compactString(c.key).int32(c.nodeId).compactString(c.host).int32(c.port).int16(c.errorCode).compactString(c.message).noTaggedFields());
    w.noTaggedFields();
    return;
  }
  const c = coordinators[0]!;
  if (version >= 1) w.int32(0);
  w.int16(c.errorCode);
  if (version >= 3) w.compactString(c.message).int32(c.nodeId).compactString(c.host).int32(c.port).noTaggedFields();
  else {
    if (version >= 1) w.string(c.message);
    w.int32(c.nodeId).string(c.host).int32(c.port);
  }
}

export interface KafkaJoinGroupRequest {
  groupId: string;
  sessionTimeoutMs: number;
  rebalanceTimeoutMs: number;
  memberId: string;
  protocolType: string;
  protocols: Array<{ name: string; metadata: Buffer }>;
}

export function decodeJoinGroup(r: KafkaReader, version: number): KafkaJoinGroupRequest {
  const groupId = r.string('group_id');
  const sessionTimeoutMs = r.int32('session_timeout_ms');
  // v0 has no rebalance timeout: the session timeout bounds the rebalance, as in Kafka.
  const rebalanceTimeoutMs = version >= 1 ? r.int32('rebalance_timeout_ms') : sessionTimeoutMs;
  const request: KafkaJoinGroupRequest = {
    groupId,
    sessionTimeoutMs,
    rebalanceTimeoutMs,
    memberId: r.string('member_id'),
    protocolType: r.string('protocol_type'),
    protocols: r.array((p) => ({ name: p.string('protocol name'), metadata: Buffer.from(p.bytes('protocol metadata')) }), 'protocols', 6),
  };
  r.end('JoinGroup');
  return request;
}

export interface KafkaJoinGroupResponse {
  errorCode: number;
  generationId: number;
  protocolName: string;
  leader: string;
  memberId: string;
  members: ReadonlyArray<{ memberId: string; metadata: Uint8Array }>;
}

export function encodeJoinGroup(w: KafkaWriter, version: number, j: KafkaJoinGroupResponse): void {
  throttleFrom(w, version, 2);
  w.int16(j.errorCode).int32(j.generationId).string(j.protocolName).string(j.leader).string(j.memberId);
  w.array(j.members, (w, m) => w.string(m.memberId).bytes(m.metadata));
}

export interface KafkaSyncGroupRequest {
  groupId: string;
  generationId: number;
  memberId: string;
  assignments: Array<{ memberId: string; assignment: Buffer }>;
}

export function decodeSyncGroup(r: KafkaReader): KafkaSyncGroupRequest {
  const request: KafkaSyncGroupRequest = {
    groupId: r.string('group_id'),
    generationId: r.int32('generation_id'),
    memberId: r.string('member_id'),
    assignments: r.array((a) => ({ memberId: a.string('member_id'), assignment: Buffer.from(a.bytes('assignment')) }), 'assignments', 6),
  };
  r.end('SyncGroup');
  return request;
}

export function encodeSyncGroup(w: KafkaWriter, version: number, s: { errorCode: number; assignment: Uint8Array }): void {
  throttleFrom(w, version, 1);
  w.int16(s.errorCode).bytes(s.assignment);
}

export function decodeHeartbeat(r: KafkaReader): { groupId: string; generationId: number; memberId: string } {
  const request = { groupId: r.string('group_id'), generationId: r.int32('generation_id'), memberId: r.string('member_id') };
  r.end('Heartbeat');
  return request;
}

export function decodeLeaveGroup(r: KafkaReader): { groupId: string; memberId: string } {
  const request = { groupId: r.string('group_id'), memberId: r.string('member_id') };
  r.end('LeaveGroup');
  return request;
}

/** Heartbeat and LeaveGroup answer with an error code alone (throttle time from v1). */
export function encodeErrorOnly(w: KafkaWriter, version: number, errorCode: number): void {
  throttleFrom(w, version, 1);
  w.int16(errorCode);
}

export interface KafkaOffsetCommitRequest {
  groupId: string;
  generationId: number;
  memberId: string;
  retentionTimeMs: bigint;
  topics: Array<{ name: string; partitions: Array<{ partition: number; offset: bigint; metadata: string | null }> }>;
}

export function decodeOffsetCommit(r: KafkaReader): KafkaOffsetCommitRequest {
  const request: KafkaOffsetCommitRequest = {
    groupId: r.string('group_id'),
    generationId: r.int32('generation_id'),
    memberId: r.string('member_id'),
    retentionTimeMs: r.int64('retention_time_ms'),
    topics: r.array(
      (t) => ({
        name: t.string('topic'),
        partitions: t.array((p) => ({ partition: p.int32('partition'), offset: p.int64('committed_offset'), metadata: p.nullableString('committed_metadata') }), 'partitions', 14),
      }),
      'topics',
      6,
    ),
  };
  r.end('OffsetCommit');
  return request;
}

type PartitionErrors = ReadonlyArray<{ name: string; partitions: ReadonlyArray<{ partition: number; errorCode: number }> }>;

export function encodeOffsetCommit(w: KafkaWriter, topics: PartitionErrors): void {
  w.array(topics, (w, t) => w.string(t.name).array(t.partitions, (w, p) => w.int32(p.partition).int16(p.errorCode)));
}

export interface KafkaOffsetFetchRequest {
  groupId: string;
  /** null (v2+): every partition the group has committed. */
  topics: Array<{ name: string; partitions: number[] }> | null;
}

export function decodeOffsetFetch(r: KafkaReader, version: number): KafkaOffsetFetchRequest {
  const groupId = r.string('group_id');
  const topic = (t: KafkaReader) => ({ name: t.string('topic'), partitions: t.array((p) => p.int32('partition'), 'partitions', 4) });
  // Null means "all" from v2; before that the layout has no null, and one is malformed.
  const request = { groupId, topics: version >= 2 ? r.nullableArray(topic, 'topics', 6) : r.array(topic, 'topics', 6) };
  r.end('OffsetFetch');
  return request;
}

export interface KafkaOffsetFetchPartition {
  partition: number;
  offset: bigint;
  metadata: string | null;
  errorCode: number;
}

/**
 * v1: per-partition errors only; v2+: the group's error last; v3+: throttle time first; v5: each
 * partition's committed leader epoch (-1: not known, Sluice stores none).
 */
export function encodeOffsetFetch(w: KafkaWriter, version: number, topics: ReadonlyArray<{ name: string; partitions: readonly KafkaOffsetFetchPartition[] }>, errorCode: number): void {
  throttleFrom(w, version, 3);
  w.array(topics, (w, t) =>
    w.string(t.name).array(t.partitions, (w, p) => {
      w.int32(p.partition).int64(p.offset);
      if (version >= 5) w.int32(-1);
      w.string(p.metadata).int16(p.errorCode);
    }),
  );
  if (version >= 2) w.int16(errorCode);
}

export function encodeListGroups(w: KafkaWriter, version: number, groups: ReadonlyArray<{ groupId: string; protocolType: string }>): void {
  throttleFrom(w, version, 1);
  w.int16(0).array(groups, (w, g) => w.string(g.groupId).string(g.protocolType));
}

export function decodeDescribeGroups(r: KafkaReader): string[] {
  const groups = r.array((g) => g.string('group id'), 'groups', 2);
  r.end('DescribeGroups');
  return groups;
}

export interface KafkaDescribedGroup {
  errorCode: number;
  groupId: string;
  state: string;
  protocolType: string;
  protocol: string;
  members: ReadonlyArray<{ memberId: string; clientId: string; clientHost: string; metadata: Uint8Array; assignment: Uint8Array }>;
}

export function encodeDescribeGroups(w: KafkaWriter, version: number, groups: readonly KafkaDescribedGroup[]): void {
  throttleFrom(w, version, 1);
  w.array(groups, (w, g) => {
    w.int16(g.errorCode).string(g.groupId).string(g.state).string(g.protocolType).string(g.protocol);
    w.array(g.members, (w, m) => w.string(m.memberId).string(m.clientId).string(m.clientHost).bytes(m.metadata).bytes(m.assignment));
  });
}

export function decodeDeleteGroups(r: KafkaReader): string[] {
  const groups = r.array((g) => g.string('group id'), 'groups_names', 2);
  r.end('DeleteGroups');
  return groups;
}

export function encodeDeleteGroups(w: KafkaWriter, results: ReadonlyArray<{ groupId: string; errorCode: number }>): void {
  w.int32(0).array(results, (w, g) => w.string(g.groupId).int16(g.errorCode));
}

export interface KafkaOffsetDeleteRequest {
  groupId: string;
  topics: Array<{ name: string; partitions: number[] }>;
}

export function decodeOffsetDelete(r: KafkaReader): KafkaOffsetDeleteRequest {
  const request: KafkaOffsetDeleteRequest = {
    groupId: r.string('group id'),
    topics: r.array((t) => ({ name: t.string('topic name'), partitions: t.array((p) => p.int32('partition_index'), 'partitions', 4) }), 'topics', 6),
  };
  r.end('OffsetDelete');
  return request;
}

/** The group's error first; per-partition errors only when the group itself was fine. */
export function encodeOffsetDelete(w: KafkaWriter, errorCode: number, topics: ReadonlyArray<{ name: string; partitions: ReadonlyArray<{ partition: number; errorCode: number }> }>): void {
  w.int16(errorCode).int32(0).array(topics, (w, t) => w.string(t.name).array(t.partitions, (w, p) => w.int32(p.partition).int16(p.errorCode)));
}
