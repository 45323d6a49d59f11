// The broker API for consumer groups' offsets and lifecycle: where a group's coordinator is,
// commits and fetches of committed offsets with the per-topic read rule (a principal neither
// commits nor sees offsets of topics it may not read), and deleting groups and offsets (admin
// acts). Membership calls (join, sync, heartbeat, leave) pass to the coordinator as they are: they
// carry no per-topic rule. Describing a group shows committed offsets and lag under the same read
// rule as fetching them.

import { SluiceError } from '../errors.js';
import { MemberIdRequired, type CommitOutcome, type GroupDescription, type JoinRequest, type LeavingMember, type MemberRef } from '../group/coordinator.js';
import type { CommittedOffset } from '../group/offset-store.js';
import { OFFSETS_TOPIC, OFFSETS_TOPIC_CONFIG, offsetsPartitionFor } from '../group/offsets-topic.js';
import type { BrokerEndpoint, ClusterAdmin, TopicPlacement } from '../log/placement.js';
import { adminDenied, permitted, readDenied } from './authorize.js';
import type { BrokerSession } from './session.js';
import type { TopicPartition } from '../vocabulary.js';

type CommitRequest = Parameters<BrokerSession['groups']['commit']>[0];
type Offset = Parameters<BrokerSession['groups']['commit']>[1][number];

export { MemberIdRequired };

/** A partition's answer: done, or its error. */
export type PartitionOutcome = CommitOutcome;

/**
 * The broker coordinating `groupId`. Alone: null, this broker coordinates every group (each door
 * names itself as its session knows it). In a cluster: the leader of the group's __consumer_offsets
 * partition. That topic is created at the first lookup once enough brokers are alive to hold its
 * replicas, as Kafka does; until then, and while the partition has no live leader, the answer is
 * COORDINATOR_NOT_AVAILABLE, which clients retry.
 */
export async function findCoordinator(s: BrokerSession, groupId: string): Promise<BrokerEndpoint | null> {
  const admin = s.placement.admin;
  if (!admin) return null;
  const topic = s.placement.topic(OFFSETS_TOPIC) ?? (await createOffsetsTopic(s, admin));
  const index = offsetsPartitionFor(groupId, topic.partitions.length);
  const leader = topic.partitions[index]?.leader ?? -1;
  const endpoint = leader >= 0 ? s.placement.brokers().find((b) => b.nodeId === leader) : undefined;
  if (!endpoint) throw new SluiceError('COORDINATOR_NOT_AVAILABLE', `${OFFSETS_TOPIC}-${index}, which holds group ${groupId}, has no leader now; retry`);
  return endpoint;
}

async function createOffsetsTopic(s: BrokerSession, admin: ClusterAdmin): Promise<TopicPlacement> {
  const { partitions, replicationFactor } = s.offsetsTopic;
  const alive = s.placement.brokers().length;
  if (alive < replicationFactor) {
    throw new SluiceError('COORDINATOR_NOT_AVAILABLE', `${OFFSETS_TOPIC} is created once ${replicationFactor} brokers are alive to hold its replicas (--offsets-topic-replication-factor); ${alive} are`);
  }
  try {
    const created = await admin.createTopic(OFFSETS_TOPIC, partitions, replicationFactor, OFFSETS_TOPIC_CONFIG, false);
    s.logger.info({ topic: OFFSETS_TOPIC, partitions, replicationFactor }, 'created the offsets topic for the first group lookup');
    return created;
  } catch (err) {
    // Another broker created it at the same moment: its partitions are placed now or soon.
    const created = s.placement.topic(OFFSETS_TOPIC);
    if (created) return created;
    throw new SluiceError('COORDINATOR_NOT_AVAILABLE', `creating ${OFFSETS_TOPIC} failed (${(err as Error).message}); retry`);
  }
}

/** Commits offsets of the partitions the principal may read; the others answer TOPIC_AUTHORIZATION_FAILED. A refusal of the whole commit (stale generation) throws. */
export function commitOffsets(s: BrokerSession, request: CommitRequest, offsets: readonly Offset[]): Promise<PartitionOutcome[]> {
  return permitted(s, 'read', offsets, (allowed) => s.groups.commit(request, allowed), (o, error): PartitionOutcome => ({ topic: o.topic, partition: o.partition, error }));
}

export interface FetchedOffset {
  topic: string;
  partition: number;
  committed: CommittedOffset | null;
  /** TOPIC_AUTHORIZATION_FAILED: the principal may not read the topic (and sees no offset). */
  error?: SluiceError;
}

/**
 * Committed offsets of `groupId`: the named partitions, or every partition with a commit when
 * `partitions` is null, in which case topics the principal may not read are left out altogether.
 */
