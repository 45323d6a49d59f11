// Kafka's classic group protocol and committed offsets: FindCoordinator v0-4 (v3+ flexible, v4
// batched), JoinGroup v0-9 (v6+ flexible), SyncGroup v0-5 (v4+), Heartbeat v0-4 (v4),
// LeaveGroup v0-5 (v4+), OffsetCommit v2-8 (v8), OffsetFetch v1-8 (v6+), ListGroups v0-5 (v3+),
// DescribeGroups v0-5 (v5), DeleteGroups v0-2 (v2) and OffsetDelete v0. Request decoders and response
// encoders, as in Kafka's message definitions (clients/src/main/resources/common/message).
// Member metadata and assignments are opaque bytes. No I/O.

import { KafkaReader, KafkaWriter, VersionedReader, VersionedWriter } from '../../../protocol/kafka-wire.js';

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

// Where each API's flexible versions start (Kafka's message schemas).
const JOIN_FLEXIBLE = 6;
const SYNC_FLEXIBLE = 4;
const HEARTBEAT_FLEXIBLE = 4;
const LEAVE_FLEXIBLE = 4;
const COMMIT_FLEXIBLE = 8;
const FETCH_FLEXIBLE = 6;
const LIST_FLEXIBLE = 3;
const DESCRIBE_FLEXIBLE = 5;

const reader = (r: KafkaReader, version: number, flexibleFrom: number) => new VersionedReader(r, version >= flexibleFrom);
const writer = (w: KafkaWriter, version: number, flexibleFrom: number) => new VersionedWriter(w, version >= flexibleFrom);

export interface KafkaJoinGroupRequest {
  groupId: string;
  sessionTimeoutMs: number;
  rebalanceTimeoutMs: number;
  memberId: string;
  /** v5+: a static member's instance id (KIP-345). */
  groupInstanceId: string | null;
  protocolType: string;
  protocols: Array<{ name: string; metadata: Buffer }>;
  /** v8+: why the member (re)joins; logged by nobody, read so the request is read to its end. */
  reason: string | null;
}

/** v1 rebalance timeout; v5 group instance id; v6 flexible; v8 reason. */
export function decodeJoinGroup(r: KafkaReader, version: number): KafkaJoinGroupRequest {
  const v = reader(r, version, JOIN_FLEXIBLE);
  const groupId = v.string('group_id');
  const sessionTimeoutMs = r.int32('session_timeout_ms');
  // v0 has no rebalance timeout: the session timeout bounds the rebalance, as in Kafka.
  const rebalanceTimeoutMs = version >= 1 ? r.int32('rebalance_timeout_ms') : sessionTimeoutMs;
  const memberId = v.string('member_id');
  const groupInstanceId = version >= 5 ? v.nullableString('group_instance_id') : null;
  const protocolType = v.string('protocol_type');
  const protocols = v.array(() => {
    const protocol = { name: v.string('protocol name'), metadata: v.bytes('protocol metadata') };
    v.tags();
    return protocol;
  }, 'protocols', 3);
  const reason = version >= 8 ? v.nullableString('reason') : null;
  v.end('JoinGroup');
  return { groupId, sessionTimeoutMs, rebalanceTimeoutMs, memberId, groupInstanceId, protocolType, protocols, reason };
}

export interface KafkaJoinGroupResponse {
  errorCode: number;
  generationId: number;
  /** v7+ (null on errors). */
  protocolType: string | null;
  /** Null (v7+) or empty (before) when no protocol was chosen. */
  protocolName: string | null;
  leader: string;
  memberId: string;
  members: ReadonlyArray<{ memberId: string; groupInstanceId?: string; metadata: Uint8Array }>;
}

/** v2 throttle; v5 members' instance ids; v6 flexible; v7 protocol type, nullable protocol name; v9 skip_assignment (always false: the leader assigns). */
export function encodeJoinGroup(w: KafkaWriter, version: number, j: KafkaJoinGroupResponse): void {
  const v = writer(w, version, JOIN_FLEXIBLE);
  throttleFrom(w, version, 2);
  w.int16(j.errorCode).int32(j.generationId);
  if (version >= 7) v.string(j.protocolType).string(j.protocolName);
  else v.string(j.protocolName ?? '');
  v.string(j.leader);
  if (version >= 9) w.boolean(false);
  v.string(j.memberId).array(j.members, (m) => {
    v.string(m.memberId);
    if (version >= 5) v.string(m.groupInstanceId ?? null);
    v.bytes(m.metadata).tags();
  });
  v.tags();
}

