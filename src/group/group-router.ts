// A cluster member's groups (Kafka's design): `__consumer_offsets` is a replicated topic, and the
// coordinator of a group is the leader of the partition its id maps to (offsets-topic.ts). This
// broker runs one GroupCoordinator per offsets partition it leads, over an OffsetStore replayed from
// that partition's log when leadership arrives, and routes every group request to the coordinator
// of the group's partition. A group whose partition is led elsewhere (or nowhere) answers
// NOT_COORDINATOR, which clients retry after asking FindCoordinator again.
//
// Leadership comes and goes with the partition's role (the cluster layer reports each change):
// leading at a new epoch replays the log again (what a previous epoch here knew may have changed
// elsewhere meanwhile); losing it drops the coordinator, whose parked joins and syncs fail with
// NOT_COORDINATOR, so its members rejoin at the new leader. A commit in flight then fails too: its
// append waits for the in-sync replicas as this leadership, and answers NOT_COORDINATOR without it.
//
// A follower keeps no group state: it receives the partition's records by replication.

import type { Logger } from 'pino';
import type { Scheduler } from '../clock.js';
import { SluiceError } from '../errors.js';
import type { Partition, ReplicaRole } from '../log/partition.js';
import type { TopicRegistry } from '../log/topic-registry.js';
import {
  GroupCoordinator,
  validateGroupId,
  type CommitOutcome,
  type CoordinatorOptions,
  type GroupDescription,
  type GroupService,
  type JoinRequest,
  type LeavingMember,
  type MemberRef,
} from './coordinator.js';
import type { JoinResult } from './group.js';
import { OffsetStore, type OffsetCommitInput } from './offset-store.js';
import type { TopicPartition } from '../vocabulary.js';
import { OFFSETS_TOPIC, offsetsPartitionFor } from './offsets-topic.js';

export interface GroupRouterOptions {
  topics: TopicRegistry;
  scheduler: Scheduler;
  logger: Logger;
  /** Checks that a commit names an existing partition (of the cluster's topics, wherever they are hosted). */
  partitionExists: (topic: string, partition: number) => boolean;
  coordinator: Partial<CoordinatorOptions>;
  /** Appends the broker's own batch to an offsets partition it leads; resolves once its in-sync replicas hold it. */
  append: (partition: Partition, batch: Buffer) => Promise<void>;
}

interface Led {
  partition: Partition;
  /** The leadership the coordinator was loaded under: a later role, even a leader's, is another. */
  role: ReplicaRole;
  coordinator: GroupCoordinator;
}

export class GroupRouter implements GroupService {
  readonly #o: GroupRouterOptions;
  /** By offsets partition index. */
  readonly #led = new Map<number, Led>();
  #stopped = false;

  constructor(options: GroupRouterOptions) {
    this.#o = options;
  }

