// Kafka's classic group protocol and committed offsets on the same group coordinator as Sluice's own
// protocol: the leader member assigns (its assignments are relayed as opaque bytes), and committed
// offsets are shared, so `sluice groups describe` shows a Kafka client's group and its lag. In a
// cluster, FindCoordinator names the leader of the group's __consumer_offsets partition, and
// another broker answers the group's requests NOT_COORDINATOR (16), as Kafka's do.

import { SluiceError } from '../../../errors.js';
import {
  commitOffsets,
  deleteGroups as deleteGroupsOf,
  deleteOffsets,
  describeGroup as describeGroupOf,
  fetchOffsets,
  findCoordinator as findCoordinatorOf,
  groupProtocol,
  heartbeat as heartbeatOf,
  joinGroup as joinGroupOf,
  leaveGroup as leaveGroupOf,
  listGroups as listGroupsOf,
  MemberIdRequired,
  syncGroup as syncGroupOf,
} from '../../../broker/groups.js';
import type { BrokerSession } from '../../../broker/session.js';
import { kafkaErrorCode } from '../apis.js';
import {
  decodeDeleteGroups,
  decodeDescribeGroups,
  decodeFindCoordinator,
  decodeHeartbeat,
  decodeJoinGroup,
  decodeLeaveGroup,
  decodeOffsetCommit,
  decodeOffsetDelete,
  decodeOffsetFetch,
  decodeSyncGroup,
  encodeDeleteGroups,
  encodeDescribeGroups,
  encodeHeartbeat,
  encodeLeaveGroup,
  decodeListGroups,
  encodeFindCoordinator,
  encodeJoinGroup,
  encodeListGroups,
  encodeOffsetCommit,
  encodeOffsetDelete,
  encodeOffsetFetch,
  encodeSyncGroup,
  type KafkaCoordinator,
  type KafkaDescribedGroup,
  type KafkaOffsetFetchAnswer,
  type KafkaOffsetFetchGroup,
} from '../messages/groups.js';
import { adminDenied } from '../../../broker/authorize.js';
import { body, byTopic, flatten, kafkaHandler, type KafkaReply } from './handler.js';

const EMPTY = Buffer.alloc(0);

/** The error code of a domain call that threw a SluiceError (anything else is a bug: rethrown). */
async function attempt<T>(call: () => T | Promise<T>): Promise<{ value: T; errorCode: 0 } | { value: undefined; errorCode: number }> {
  try {
    return { value: await call(), errorCode: 0 };
  } catch (err) {
    if (!(err instanceof SluiceError)) throw err;
    return { value: undefined, errorCode: kafkaErrorCode(err) };
  }
}

export const findCoordinator = kafkaHandler(decodeFindCoordinator, async (ctx, r, header) => {
  // There are no transactions to coordinate.
  const refusal = r.keyType === 0 ? undefined : new SluiceError('INVALID_REQUEST', r.keyType === 1 ? 'transactions are not supported' : `key type ${r.keyType} is not known`);
  const coordinators: KafkaCoordinator[] = [];
  // One key after another: the first lookup in a new cluster creates the offsets topic for the rest.
  for (const key of r.keys) {
    try {
      if (refusal) throw refusal;
      coordinators.push({ key, errorCode: 0, message: null, ...(await coordinatorOf(ctx, key)) });
    } catch (err) {
      if (!(err instanceof SluiceError)) throw err;
      coordinators.push({ key, errorCode: kafkaErrorCode(err), message: err.message, nodeId: -1, host: '', port: -1 });
    }
  }
  return body((w) => encodeFindCoordinator(w, header.apiVersion, coordinators));
});

/** Alone, this broker coordinates every group; in a cluster, the leader of the group's offsets partition, at its Kafka listener. */
async function coordinatorOf(ctx: BrokerSession, groupId: string): Promise<{ nodeId: number; host: string; port: number }> {
  const found = await findCoordinatorOf(ctx, groupId);
  if (!found) return { nodeId: ctx.broker.nodeId, host: ctx.broker.host, port: ctx.broker.port };
  if (found.kafkaPort === null) throw new SluiceError('COORDINATOR_NOT_AVAILABLE', `broker ${found.nodeId} coordinates group ${groupId} but has no Kafka listener`);
  return { nodeId: found.nodeId, host: found.host, port: found.kafkaPort };
}