export interface KafkaSyncGroupRequest {
  groupId: string;
  generationId: number;
  memberId: string;
  /** v3+ */
  groupInstanceId: string | null;
  /** v5+: what the member joined with, checked against the group's (null: not said). */
  protocolType: string | null;
  protocolName: string | null;
  assignments: Array<{ memberId: string; assignment: Buffer }>;
}

/** v3 group instance id; v4 flexible; v5 protocol type and name. */
export function decodeSyncGroup(r: KafkaReader, version: number): KafkaSyncGroupRequest {
  const v = reader(r, version, SYNC_FLEXIBLE);
  const groupId = v.string('group_id');
  const generationId = r.int32('generation_id');
  const memberId = v.string('member_id');
  const groupInstanceId = version >= 3 ? v.nullableString('group_instance_id') : null;
  const protocolType = version >= 5 ? v.nullableString('protocol_type') : null;
  const protocolName = version >= 5 ? v.nullableString('protocol_name') : null;
  const assignments = v.array(() => {
    const a = { memberId: v.string('member_id'), assignment: v.bytes('assignment') };
    v.tags();
    return a;
  }, 'assignments', 3);
  v.end('SyncGroup');
  return { groupId, generationId, memberId, groupInstanceId, protocolType, protocolName, assignments };
}

/** v1 throttle; v4 flexible; v5 the group's protocol type and name. */
export function encodeSyncGroup(w: KafkaWriter, version: number, s: { errorCode: number; protocolType: string | null; protocolName: string | null; assignment: Uint8Array }): void {
  const v = writer(w, version, SYNC_FLEXIBLE);
  throttleFrom(w, version, 1);
  w.int16(s.errorCode);
  if (version >= 5) v.string(s.protocolType).string(s.protocolName);
  v.bytes(s.assignment).tags();
}

export interface KafkaHeartbeatRequest {
  groupId: string;
  generationId: number;
  memberId: string;
  /** v3+ */
  groupInstanceId: string | null;
}

/** v3 group instance id; v4 flexible. */
export function decodeHeartbeat(r: KafkaReader, version: number): KafkaHeartbeatRequest {
  const v = reader(r, version, HEARTBEAT_FLEXIBLE);
  const request = { groupId: v.string('group_id'), generationId: r.int32('generation_id'), memberId: v.string('member_id'), groupInstanceId: version >= 3 ? v.nullableString('group_instance_id') : null };
  v.end('Heartbeat');
  return request;
}

/** An error code alone (throttle time from v1; flexible from v4). */
export function encodeHeartbeat(w: KafkaWriter, version: number, errorCode: number): void {
  throttleFrom(w, version, 1);
  w.int16(errorCode);
  writer(w, version, HEARTBEAT_FLEXIBLE).tags();
}

export interface KafkaLeaveGroupRequest {
  groupId: string;
  /** One member (v0-2, no instance id), or a batch (v3+). */
  members: Array<{ memberId: string; groupInstanceId: string | null; reason: string | null }>;
}

/** v0-2 one member id; v3 a batch of members with instance ids; v4 flexible; v5 a reason per member. */
export function decodeLeaveGroup(r: KafkaReader, version: number): KafkaLeaveGroupRequest {
  const v = reader(r, version, LEAVE_FLEXIBLE);
  const groupId = v.string('group_id');
  const members =
    version >= 3
      ? v.array(() => {
          const m = { memberId: v.string('member_id'), groupInstanceId: v.nullableString('group_instance_id'), reason: version >= 5 ? v.nullableString('reason') : null };
          v.tags();
          return m;
        }, 'members', 3)
      : [{ memberId: v.string('member_id'), groupInstanceId: null, reason: null }];
  v.end('LeaveGroup');
  return { groupId, members };
}

/** v1 throttle; v3 each member's outcome (the top-level error is the group's own); v4 flexible. */
export function encodeLeaveGroup(w: KafkaWriter, version: number, errorCode: number, members: ReadonlyArray<{ memberId: string; groupInstanceId: string | null; errorCode: number }>): void {
  const v = writer(w, version, LEAVE_FLEXIBLE);
  throttleFrom(w, version, 1);
  w.int16(errorCode);
  if (version >= 3) {
    v.array(members, (m) => {
      v.string(m.memberId).string(m.groupInstanceId);
      w.int16(m.errorCode);
      v.tags();
    });
  }
  v.tags();
}