  /** Offsets partitions this broker coordinates now (tests and metrics). */
  get ledPartitions(): number[] {
    return [...this.#led.keys()].sort((a, b) => a - b);
  }

  /** A partition's role changed on this broker: an offsets partition's groups are taken up or dropped. */
  roleChanged(partition: Partition): void {
    if (partition.topic !== OFFSETS_TOPIC || this.#stopped) return;
    const led = this.#led.get(partition.index);
    const role = partition.role;
    if (led && led.role === role && led.partition === partition) return;
    if (led) this.#resign(led, role?.kind === 'leader' ? `leading again at epoch ${role.epoch}` : 'leadership moved');
    if (role?.kind !== 'leader' || partition.closed) return;
    const started = performance.now();
    // The store writes only as this leadership: a coordinator dropped meanwhile (say, while it expires
    // offsets) must not append under a later one, whose own coordinator replayed the log without it.
    const store = OffsetStore.load(partition, (batch) =>
      partition.role === role ? this.#o.append(partition, batch) : Promise.reject(new SluiceError('NOT_LEADER_OR_FOLLOWER', `this broker no longer leads ${OFFSETS_TOPIC}-${partition.index} at epoch ${role.epoch}`)),
    );
    const logger = this.#o.logger.child({ offsetsPartition: partition.index });
    this.#led.set(partition.index, { partition, role, coordinator: new GroupCoordinator(store, this.#o.scheduler, logger, this.#o.partitionExists, this.#o.coordinator) });
    logger.info({ leaderEpoch: role.epoch, groups: store.groupIds().length, logEndOffset: String(partition.logEndOffset), loadMs: Math.round(performance.now() - started) }, 'coordinating the groups of this offsets partition');
  }

  join(req: JoinRequest, signal?: AbortSignal): Promise<JoinResult> {
    return this.#for(req.groupId).join(req, signal);
  }

  sync(ref: MemberRef, assignments: ReadonlyMap<string, Buffer> | null, expected?: { protocolType: string | null; protocolName: string | null }): Promise<Buffer> {
    return this.#for(ref.groupId).sync(ref, assignments, expected);
  }

  heartbeat(ref: MemberRef): void {
    this.#for(ref.groupId).heartbeat(ref);
  }

  leave(groupId: string, memberId: string): void {
    this.#for(groupId).leave(groupId, memberId);
  }

  leaveMembers(groupId: string, leaving: readonly LeavingMember[]): Array<SluiceError | undefined> {
    return this.#for(groupId).leaveMembers(groupId, leaving);
  }

  protocolOf(groupId: string): { protocolType: string | null; protocol: string | null } {
    return this.#for(groupId).protocolOf(groupId);
  }

  commit(ref: MemberRef, offsets: readonly OffsetCommitInput[]): Promise<CommitOutcome[]> {
    return this.#for(ref.groupId).commit(ref, offsets);
  }

  deleteGroup(groupId: string): Promise<void> {
    return this.#for(groupId).deleteGroup(groupId);
  }

  deleteOffsets(groupId: string, partitions: ReadonlyArray<TopicPartition>): ReturnType<GroupCoordinator['deleteOffsets']> {
    return this.#for(groupId).deleteOffsets(groupId, partitions);
  }

  fetchOffsets(groupId: string, partitions: ReadonlyArray<TopicPartition> | null): ReturnType<GroupCoordinator['fetchOffsets']> {
    return this.#for(groupId).fetchOffsets(groupId, partitions);
  }

  describe(groupId: string): GroupDescription {
    return this.#for(groupId).describe(groupId);
  }

  /** The groups of the partitions led here (as a Kafka broker lists the groups it coordinates). */
  listGroups(): ReturnType<GroupCoordinator['listGroups']> {
    return [...this.#led.values()].flatMap((l) => l.coordinator.listGroups()).sort((a, b) => (a.groupId < b.groupId ? -1 : a.groupId > b.groupId ? 1 : 0));
  }

  async expireOffsets(): Promise<Array<{ groupId: string; partitions: number }>> {
    const expired: Array<{ groupId: string; partitions: number }> = [];
    for (const led of [...this.#led.values()]) expired.push(...(await led.coordinator.expireOffsets()));
    return expired;
  }

  stop(error?: SluiceError): void {
    this.#stopped = true;
    for (const led of this.#led.values()) led.coordinator.stop(error);
    this.#led.clear();
  }

  /** The coordinator of `groupId`'s partition, if this broker leads it now; NOT_COORDINATOR otherwise. */
  #for(groupId: string): GroupCoordinator {
    validateGroupId(groupId);
    const count = this.#o.topics.get(OFFSETS_TOPIC)?.partitions.length ?? 0;
    const index = count > 0 ? offsetsPartitionFor(groupId, count) : -1;
    const led = this.#led.get(index);
    // A role that changed without a report yet (the partition closed) is not served either.
    if (!led || led.partition.role !== led.role || led.partition.closed) {
      throw new SluiceError('NOT_COORDINATOR', count > 0 ? `this broker does not lead ${OFFSETS_TOPIC}-${index}, which holds group ${groupId}: ask FindCoordinator` : `this broker coordinates no groups (it leads no ${OFFSETS_TOPIC} partition)`);
    }
    return led.coordinator;
  }

  #resign(led: Led, reason: string): void {
    this.#led.delete(led.partition.index);
    led.coordinator.stop(new SluiceError('NOT_COORDINATOR', `this broker stopped coordinating the groups of ${OFFSETS_TOPIC}-${led.partition.index} (${reason}): ask FindCoordinator`));
    this.#o.logger.info({ offsetsPartition: led.partition.index, reason }, 'no longer coordinating the groups of this offsets partition');
  }
}