export function fetchOffsets(s: BrokerSession, groupId: string, partitions: ReadonlyArray<TopicPartition> | null): FetchedOffset[] {
  const fetched = s.groups.fetchOffsets(groupId, partitions).map((o): FetchedOffset => {
    const refused = readDenied(s, o.topic);
    return refused ? { topic: o.topic, partition: o.partition, committed: null, error: refused } : o;
  });
  return partitions === null ? fetched.filter((o) => !o.error) : fetched;
}

/** Deleting a group is an admin act. One outcome per group, in order. */
export async function deleteGroups(s: BrokerSession, groupIds: readonly string[]): Promise<Array<{ groupId: string; error?: SluiceError }>> {
  const refused = adminDenied(s);
  const results: Array<{ groupId: string; error?: SluiceError }> = [];
  for (const groupId of groupIds) {
    if (refused) {
      results.push({ groupId, error: refused });
      continue;
    }
    try {
      await s.groups.deleteGroup(groupId);
      results.push({ groupId });
    } catch (err) {
      if (!(err instanceof SluiceError)) throw err;
      results.push({ groupId, error: err });
    }
  }
  return results;
}

/**
 * An admin act too: throws the refusal, GROUP_ID_NOT_FOUND, or NON_EMPTY_GROUP for a group of
 * another protocol than "consumer" that has members; else one outcome per partition, in order
 * (GROUP_SUBSCRIBED_TO_TOPIC where a member subscribes to its topic).
 */
export async function deleteOffsets(s: BrokerSession, groupId: string, partitions: ReadonlyArray<TopicPartition>): Promise<PartitionOutcome[]> {
  const refused = adminDenied(s);
  if (refused) throw refused;
  return s.groups.deleteOffsets(groupId, partitions);
}

/**
 * Joins (or rejoins) a member; may be held until the rebalance completes. MEMBER_ID_REQUIRED carries
 * the id to join with. A new member whose connection closes while it waits is removed at once.
 */
export function joinGroup(s: BrokerSession, request: Omit<JoinRequest, 'clientHost'>) {
  return s.groups.join({ ...request, clientHost: s.clientHost }, s.signal);
}

/** The member's assignment once the leader has sent everyone's (only the leader's `assignments` are used). */
export function syncGroup(s: BrokerSession, ref: MemberRef, assignments: ReadonlyMap<string, Buffer> | null, expected?: { protocolType: string | null; protocolName: string | null }): Promise<Buffer> {
  return s.groups.sync(ref, assignments, expected);
}

/** The group's protocol type and chosen protocol (what a SyncGroup answer names from Kafka's v5). */
export function groupProtocol(s: BrokerSession, groupId: string): { protocolType: string | null; protocol: string | null } {
  return s.groups.protocolOf(groupId);
}

export function heartbeat(s: BrokerSession, ref: MemberRef): void {
  s.groups.heartbeat(ref);
}

/** One member leaves (throws its refusal). */
export function leaveMember(s: BrokerSession, groupId: string, memberId: string): void {
  s.groups.leave(groupId, memberId);
}

/** Members leave by member id or by instance id; one outcome per member, in order. */
export function leaveGroup(s: BrokerSession, groupId: string, members: readonly LeavingMember[]) {
  return s.groups.leaveMembers(groupId, members);
}

export function listGroups(s: BrokerSession) {
  return s.groups.listGroups();
}

/** A committed offset as a group is described: with the partition's high watermark and the lag to it (-1 where not known here). */
export interface DescribedOffset extends TopicPartition {
  offset: bigint;
  metadata: string | null;
  highWatermark: bigint;
  lag: bigint;
}

export type DescribedGroup = (Omit<GroupDescription, 'offsets'> & { offsets: DescribedOffset[]; error?: undefined }) | { groupId: string; error: SluiceError };

/**
 * A group's state, members and committed offsets with their lag, or the error that names why not
 * (not this coordinator's). Offsets of topics the principal may not read are left out, as when it
 * fetches them all.
 */
export function describeGroup(s: BrokerSession, groupId: string): DescribedGroup {
  let d: GroupDescription;
  try {
    d = s.groups.describe(groupId);
  } catch (err) {
    if (!(err instanceof SluiceError)) throw err;
    return { groupId, error: err };
  }
  const offsets = d.offsets
    .filter((o) => !readDenied(s, o.topic))
    .map((o): DescribedOffset => {
      const p = s.topics.get(o.topic)?.partitions[o.partition];
      const highWatermark = p?.highWatermark ?? -1n;
      return { topic: o.topic, partition: o.partition, offset: o.offset, metadata: o.metadata, highWatermark, lag: p && o.offset >= 0n ? highWatermark - o.offset : -1n };
    });
  return { ...d, offsets };
}