export interface KafkaOffsetCommitRequest {
  groupId: string;
  generationId: number;
  memberId: string;
  /** v7+ */
  groupInstanceId: string | null;
  topics: Array<{ name: string; partitions: Array<{ partition: number; offset: bigint; metadata: string | null }> }>;
}

/**
 * v2-4 retention time (ignored: offsets expire by the broker's retention, as from v5); v6 each
 * partition's committed leader epoch (read, not stored: one broker has no epochs to fence);
 * v7 group instance id; v8 flexible.
 */
export function decodeOffsetCommit(r: KafkaReader, version: number): KafkaOffsetCommitRequest {
  const v = reader(r, version, COMMIT_FLEXIBLE);
  const groupId = v.string('group_id');
  const generationId = r.int32('generation_id');
  const memberId = v.string('member_id');
  const groupInstanceId = version >= 7 ? v.nullableString('group_instance_id') : null;
  if (version <= 4) r.int64('retention_time_ms');
  const topics = v.array(() => {
    const name = v.string('topic');
    const partitions = v.array(() => {
      const partition = r.int32('partition');
      const offset = r.int64('committed_offset');
      if (version >= 6) r.int32('committed_leader_epoch');
      const p = { partition, offset, metadata: v.nullableString('committed_metadata') };
      v.tags();
      return p;
    }, 'partitions', 14);
    v.tags();
    return { name, partitions };
  }, 'topics', 3);
  v.end('OffsetCommit');
  return { groupId, generationId, memberId, groupInstanceId, topics };
}

type PartitionErrors = ReadonlyArray<{ name: string; partitions: ReadonlyArray<{ partition: number; errorCode: number }> }>;

/** v3 throttle; v8 flexible. */
export function encodeOffsetCommit(w: KafkaWriter, version: number, topics: PartitionErrors): void {
  const v = writer(w, version, COMMIT_FLEXIBLE);
  throttleFrom(w, version, 3);
  v.array(topics, (t) => {
    v.string(t.name).array(t.partitions, (p) => {
      w.int32(p.partition).int16(p.errorCode);
      v.tags();
    });
    v.tags();
  });
  v.tags();
}

export interface KafkaOffsetFetchGroup {
  groupId: string;
  /** null (v2+): every partition the group has committed. */
  topics: Array<{ name: string; partitions: number[] }> | null;
}

export interface KafkaOffsetFetchRequest {
  /** One group before v8; several from v8, each with its own topics. */
  groups: KafkaOffsetFetchGroup[];
  /** v7+: answer UNSTABLE_OFFSET_COMMIT while transactional commits are pending (there are none here: always stable). */
  requireStable: boolean;
}

/** v2 null topics = all; v6 flexible; v7 require_stable; v8 several groups. */
export function decodeOffsetFetch(r: KafkaReader, version: number): KafkaOffsetFetchRequest {
  const v = reader(r, version, FETCH_FLEXIBLE);
  const topic = () => {
    const t = { name: v.string('topic'), partitions: v.array(() => r.int32('partition'), 'partitions', 4) };
    v.tags();
    return t;
  };
  // Null means "all" from v2; before that the layout has no null, and one is malformed.
  const topics = () => (version >= 2 ? v.nullableArray(topic, 'topics', 3) : v.array(topic, 'topics', 6));
  let groups: KafkaOffsetFetchGroup[];
  if (version >= 8) {
    groups = v.array(() => {
      const g = { groupId: v.string('group_id'), topics: topics() };
      v.tags();
      return g;
    }, 'groups', 3);
  } else groups = [{ groupId: v.string('group_id'), topics: topics() }];
  const requireStable = version >= 7 ? r.boolean('require_stable') : false;
  v.end('OffsetFetch');
  return { groups, requireStable };
}

export interface KafkaOffsetFetchPartition {
  partition: number;
  offset: bigint;
  metadata: string | null;
  errorCode: number;
}

export interface KafkaOffsetFetchAnswer {
  groupId: string;
  topics: ReadonlyArray<{ name: string; partitions: readonly KafkaOffsetFetchPartition[] }>;
  errorCode: number;
}

/**
 * v1: per-partition errors only; v2+: the group's error last; v3+: throttle time first; v5: each
 * partition's committed leader epoch (-1: not known, Sluice stores none); v6 flexible; v8 one
 * answer per group.
 */