export const joinGroup = kafkaHandler(decodeJoinGroup, async (ctx, r, header) => {
  const version = header.apiVersion;
  try {
    // From v4 a new dynamic member is first given its id (MEMBER_ID_REQUIRED, KIP-394), as Kafka does.
    const joined = await joinGroupOf(ctx, { ...r, clientId: header.clientId ?? '', requireKnownMemberId: version >= 4 });
    return body((w) =>
      encodeJoinGroup(w, version, {
        errorCode: 0,
        generationId: joined.generationId,
        protocolType: r.protocolType,
        protocolName: joined.protocolName,
        leader: joined.leaderId,
        memberId: joined.memberId,
        members: joined.members,
      }),
    );
  } catch (err) {
    if (!(err instanceof SluiceError)) throw err;
    const memberId = err instanceof MemberIdRequired ? err.memberId : r.memberId;
    return body((w) => encodeJoinGroup(w, version, { errorCode: kafkaErrorCode(err), generationId: -1, protocolType: null, protocolName: null, leader: '', memberId, members: [] }));
  }
});

export const syncGroup = kafkaHandler(decodeSyncGroup, async (ctx, r, header) => {
  // Only the leader's assignments are used; the others send none.
  const assignments = new Map(r.assignments.map((a) => [a.memberId, a.assignment]));
  const { value, errorCode } = await attempt(() => syncGroupOf(ctx, r, assignments, r));
  const { protocolType, protocol } = errorCode ? { protocolType: null, protocol: null } : groupProtocol(ctx, r.groupId);
  return body((w) => encodeSyncGroup(w, header.apiVersion, { errorCode, protocolType, protocolName: protocol, assignment: value ?? EMPTY }));
});

export const heartbeat = kafkaHandler(decodeHeartbeat, async (ctx, r, header) => {
  const { errorCode } = await attempt(() => heartbeatOf(ctx, r));
  return body((w) => encodeHeartbeat(w, header.apiVersion, errorCode));
});

export const leaveGroup = kafkaHandler(decodeLeaveGroup, async (ctx, r, header) => {
  const { value: outcomes, errorCode } = await attempt(() => leaveGroupOf(ctx, r.groupId, r.members));
  // v0-2 name one member and have one error code for it; v3+ answer per member, the top-level error being the group's own.
  const members = r.members.map((m, k) => ({ memberId: m.memberId, groupInstanceId: m.groupInstanceId, errorCode: errorCode || kafkaErrorCode(outcomes?.[k]) }));
  const topLevel = header.apiVersion >= 3 ? errorCode : members[0]!.errorCode;
  return body((w) => encodeLeaveGroup(w, header.apiVersion, topLevel, members));
});

export const offsetCommit = kafkaHandler(decodeOffsetCommit, async (ctx, r, header) => {
  const offsets = flatten(r.topics, (topic, p) => ({ topic, partition: p.partition, offset: p.offset, metadata: p.metadata }));
  const { value, errorCode } = await attempt(() => commitOffsets(ctx, r, offsets));
  // A refusal of the whole commit (stale generation, unknown or fenced member) is every partition's error.
  const outcomes = value ?? offsets.map((o) => ({ topic: o.topic, partition: o.partition, error: undefined }));
  return body((w) => encodeOffsetCommit(w, header.apiVersion, byTopic(outcomes, (o) => ({ partition: o.partition, errorCode: errorCode || kafkaErrorCode(o.error) }))));
});

export const offsetFetch = kafkaHandler(decodeOffsetFetch, async (ctx, r, header) => {
  const answers = await Promise.all(r.groups.map((g) => fetchGroupOffsets(ctx, g)));
  return body((w) => encodeOffsetFetch(w, header.apiVersion, answers));
});

