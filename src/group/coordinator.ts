// The group coordinator: membership, rebalances and committed offsets for every group, in
// protocol-neutral terms (Sluice's protocol and, later, Kafka's classic protocol share it).
// Assignment is done by the group's leader member, as in Kafka: the coordinator hands the leader
// every member's subscription and relays the assignments it sends back.
//
// Time comes from an injected Scheduler: session and rebalance timeouts are scheduled on it, so
// unit tests drive every transition without sleeping.
//
// Rules that keep commits safe: a join, a leave or a missed session timeout starts a rebalance;
// every completed rebalance bumps the generation; a heartbeat, sync or commit from an unknown
// member is UNKNOWN_MEMBER_ID, from another generation ILLEGAL_GENERATION, and during a rebalance
// REBALANCE_IN_PROGRESS (except commits of the current generation while the group prepares one). A
// commit is acknowledged only once its store holds it durably (offset-store.ts: fsynced alone, on
// the in-sync replicas in a cluster).
//
// One coordinator serves the groups of one store: a single broker's every group; in a cluster the
// groups of one __consumer_offsets partition this broker leads (group-router.ts picks it).
//
// Static membership (KIP-345, Kafka's classic protocol): a member that joins with a group instance
// id keeps it across restarts. When the instance joins again without its member id (a restarted
// process) it gets a new member id that replaces the old one; if the group is Stable and the member
// offers the same strategies as before, it gets its previous assignment back at once and nobody
// else is disturbed (no rebalance, no new generation). Its predecessor is fenced: a request naming
// the instance id with the old member id is FENCED_INSTANCE_ID. A static member leaves only by its
// session timeout or a LeaveGroup naming it, never because a connection closed (nothing here
// knows connections). Sluice's own protocol has no instance ids, so none of this applies to it.

import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import type { Scheduler } from '../clock.js';
import { SluiceError } from '../errors.js';
import { Group, type GroupProtocol, type GroupState, type JoinResult, type Member } from './group.js';
import type { CommittedOffset, OffsetCommitInput, OffsetStore } from './offset-store.js';
import type { TopicPartition } from '../vocabulary.js';
import { subscribedTopics } from '../protocol/consumer-protocol.js';

export interface CoordinatorOptions {
  minSessionTimeoutMs: number;
  maxSessionTimeoutMs: number;
  /** How long a rebalance of an empty group waits for more members before it completes. */
  initialRebalanceDelayMs: number;
  /** A group without members forgets a committed offset this long after it was committed (Kafka's offsets.retention.minutes); -1: never. */
  offsetsRetentionMs: number;
}

export const DEFAULT_COORDINATOR_OPTIONS: CoordinatorOptions = {
  minSessionTimeoutMs: 1_000,
  maxSessionTimeoutMs: 30 * 60_000,
  initialRebalanceDelayMs: 0,
  offsetsRetentionMs: 7 * 24 * 60 * 60_000,
};

export interface JoinRequest {
  groupId: string;
  /** Empty for a new member; the broker assigns one. */
  memberId: string;
  clientId: string;
  clientHost: string;
  sessionTimeoutMs: number;
  rebalanceTimeoutMs: number;
  protocolType: string;
  protocols: GroupProtocol[];
  /** A static member's instance id (KIP-345); absent or null: a dynamic member. */
  groupInstanceId?: string | null;
  /**
   * KIP-394 (Kafka's JoinGroup v4+): a dynamic member joining without a member id is not added;
   * it is given one with MEMBER_ID_REQUIRED and must join again with it.
   */
  requireKnownMemberId?: boolean;
}

export interface MemberRef {
  groupId: string;
  generationId: number;
  memberId: string;
  /** Named by a static member: the instance must be held by `memberId`, or the request is fenced. */
  groupInstanceId?: string | null;
}

/** A member that leaves: by member id, or by instance id (then an empty member id matches any holder). */
export interface LeavingMember {
  memberId: string;
  groupInstanceId: string | null;
}

/** MEMBER_ID_REQUIRED (KIP-394) with the member id to join with. */
export class MemberIdRequired extends SluiceError {
  readonly memberId: string;

  constructor(memberId: string) {
    super('MEMBER_ID_REQUIRED', `join again with member id ${memberId}`);
    this.memberId = memberId;
  }
}