export function encodeOffsetFetch(w: KafkaWriter, version: number, groups: readonly KafkaOffsetFetchAnswer[]): void {
  const v = writer(w, version, FETCH_FLEXIBLE);
  throttleFrom(w, version, 3);
  const topics = (g: KafkaOffsetFetchAnswer) =>
    v.array(g.topics, (t) =>
      v
        .string(t.name)
        .array(t.partitions, (p) => {
          w.int32(p.partition).int64(p.offset);
          if (version >= 5) w.int32(-1);
          v.string(p.metadata);
          w.int16(p.errorCode);
          v.tags();
        })
        .tags(),
    );
  if (version >= 8) {
    v.array(groups, (g) => {
      v.string(g.groupId);
      topics(g);
      w.int16(g.errorCode);
      v.tags();
    });
  } else {
    topics(groups[0]!);
    if (version >= 2) w.int16(groups[0]!.errorCode);
  }
  v.tags();
}

export interface KafkaListGroupsRequest {
  /** v4+: only groups in these states (empty: all). */
  statesFilter: string[];
  /** v5+: only groups of these types (empty: all; every group here is "classic"). */
  typesFilter: string[];
}

/** v3 flexible; v4 states filter; v5 types filter. */
export function decodeListGroups(r: KafkaReader, version: number): KafkaListGroupsRequest {
  const v = reader(r, version, LIST_FLEXIBLE);
  const statesFilter = version >= 4 ? v.array(() => v.string('state'), 'states_filter', 1) : [];
  const typesFilter = version >= 5 ? v.array(() => v.string('type'), 'types_filter', 1) : [];
  v.end('ListGroups');
  return { statesFilter, typesFilter };
}

/** v1 throttle; v3 flexible; v4 each group's state; v5 its type. */
export function encodeListGroups(w: KafkaWriter, version: number, groups: ReadonlyArray<{ groupId: string; protocolType: string; state: string; type: string }>): void {
  const v = writer(w, version, LIST_FLEXIBLE);
  throttleFrom(w, version, 1);
  w.int16(0);
  v.array(groups, (g) => {
    v.string(g.groupId).string(g.protocolType);
    if (version >= 4) v.string(g.state);
    if (version >= 5) v.string(g.type);
    v.tags();
  });
  v.tags();
}

/** v3 include_authorized_operations; v5 flexible. */
export function decodeDescribeGroups(r: KafkaReader, version: number): { groups: string[]; includeAuthorizedOperations: boolean } {
  const v = reader(r, version, DESCRIBE_FLEXIBLE);
  const groups = v.array(() => v.string('group id'), 'groups', 1);
  const includeAuthorizedOperations = version >= 3 ? r.boolean('include_authorized_operations') : false;
  v.end('DescribeGroups');
  return { groups, includeAuthorizedOperations };
}

export interface KafkaDescribedGroup {
  errorCode: number;
  groupId: string;
  state: string;
  protocolType: string;
  protocol: string;
  members: ReadonlyArray<{ memberId: string; groupInstanceId?: string; clientId: string; clientHost: string; metadata: Uint8Array; assignment: Uint8Array }>;
  /** v3+: a bit per ACL operation the principal may do on the group; -2^31 when not asked. */
  authorizedOperations: number;
}

/** v1 throttle; v3 authorized operations; v4 members' instance ids; v5 flexible. */
export function encodeDescribeGroups(w: KafkaWriter, version: number, groups: readonly KafkaDescribedGroup[]): void {
  const v = writer(w, version, DESCRIBE_FLEXIBLE);
  throttleFrom(w, version, 1);
  v.array(groups, (g) => {
    w.int16(g.errorCode);
    v.string(g.groupId).string(g.state).string(g.protocolType).string(g.protocol);
    v.array(g.members, (m) => {
      v.string(m.memberId);
      if (version >= 4) v.string(m.groupInstanceId ?? null);
      v.string(m.clientId).string(m.clientHost).bytes(m.metadata).bytes(m.assignment).tags();
    });
    if (version >= 3) w.int32(g.authorizedOperations);
    v.tags();
  });
  v.tags();
}

export function decodeDeleteGroups(r: KafkaReader, version: number): string[] {
  const v = new VersionedReader(r, version >= 2);
  const groups = v.array(() => v.string('group id'), 'groups_names', 1);
  v.end('DeleteGroups');
  return groups;
}

/** v2 flexible. */
export function encodeDeleteGroups(w: KafkaWriter, version: number, results: ReadonlyArray<{ groupId: string; errorCode: number }>): void {
  const v = new VersionedWriter(w, version >= 2);
  w.int32(0);
  v.array(results, (g) => {
    v.string(g.groupId);
    w.int16(g.errorCode);
    v.tags();
  }).tags();
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
