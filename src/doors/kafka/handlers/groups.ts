// Kafka's classic group protocol and committed offsets on the same GroupCoordinator as Sluice's own
// protocol: the leader member assigns (its assignments are relayed as opaque bytes), and committed
// offsets are shared, so `sluice groups describe` shows a Kafka client's group and its lag.

import { SluiceError } from '../../../errors.js';
import { commitOffsets, deleteGroups as deleteGroupsOf, deleteOffsets, fetchOffsets } from '../../../broker/groups.js';
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
  encodeErrorOnly,
  encodeFindCoordinator,
  encodeJoinGroup,
  encodeListGroups,
  encodeOffsetCommit,
  encodeOffsetDelete,
  encodeOffsetFetch,
  encodeSyncGroup,
  type KafkaDescribedGroup,
} from '../messages/groups.js';
import type { KafkaReader } from '../../../protocol/kafka-wire.js';
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

export const findCoordinator = kafkaHandler(decodeFindCoordinator, (ctx, r, header) => {
  // One broker coordinates every group; there are no transactions to coordinate.
  const { nodeId, host, port } = ctx.broker;
  const refusal = r.keyType === 0 ? undefined : new SluiceError('INVALID_REQUEST', r.keyType === 1 ? 'transactions are not supported' : `key type ${r.keyType} is not known`);
  const coordinators = r.keys.map((key) =>
    refusal ? { key, errorCode: kafkaErrorCode(refusal), message: refusal.message, nodeId: -1, host: '', port: -1 } : { key, errorCode: 0, message: null, nodeId, host, port },
  );
  return body((w) => encodeFindCoordinator(w, header.apiVersion, coordinators));
});

export const joinGroup = kafkaHandler(decodeJoinGroup, async (ctx, r, header) => {
  const { value: joined, errorCode } = await attempt(() => ctx.groups.join({ ...r, clientId: header.clientId ?? '', clientHost: ctx.clientHost }));
  return body((w) =>
    encodeJoinGroup(w, header.apiVersion, {
      errorCode,
      generationId: joined?.generationId ?? -1,
      protocolName: joined?.protocolName ?? '',
      leader: joined?.leaderId ?? '',
      memberId: joined?.memberId ?? r.memberId,
      members: joined?.members ?? [],
    }),
  );
});

export const syncGroup = kafkaHandler(decodeSyncGroup, async (ctx, r, header) => {
  // Only the leader's assignments are used; the others send none.
  const assignments = new Map(r.assignments.map((a) => [a.memberId, a.assignment]));
  const { value, errorCode } = await attempt(() => ctx.groups.sync(r, assignments));
  return body((w) => encodeSyncGroup(w, header.apiVersion, { errorCode, assignment: value ?? EMPTY }));
});

export const heartbeat = kafkaHandler(decodeHeartbeat, async (ctx, r, header) => {
  const { errorCode } = await attempt(() => ctx.groups.heartbeat(r));
  return body((w) => encodeErrorOnly(w, header.apiVersion, errorCode));
});

export const leaveGroup = kafkaHandler(decodeLeaveGroup, async (ctx, r, header) => {
  const { errorCode } = await attempt(() => ctx.groups.leave(r.groupId, r.memberId));
  return body((w) => encodeErrorOnly(w, header.apiVersion, errorCode));
});

export const offsetCommit = kafkaHandler(decodeOffsetCommit, async (ctx, r) => {
  const offsets = flatten(r.topics, (topic, p) => ({ topic, partition: p.partition, offset: p.offset, metadata: p.metadata }));
  const { value, errorCode } = await attempt(() => commitOffsets(ctx, r, offsets));
  // A refusal of the whole commit (stale generation, unknown member) is every partition's error.
  const outcomes = value ?? offsets.map((o) => ({ topic: o.topic, partition: o.partition, error: undefined }));
  return body((w) => encodeOffsetCommit(w, byTopic(outcomes, (o) => ({ partition: o.partition, errorCode: errorCode || kafkaErrorCode(o.error) }))));
});

export const offsetFetch = kafkaHandler(decodeOffsetFetch, async (ctx, r, header) => {
  // Topics null (v2+): every partition the group committed that the principal may read.
  const partitions = r.topics === null ? null : flatten(r.topics, (topic, partition: number) => ({ topic, partition }));
  const { value, errorCode } = await attempt(() => fetchOffsets(ctx, r.groupId, partitions));
  return body((w) =>
    encodeOffsetFetch(
      w,
      header.apiVersion,
      // No commit: offset -1 and empty metadata, as Kafka answers; an unreadable topic its error.
      // A refused group (v1 has nowhere else to say it) is every asked partition's error too.
      byTopic(value ?? (partitions ?? []).map((p) => ({ ...p, committed: null, error: undefined })), (o) => ({
        partition: o.partition,
        offset: o.committed?.offset ?? -1n,
        metadata: o.committed?.metadata ?? '',
        errorCode: errorCode || kafkaErrorCode(o.error),
      })),
      errorCode,
    ),
  );
});

export const listGroups = kafkaHandler(
  (r: KafkaReader) => r.end('ListGroups'),
  (ctx, _r, header) => body((w) => encodeListGroups(w, header.apiVersion, ctx.groups.listGroups().map((g) => ({ groupId: g.groupId, protocolType: g.protocolType ?? '' })))),
);

export const describeGroups = kafkaHandler(decodeDescribeGroups, (ctx, groups, header): KafkaReply =>
  body((w) => encodeDescribeGroups(w, header.apiVersion, groups.map((g) => describeGroup(ctx, g)))),
);

function describeGroup(ctx: BrokerSession, groupId: string): KafkaDescribedGroup {
  try {
    const d = ctx.groups.describe(groupId);
    return { errorCode: 0, groupId, state: d.state, protocolType: d.protocolType ?? '', protocol: d.protocol ?? '', members: d.members };
  } catch (err) {
    if (!(err instanceof SluiceError)) throw err;
    return { errorCode: kafkaErrorCode(err), groupId, state: 'Dead', protocolType: '', protocol: '', members: [] };
  }
}

export const deleteGroups = kafkaHandler(decodeDeleteGroups, async (ctx, groupIds) => {
  const results = await deleteGroupsOf(ctx, groupIds);
  return body((w) => encodeDeleteGroups(w, results.map((g) => ({ groupId: g.groupId, errorCode: kafkaErrorCode(g.error) }))));
});

export const offsetDelete = kafkaHandler(decodeOffsetDelete, async (ctx, r) => {
  const partitions = flatten(r.topics, (topic, partition: number) => ({ topic, partition }));
  const { errorCode } = await attempt(() => deleteOffsets(ctx, r.groupId, partitions));
  // A refused group has no per-partition answers to give; a deleted one answers each with 0.
  return body((w) => encodeOffsetDelete(w, errorCode, errorCode ? [] : byTopic(partitions, (p) => ({ partition: p.partition, errorCode: 0 }))));
});