/** One group's committed offsets: the partitions named, or (topics null, v2+) every partition it committed that the principal may read. */
async function fetchGroupOffsets(ctx: BrokerSession, g: KafkaOffsetFetchGroup): Promise<KafkaOffsetFetchAnswer> {
  const partitions = g.topics === null ? null : flatten(g.topics, (topic, partition: number) => ({ topic, partition }));
  const { value, errorCode } = await attempt(() => fetchOffsets(ctx, g.groupId, partitions));
  // No commit: offset -1 and empty metadata, as Kafka answers; an unreadable topic its error.
  // A refused group (v1 has nowhere else to say it) is every asked partition's error too.
  const topics = byTopic(value ?? (partitions ?? []).map((p) => ({ ...p, committed: null, error: undefined })), (o) => ({
    partition: o.partition,
    offset: o.committed?.offset ?? -1n,
    metadata: o.committed?.metadata ?? '',
    errorCode: errorCode || kafkaErrorCode(o.error),
  }));
  return { groupId: g.groupId, topics, errorCode };
}

/** Every group here speaks Kafka's classic protocol (KIP-848's "consumer" groups are not served). */
const CLASSIC = 'classic';

export const listGroups = kafkaHandler(decodeListGroups, (ctx, r, header) => {
  // Kafka matches states and types without regard to case.
  const states = new Set(r.statesFilter.map((s) => s.toLowerCase()));
  const types = new Set(r.typesFilter.map((s) => s.toLowerCase()));
  const groups = listGroupsOf(ctx)
    .filter((g) => (states.size === 0 || states.has(g.state.toLowerCase())) && (types.size === 0 || types.has(CLASSIC)))
    .map((g) => ({ groupId: g.groupId, protocolType: g.protocolType ?? '', state: g.state, type: CLASSIC }));
  return body((w) => encodeListGroups(w, header.apiVersion, groups));
});

export const describeGroups = kafkaHandler(decodeDescribeGroups, (ctx, r, header): KafkaReply => {
  const authorizedOperations = r.includeAuthorizedOperations ? groupOperations(ctx) : -0x8000_0000;
  return body((w) => encodeDescribeGroups(w, header.apiVersion, r.groups.map((g) => describeGroup(ctx, g, authorizedOperations))));
});

/**
 * Kafka's ACL operations (AclOperation codes) a principal may do on a group: Sluice has no group
 * ACLs, so anyone may READ (join, commit) and DESCRIBE; DELETE is an admin act.
 */
function groupOperations(ctx: BrokerSession): number {
  const [READ, DELETE, DESCRIBE] = [3, 6, 8];
  return (1 << READ) | (1 << DESCRIBE) | (adminDenied(ctx) ? 0 : 1 << DELETE);
}

function describeGroup(ctx: BrokerSession, groupId: string, authorizedOperations: number): KafkaDescribedGroup {
  const d = describeGroupOf(ctx, groupId);
  if (d.error) return { errorCode: kafkaErrorCode(d.error), groupId, state: 'Dead', protocolType: '', protocol: '', members: [], authorizedOperations };
  return { errorCode: 0, groupId, state: d.state, protocolType: d.protocolType ?? '', protocol: d.protocol ?? '', members: d.members, authorizedOperations };
}

export const deleteGroups = kafkaHandler(decodeDeleteGroups, async (ctx, groupIds, header) => {
  const results = await deleteGroupsOf(ctx, groupIds);
  return body((w) => encodeDeleteGroups(w, header.apiVersion, results.map((g) => ({ groupId: g.groupId, errorCode: kafkaErrorCode(g.error) }))));
});

export const offsetDelete = kafkaHandler(decodeOffsetDelete, async (ctx, r) => {
  const partitions = flatten(r.topics, (topic, partition: number) => ({ topic, partition }));
  const { value: outcomes, errorCode } = await attempt(() => deleteOffsets(ctx, r.groupId, partitions));
  // A refused group has no per-partition answers to give; otherwise each partition its own.
  return body((w) => encodeOffsetDelete(w, errorCode, outcomes ? byTopic(outcomes, (o) => ({ partition: o.partition, errorCode: kafkaErrorCode(o.error) })) : []));
});