export interface GroupDescription {
  groupId: string;
  state: GroupState | 'Dead';
  protocolType: string | null;
  protocol: string | null;
  generationId: number;
  leaderId: string | null;
  members: Array<{ memberId: string; groupInstanceId?: string; clientId: string; clientHost: string; metadata: Buffer; assignment: Buffer }>;
  offsets: Array<TopicPartition & CommittedOffset>;
}

export type CommitOutcome = { topic: string; partition: number; error?: SluiceError };

const MAX_GROUP_ID_LENGTH = 255;

/** What the broker API asks of the groups: one coordinator alone, a router over the led partitions' coordinators in a cluster. */
export type GroupService = Pick<
  GroupCoordinator,
  'join' | 'sync' | 'heartbeat' | 'leave' | 'leaveMembers' | 'protocolOf' | 'commit' | 'deleteGroup' | 'expireOffsets' | 'deleteOffsets' | 'fetchOffsets' | 'listGroups' | 'describe' | 'stop'
>;

export class GroupCoordinator {
  readonly #store: OffsetStore;
  readonly #scheduler: Scheduler;
  readonly #options: CoordinatorOptions;
  readonly #logger: Logger;
  readonly #groups = new Map<string, Group>();
  /** When this coordinator took its groups over (start-up, or leadership of their offsets partition). */
  readonly #loadedAtMs: number;
  /** Checks that a commit names an existing partition. */
  readonly #partitionExists: (topic: string, partition: number) => boolean;

  constructor(store: OffsetStore, scheduler: Scheduler, logger: Logger, partitionExists: (topic: string, partition: number) => boolean, options: Partial<CoordinatorOptions> = {}) {
    this.#store = store;
    this.#scheduler = scheduler;
    this.#logger = logger;
    this.#partitionExists = partitionExists;
    this.#options = { ...DEFAULT_COORDINATOR_OPTIONS, ...options };
    this.#loadedAtMs = scheduler.nowMs();
  }

  /**
   * Joins a member (see the cases below). `signal`: the connection the join came on; a new dynamic
   * member whose connection closes while its join waits never learned its member id, so nothing
   * could ever leave for it: it is removed then, not a session timeout later (Kafka's clients learn
   * the id first with MEMBER_ID_REQUIRED, KIP-394; Sluice's client joins in one round trip).
   */
  join(req: JoinRequest, signal?: AbortSignal): Promise<JoinResult> {
    const { groupId } = req;
    validateGroupId(groupId);
    const { minSessionTimeoutMs: min, maxSessionTimeoutMs: max } = this.#options;
    if (req.sessionTimeoutMs < min || req.sessionTimeoutMs > max) {
      throw new SluiceError('INVALID_SESSION_TIMEOUT', `sessionTimeoutMs ${req.sessionTimeoutMs} is outside [${min}, ${max}]`);
    }
    if (req.protocols.length === 0) throw new SluiceError('INCONSISTENT_GROUP_PROTOCOL', 'a member must offer at least one assignment strategy');
    const group = this.#group(groupId);
    if (group.members.size > 0 && (group.protocolType !== req.protocolType || group.commonProtocols(req.protocols).length === 0)) {
      throw new SluiceError(
        'INCONSISTENT_GROUP_PROTOCOL',
        `group ${groupId} uses protocol type ${group.protocolType} with strategies [${group.commonProtocols().join(', ')}]; this member offers ${req.protocolType} [${req.protocols.map((p) => p.name).join(', ')}]`,
      );
    }
    const instanceId = req.groupInstanceId ?? null;
    if (instanceId !== null) return this.#joinStatic(group, req, instanceId);
    if (req.memberId === '') {
      const memberId = this.#newMemberId(req.clientId);
      if (req.requireKnownMemberId) {
        this.#addPending(group, memberId, req.sessionTimeoutMs);
        throw new MemberIdRequired(memberId);
      }
      const member = this.#addMember(group, req, memberId, null);
      const joined = this.#awaitJoin(group, member);
      if (signal) this.#removeIfAbandoned(group, member, joined, signal);
      return joined;
    }
    const cancelPending = group.pendingMembers.get(req.memberId);
    if (cancelPending) {
      cancelPending();
      group.pendingMembers.delete(req.memberId);
      return this.#awaitJoin(group, this.#addMember(group, req, req.memberId, null));
    }
    const known = group.members.get(req.memberId);
    if (!known) throw new SluiceError('UNKNOWN_MEMBER_ID', `member ${req.memberId} is not in group ${groupId}; join with an empty member id`);
    return this.#awaitJoin(group, this.#updateMember(known, req));
  }

  /**
   * A join naming a group instance id. With a member id it must be the instance's holder (else
   * FENCED_INSTANCE_ID). Without one, a new instance joins as a new member, and a known instance
   * (a restarted process) replaces its holder: in a Stable group, offering the same strategies as
   * before, it gets the holder's assignment back in the current generation, without a rebalance.
   */
  #joinStatic(group: Group, req: JoinRequest, instanceId: string): Promise<JoinResult> {
    const heldBy = group.staticMembers.get(instanceId);
    if (req.memberId !== '') {
      if (heldBy !== req.memberId) throw this.#fenced(group, instanceId, req.memberId, heldBy);
      return this.#awaitJoin(group, this.#updateMember(group.members.get(heldBy)!, req));
    }
    const memberId = this.#newMemberId(req.clientId);
    const old = heldBy === undefined ? undefined : group.members.get(heldBy);
    if (!old) return this.#awaitJoin(group, this.#addMember(group, req, memberId, instanceId));
    const sameStrategies = old.protocols.length === req.protocols.length && old.protocols.every((p, k) => p.name === req.protocols[k]!.name);
    const leaderBefore = group.leaderId;
    const member = this.#addMember(group, req, memberId, instanceId);
    member.assignment = old.assignment;
    this.#fence(group, old, memberId);
    if (group.state !== 'Stable' || !sameStrategies) return this.#awaitJoin(group, member);
    this.#startSession(group, member);
    this.#logger.info({ group: group.groupId, generation: group.generationId, instance: instanceId, member: memberId, replaced: old.memberId }, 'static member rejoined: its assignment is kept, no rebalance');
    // The leader named is the one before the replacement (as Kafka does): a rejoining leader then
    // does not take itself for the leader and compute assignments a Stable group would not relay.
    return Promise.resolve({ memberId, generationId: group.generationId, protocolName: group.protocol, leaderId: leaderBefore ?? memberId, members: [] });
  }

  /** FENCED_INSTANCE_ID when another member holds the instance; UNKNOWN_MEMBER_ID when none does (as Kafka answers). */
  #fenced(group: Group, instanceId: string, memberId: string, heldBy: string | undefined): SluiceError {
    if (heldBy === undefined) return new SluiceError('UNKNOWN_MEMBER_ID', `no member of group ${group.groupId} holds instance ${instanceId}; join with an empty member id`);
    return new SluiceError('FENCED_INSTANCE_ID', `instance ${instanceId} of group ${group.groupId} is held by member ${heldBy}, not ${memberId}`);
  }

  #newMemberId(clientId: string): string {
    return `${clientId || 'member'}-${randomUUID()}`;
  }

  #addMember(group: Group, req: JoinRequest, memberId: string, groupInstanceId: string | null): Member {
    const member: Member = {
      memberId,
      groupInstanceId,
      clientId: req.clientId,
      clientHost: req.clientHost,
      sessionTimeoutMs: req.sessionTimeoutMs,
      rebalanceTimeoutMs: Math.max(req.rebalanceTimeoutMs, req.sessionTimeoutMs),
      protocols: req.protocols,
      assignment: Buffer.alloc(0),
    };
    group.members.set(memberId, member);
    if (groupInstanceId !== null) group.staticMembers.set(groupInstanceId, memberId);
    group.protocolType ??= req.protocolType;
    return member;
  }

  #updateMember(member: Member, req: JoinRequest): Member {
    member.protocols = req.protocols;
    member.sessionTimeoutMs = req.sessionTimeoutMs;
    member.rebalanceTimeoutMs = Math.max(req.rebalanceTimeoutMs, req.sessionTimeoutMs);
    member.awaitingJoin?.reject(new SluiceError('REBALANCE_IN_PROGRESS', 'a newer join from the same member replaced this one'));
    return member;
  }

  /** Parks the member's join until the rebalance completes (starting one if none is under way). */
  #awaitJoin(group: Group, member: Member): Promise<JoinResult> {
    // A member waiting for its join is alive; its session restarts when the join is answered.
    member.cancelSession?.();
    const result = new Promise<JoinResult>((resolve, reject) => (member.awaitingJoin = { resolve, reject }));
    if (group.state === 'PreparingRebalance') this.#maybeCompleteJoin(group);
    else this.#prepareRebalance(group, `${member.memberId} joined`);
    return result;
  }

  /** Removes a new member whose join is still waiting when `signal` fires (its connection closed). */
  #removeIfAbandoned(group: Group, member: Member, joined: Promise<JoinResult>, signal: AbortSignal): void {
    const abandoned = () => {
      if (group.members.get(member.memberId) === member && member.awaitingJoin) this.#remove(group, member, 'closed its connection before its join was answered');
    };
    if (signal.aborted) return abandoned();
    signal.addEventListener('abort', abandoned, { once: true });
    const done = () => signal.removeEventListener('abort', abandoned);
    joined.then(done, done);
  }

  /** A member id given out with MEMBER_ID_REQUIRED stays valid for a session timeout. */
  #addPending(group: Group, memberId: string, sessionTimeoutMs: number): void {
    group.pendingMembers.set(
      memberId,
      this.#scheduler.schedule(sessionTimeoutMs, () => {
        group.pendingMembers.delete(memberId);
        this.#maybeCompleteJoin(group);
      }),
    );
  }

  /** The instance's new holder takes the old one's place (and leadership); the old one's parked requests are fenced. */
  #fence(group: Group, old: Member, newMemberId: string): void {
    old.cancelSession?.();
    group.members.delete(old.memberId);
    if (group.leaderId === old.memberId) group.leaderId = newMemberId;
    const err = new SluiceError('FENCED_INSTANCE_ID', `instance ${old.groupInstanceId} is now held by member ${newMemberId}`);
    old.awaitingJoin?.reject(err);
    old.awaitingSync?.reject(err);
    delete old.awaitingJoin;
    delete old.awaitingSync;
    this.#logger.info({ group: group.groupId, instance: old.groupInstanceId, member: old.memberId, by: newMemberId }, 'static member replaced');
  }

  /** The leader sends every member's assignment; the others wait for theirs. Resolves with this member's. */
  sync(ref: MemberRef, assignments: ReadonlyMap<string, Buffer> | null, expected?: { protocolType: string | null; protocolName: string | null }): Promise<Buffer> {
    const { group, member } = this.#check(ref, 'sync');
    // Kafka's SyncGroup v5 names the protocol the member joined with; a mismatch is refused.
    if ((expected?.protocolType != null && expected.protocolType !== group.protocolType) || (expected?.protocolName != null && expected.protocolName !== group.protocol)) {
      throw new SluiceError('INCONSISTENT_GROUP_PROTOCOL', `group ${ref.groupId} uses ${group.protocolType}/${group.protocol}, not ${expected.protocolType}/${expected.protocolName}`);
    }
    if (group.state === 'Stable') return Promise.resolve(member.assignment);
    // CompletingRebalance
    const result = new Promise<Buffer>((resolve, reject) => (member.awaitingSync = { resolve, reject }));
    if (member.memberId === group.leaderId && assignments) {
      for (const m of group.members.values()) m.assignment = assignments.get(m.memberId) ?? Buffer.alloc(0);
      group.state = 'Stable';
      this.#logger.info({ group: group.groupId, generation: group.generationId, members: group.members.size, protocol: group.protocol }, 'group stable');
      for (const m of group.members.values()) {
        m.awaitingSync?.resolve(m.assignment);
        delete m.awaitingSync;
      }
      void this.#persist(group);
    }
    return result;
  }

  heartbeat(ref: MemberRef): void {
    const { member } = this.#check(ref, 'heartbeat');
    this.#startSession(this.#groups.get(ref.groupId)!, member);
  }

  leave(groupId: string, memberId: string): void {
    const [error] = this.leaveMembers(groupId, [{ memberId, groupInstanceId: null }]);
    if (error) throw error;
  }

  /**
   * Removes each member (Kafka's LeaveGroup v3+ batch); one outcome per member, in order:
   * UNKNOWN_MEMBER_ID for a member (or instance) the group does not have, FENCED_INSTANCE_ID for
   * an instance held by another member id than the one named.
   */
  leaveMembers(groupId: string, leaving: readonly LeavingMember[]): Array<SluiceError | undefined> {
    validateGroupId(groupId);
    const group = this.#groups.get(groupId);
    return leaving.map(({ memberId, groupInstanceId }) => {
      const heldBy = groupInstanceId === null ? memberId : group?.staticMembers.get(groupInstanceId);
      const member = heldBy === undefined ? undefined : group?.members.get(heldBy);
      if (!group || !member) return new SluiceError('UNKNOWN_MEMBER_ID', `member ${groupInstanceId ?? memberId} is not in group ${groupId}`);
      if (groupInstanceId !== null && memberId !== '' && memberId !== heldBy) return this.#fenced(group, groupInstanceId, memberId, heldBy);
      this.#remove(group, member, 'left');
      return undefined;
    });
  }

  /** The group's protocol type and chosen strategy (null when none). */
  protocolOf(groupId: string): { protocolType: string | null; protocol: string | null } {
    const g = this.#groups.get(groupId);
    return { protocolType: g?.protocolType ?? null, protocol: g?.protocol ?? null };
  }

  /** Commits offsets for a member of the current generation, or for a group without members (generation -1). */
  async commit(ref: MemberRef, offsets: readonly OffsetCommitInput[]): Promise<CommitOutcome[]> {
    validateGroupId(ref.groupId);
    const group = this.#groups.get(ref.groupId);
    const standalone = ref.generationId === -1 && ref.memberId === '';
    if (standalone) {
      if (group && group.members.size > 0) {
        throw new SluiceError('UNKNOWN_MEMBER_ID', `group ${ref.groupId} has members; only they may commit, with their generation`);
      }
    } else {
      const { group: g, member } = this.#check(ref, 'commit');
      // A commit shows the member is alive (but does not renew a member that must rejoin).
      if (g.state !== 'PreparingRebalance') this.#startSession(g, member);
    }
    const outcomes: CommitOutcome[] = [];
    const valid: OffsetCommitInput[] = [];
    for (const o of offsets) {
      if (!this.#partitionExists(o.topic, o.partition)) {
        outcomes.push({ topic: o.topic, partition: o.partition, error: new SluiceError('UNKNOWN_TOPIC_OR_PARTITION', `${o.topic}-${o.partition} does not exist`) });
      } else {
        // Any offset is stored, as Kafka does: tools commit -2 and -1 to mean "earliest" and
        // "latest" (kafkajs's admin.resetOffsets), and consumers resolve them when they start.
        outcomes.push({ topic: o.topic, partition: o.partition });
        valid.push(o);
      }
    }
    try {
      await this.#store.commit(ref.groupId, valid, this.#scheduler.nowMs());
    } catch (err) {
      const e = err instanceof SluiceError ? err : new SluiceError('UNKNOWN_SERVER_ERROR', String(err));
      for (const o of outcomes) o.error ??= e;
    }
    return outcomes;
  }

  /**
   * Deletes a group that has no members: its committed offsets and stored generation go (as
   * Kafka's DeleteGroups). NON_EMPTY_GROUP while it has members, GROUP_ID_NOT_FOUND if unknown.
   */
  async deleteGroup(groupId: string): Promise<void> {
    validateGroupId(groupId);
    const g = this.#groups.get(groupId);
    if (g && g.members.size > 0) throw new SluiceError('NON_EMPTY_GROUP', `group ${groupId} has ${g.members.size} members; stop them first`);
    if (!g && !this.#store.group(groupId) && this.#store.offsets(groupId).length === 0) throw new SluiceError('GROUP_ID_NOT_FOUND', `group ${groupId} does not exist`);
    await this.#store.delete(groupId, null, this.#scheduler.nowMs());
    this.#groups.delete(groupId);
  }

  /**
   * Expires committed offsets of groups without members, as Kafka does since KIP-211: a group that
   * had members loses them all once it has been empty for `offsetsRetentionMs` (counted from when
   * it went empty, its stored state timestamp, however old the commits); offsets committed with
   * no group membership (a standalone consumer's, an admin's reset, or a group stored before the
   * timestamp was kept) each expire that long after their commit. A group with members keeps them
   * all; a group left with no offsets is forgotten. Returns what expired.
   */
  async expireOffsets(): Promise<Array<{ groupId: string; partitions: number }>> {
    const retention = this.#options.offsetsRetentionMs;
    if (retention < 0) return [];
    const cutoff = this.#scheduler.nowMs() - retention;
    const expired: Array<{ groupId: string; partitions: number }> = [];
    for (const groupId of this.#store.groupIds()) {
      const g = this.#groups.get(groupId);
      if (g && g.members.size > 0) continue;
      const offsets = this.#store.offsets(groupId);
      const emptySinceMs = this.#emptySinceMs(groupId);
      const old = emptySinceMs !== undefined ? (emptySinceMs < cutoff ? offsets : []) : offsets.filter((o) => o.commitTimestampMs < cutoff);
      if (old.length === 0 && offsets.length > 0) continue;
      if (old.length === offsets.length) {
        await this.#store.delete(groupId, null, this.#scheduler.nowMs());
        this.#groups.delete(groupId);
      } else await this.#store.delete(groupId, old, this.#scheduler.nowMs());
      expired.push({ groupId, partitions: old.length });
    }
    return expired;
  }
  /**
   * Since when a group without members has had none, for KIP-211's expiry; undefined for offsets
   * committed outside a membership (no stored group, or one stored before the timestamp was kept).
   * A group stored while it had members (its protocol chosen) lost them no earlier than this
   * coordinator took it over: members are not stored, so a restart or a new coordinator is not
   * the moment they left (Kafka's reloaded group stays Stable until their sessions expire).
   */
  #emptySinceMs(groupId: string): number | undefined {
    const stored = this.#store.group(groupId);
    if (!stored || stored.protocolType === '' || stored.stateTimestampMs === undefined) return undefined;
    return stored.protocol === null ? stored.stateTimestampMs : Math.max(stored.stateTimestampMs, this.#loadedAtMs);
  }


  /** Deletes committed offsets of a group without members (as Kafka's OffsetDelete). */
  /**
   * Forgets the group's committed offsets of `partitions`, as Kafka's OffsetDelete: all of them
   * while the group has no members; with members, a "consumer" group's partitions of topics no
   * member subscribes to (the others answer GROUP_SUBSCRIBED_TO_TOPIC: its members would commit
   * them again), and nothing of a group of another protocol (NON_EMPTY_GROUP, thrown). A group
   * the broker does not know is GROUP_ID_NOT_FOUND.
   */
  async deleteOffsets(groupId: string, partitions: ReadonlyArray<TopicPartition>): Promise<CommitOutcome[]> {
    validateGroupId(groupId);
    const g = this.#groups.get(groupId);
    if (!g && !this.#store.group(groupId) && this.#store.offsets(groupId).length === 0) throw new SluiceError('GROUP_ID_NOT_FOUND', `group ${groupId} does not exist`);
    let subscribed: (topic: string) => boolean = () => false;
    if (g && g.members.size > 0) {
      if (g.protocolType !== 'consumer') throw new SluiceError('NON_EMPTY_GROUP', `group ${groupId} has ${g.members.size} members; stop them first`);
      subscribed = subscriptionsOf(g);
    }
    const outcomes = partitions.map((p): CommitOutcome => (subscribed(p.topic) ? { ...p, error: new SluiceError('GROUP_SUBSCRIBED_TO_TOPIC', `group ${groupId} has members subscribed to ${p.topic}`) } : { ...p }));
    await this.#store.delete(groupId, outcomes.filter((o) => !o.error), this.#scheduler.nowMs());
    return outcomes;
  }

  /** Committed offsets of `groupId` (all of them when `partitions` is null). */
  fetchOffsets(groupId: string, partitions: ReadonlyArray<TopicPartition> | null): Array<{ topic: string; partition: number; committed: CommittedOffset | null }> {
    validateGroupId(groupId);
    if (partitions === null) return this.#store.offsets(groupId).map(({ topic, partition, ...committed }) => ({ topic, partition, committed }));
    return partitions.map(({ topic, partition }) => ({ topic, partition, committed: this.#store.offset(groupId, topic, partition) ?? null }));
  }

  listGroups(): Array<{ groupId: string; protocolType: string | null; state: GroupState }> {
    const ids = new Set([...this.#groups.keys(), ...this.#store.groupIds()]);
    return [...ids].sort().map((groupId) => {
      const g = this.#groups.get(groupId);
      return { groupId, protocolType: g?.protocolType ?? this.#store.group(groupId)?.protocolType ?? null, state: g?.state ?? 'Empty' };
    });
  }

  describe(groupId: string): GroupDescription {
    const g = this.#groups.get(groupId);
    const stored = this.#store.group(groupId);
    const offsets = this.#store.offsets(groupId);
    const known = g !== undefined || stored !== undefined || offsets.length > 0;
    return {
      groupId,
      state: g?.state ?? (known ? 'Empty' : 'Dead'),
      protocolType: g?.protocolType ?? stored?.protocolType ?? null,
      protocol: g?.protocol ?? null,
      generationId: g?.generationId ?? stored?.generationId ?? 0,
      leaderId: g?.leaderId ?? null,
      members: [...(g?.members.values() ?? [])].map((m) => ({
        memberId: m.memberId,
        ...(m.groupInstanceId !== null && { groupInstanceId: m.groupInstanceId }),
        clientId: m.clientId,
        clientHost: m.clientHost,
        metadata: m.protocols.find((p) => p.name === g!.protocol)?.metadata ?? Buffer.alloc(0),
        assignment: m.assignment,
      })),
      offsets,
    };
  }

  /**
   * Cancels every timer and fails every parked request with `error`: the broker is stopping, or (in
   * a cluster) it no longer leads the groups' partition and its members must find the new coordinator.
   */
  stop(error = new SluiceError('COORDINATOR_NOT_AVAILABLE', 'the broker is stopping')): void {
    for (const group of this.#groups.values()) {
      group.cancelRebalance?.();
      for (const cancel of group.pendingMembers.values()) cancel();
      group.pendingMembers.clear();
      for (const m of group.members.values()) {
        m.cancelSession?.();
        m.awaitingJoin?.reject(error);
        m.awaitingSync?.reject(error);
        delete m.awaitingJoin;
        delete m.awaitingSync;
      }
    }
  }

  #group(groupId: string): Group {
    let group = this.#groups.get(groupId);
    if (!group) {
      const stored = this.#store.group(groupId);
      group = new Group(groupId, stored?.generationId ?? 0);
      group.protocolType = stored?.protocolType ?? null;
      this.#groups.set(groupId, group);
    }
    return group;
  }

  /**
   * The member, if it may act in `ref.generationId` now. Heartbeats and syncs are refused while
   * the group prepares a rebalance (that is how members learn of it); commits are not, so members
   * can save their progress before they rejoin (as in Kafka). Nothing but syncs and heartbeats is
   * accepted while the group waits for its leader's assignment.
   */
  #check(ref: MemberRef, action: 'sync' | 'heartbeat' | 'commit'): { group: Group; member: Member } {
    validateGroupId(ref.groupId);
    const group = this.#groups.get(ref.groupId);
    const instanceId = ref.groupInstanceId ?? null;
    if (group && instanceId !== null) {
      const heldBy = group.staticMembers.get(instanceId);
      if (heldBy !== ref.memberId) throw this.#fenced(group, instanceId, ref.memberId, heldBy);
    }
    const member = group?.members.get(ref.memberId);
    if (!group || !member) throw new SluiceError('UNKNOWN_MEMBER_ID', `member ${ref.memberId} is not in group ${ref.groupId}`);
    if (group.state === 'PreparingRebalance' && action !== 'commit') throw new SluiceError('REBALANCE_IN_PROGRESS', `group ${ref.groupId} is rebalancing`);
    if (ref.generationId !== group.generationId) {
      throw new SluiceError('ILLEGAL_GENERATION', `generation ${ref.generationId} is not group ${ref.groupId}'s current generation ${group.generationId}`);
    }
    if (group.state === 'CompletingRebalance' && action === 'commit') throw new SluiceError('REBALANCE_IN_PROGRESS', `group ${ref.groupId} is waiting for its assignment`);
    return { group, member };
  }

  #prepareRebalance(group: Group, reason: string): void {
    group.cancelRebalance?.();
    // The first rebalance of an empty group waits out the initial delay so that members starting
    // together land in one generation; any other completes as soon as every member has rejoined.
    const initial = group.state === 'Empty' && this.#options.initialRebalanceDelayMs > 0;
    group.state = 'PreparingRebalance';
    group.waitFullDelay = initial;
    this.#logger.info({ group: group.groupId, generation: group.generationId, reason }, 'group rebalancing');
    for (const m of group.members.values()) {
      m.awaitingSync?.reject(new SluiceError('REBALANCE_IN_PROGRESS', `group ${group.groupId} is rebalancing`));
      delete m.awaitingSync;
    }
    const delayMs = initial ? this.#options.initialRebalanceDelayMs : group.rebalanceTimeoutMs();
    group.cancelRebalance = this.#scheduler.schedule(delayMs, () => {
      delete group.cancelRebalance;
      this.#completeJoin(group);
    });
    this.#maybeCompleteJoin(group);
  }

  #maybeCompleteJoin(group: Group): void {
    if (group.state !== 'PreparingRebalance' || group.waitFullDelay || !group.allJoined()) return;
    group.cancelRebalance?.();
    delete group.cancelRebalance;
    this.#completeJoin(group);
  }

  #completeJoin(group: Group): void {
    if (group.state !== 'PreparingRebalance') return;
    for (const m of [...group.members.values()]) {
      if (!m.awaitingJoin) {
        this.#forget(group, m);
        m.cancelSession?.();
        this.#logger.info({ group: group.groupId, member: m.memberId }, 'member removed: it did not rejoin within the rebalance timeout');
      }
    }
    group.generationId += 1;
    if (group.members.size === 0) {
      group.state = 'Empty';
      group.protocol = null;
      group.leaderId = null;
      void this.#persist(group);
      return;
    }
    group.protocol = group.commonProtocols()[0] ?? null;
    if (!group.leaderId || !group.members.has(group.leaderId)) group.leaderId = group.members.keys().next().value!;
    group.state = 'CompletingRebalance';
    const everyone = [...group.members.values()].map((m) => ({ memberId: m.memberId, ...(m.groupInstanceId !== null && { groupInstanceId: m.groupInstanceId }), metadata: m.protocols.find((p) => p.name === group.protocol)!.metadata }));
    for (const m of group.members.values()) {
      m.assignment = Buffer.alloc(0);
      const join = m.awaitingJoin!;
      delete m.awaitingJoin;
      this.#startSession(group, m);
      join.resolve({
        memberId: m.memberId,
        generationId: group.generationId,
        protocolName: group.protocol,
        leaderId: group.leaderId,
        members: m.memberId === group.leaderId ? everyone : [],
      });
    }
    this.#logger.info({ group: group.groupId, generation: group.generationId, members: group.members.size, leader: group.leaderId }, 'group joined');
  }

  #startSession(group: Group, member: Member): void {
    member.cancelSession?.();
    member.cancelSession = this.#scheduler.schedule(member.sessionTimeoutMs, () => {
      delete member.cancelSession;
      if (group.members.get(member.memberId) === member && !member.awaitingJoin) this.#remove(group, member, 'session timed out');
    });
  }

  /** Drops the member and its hold on its instance id. */
  #forget(group: Group, member: Member): void {
    group.members.delete(member.memberId);
    if (member.groupInstanceId !== null && group.staticMembers.get(member.groupInstanceId) === member.memberId) group.staticMembers.delete(member.groupInstanceId);
  }

  #remove(group: Group, member: Member, reason: string): void {
    member.cancelSession?.();
    this.#forget(group, member);
    const err = new SluiceError('UNKNOWN_MEMBER_ID', `member ${member.memberId} ${reason}`);
    member.awaitingJoin?.reject(err);
    member.awaitingSync?.reject(err);
    this.#logger.info({ group: group.groupId, member: member.memberId, reason }, 'member removed');
    if (group.state === 'PreparingRebalance') this.#maybeCompleteJoin(group);
    else this.#prepareRebalance(group, `${member.memberId} ${reason}`);
  }

  async #persist(group: Group): Promise<void> {
    try {
      const nowMs = this.#scheduler.nowMs();
      await this.#store.storeGroup(group.groupId, { protocolType: group.protocolType ?? '', generationId: group.generationId, protocol: group.protocol, stateTimestampMs: nowMs }, nowMs);
    } catch (err) {
      this.#logger.error({ err, group: group.groupId }, 'could not store group metadata');
    }
  }
}

/**
 * Whether any member of a "consumer" group subscribes to a topic, from the metadata each sent with
 * the group's protocol (or any it offered, before one is chosen). A member whose metadata is in
 * neither client's format may subscribe to anything, as Kafka assumes.
 */
function subscriptionsOf(group: Group): (topic: string) => boolean {
  const topics = new Set<string>();
  for (const m of group.members.values()) {
    for (const p of m.protocols) {
      if (group.protocol !== null && p.name !== group.protocol) continue;
      const named = subscribedTopics(p.metadata);
      if (named === null) return () => true;
      for (const topic of named) topics.add(topic);
    }
  }
  return (topic) => topics.has(topic);
}

export function validateGroupId(groupId: string): void {
  if (typeof groupId !== 'string' || groupId.length === 0 || groupId.length > MAX_GROUP_ID_LENGTH) {
    throw new SluiceError('INVALID_GROUP_ID', `group id must be 1 to ${MAX_GROUP_ID_LENGTH} characters`);
  }
}
