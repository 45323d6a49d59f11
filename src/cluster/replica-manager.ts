// Makes this broker's partitions what the cluster view says they are (Kafka's ReplicaManager):
// for every partition record that names this broker a replica, the topic is adopted into the local
// registry (with the cluster's id and settings), the partition's log is opened, and it becomes
// the leader at the record's epoch or a follower of the record's leader, fetching from it
// (replica-fetcher.ts, one fetcher per leader broker). Topics the cluster no longer has are deleted here.
//
// As a leader it also keeps the ISR honest: on a timer it asks each led partition which ISR it
// wants (replication.ts: laggards out, caught-up replicas back in) and writes a change to the store
// by compare-and-swap on the record it read, conditioned on still leading at the same epoch. A
// refused write means the record changed (a new leader, or the controller's ISR change): the view
// brings the new record and the next pass starts from it.
//
// Changes are applied one at a time, in view order; a failure (a full disk) is logged and retried
// at the next change or tick.

import type { Logger } from 'pino';
import type { Clock } from '../clock.js';
import type { Partition } from '../log/partition.js';
import { sameMembers } from '../log/replication.js';
import type { TopicRegistry } from '../log/topic-registry.js';
import type { EtcdStore } from './etcd-store.js';
import { encodeRecord, KEYS, type PartitionRecord, type TopicRecord } from './records.js';
import { ReplicaFetcher } from './replica-fetcher.js';
import { SerialPass } from './serial-pass.js';
import type { ClusterView } from './view.js';

export interface ReplicaManagerOptions {
  nodeId: number;
  store: EtcdStore;
  view: ClusterView;
  topics: TopicRegistry;
  clock: Clock;
  logger: Logger;
  replicaLagTimeMaxMs: number;
  /** The broker default for topics that do not set min.insync.replicas. */
  minInsyncReplicas: number;
  fetchMaxWaitMs?: number;
  /** Followers authenticate with this at their leaders (brokers run with --auth-file). */
  token?: string;
  /**
   * Hears of each role this broker takes for a partition (leader at a new epoch, follower), after
   * it took it: the broker's groups follow their __consumer_offsets partitions' leadership so.
   */
  onRoleChange?: (partition: Partition) => void;
}

export class ReplicaManager {
  readonly #o: ReplicaManagerOptions;
  readonly #fetchers = new Map<number, ReplicaFetcher>();
  /** Which fetcher follows each partition now. */
  readonly #following = new Map<Partition, ReplicaFetcher>();
  readonly #passes: SerialPass;
  #isrTimer: NodeJS.Timeout | undefined;
  readonly #isrWrites = new Set<Partition>();
  readonly #unsubscribe: () => void;

  constructor(options: ReplicaManagerOptions) {
    this.#o = options;
    this.#passes = new SerialPass(() => this.#apply(), {
      onError: (err) => options.logger.error({ err: (err as Error).message }, 'applying the cluster view failed; retrying at the next change'),
    });
    this.#unsubscribe = options.view.onChange(() => this.#passes.kick());
  }

  start(): void {
    this.#passes.kick();
    const everyMs = Math.max(50, Math.min(500, Math.floor(this.#o.replicaLagTimeMaxMs / 4)));
    this.#isrTimer = setInterval(() => this.#checkIsrs(), everyMs);
    this.#isrTimer.unref();
  }

  /** Applies the view now (resolves once the pass that includes every change so far is done). */
  async settle(): Promise<void> {
    this.#passes.kick();
    await this.#passes.settled();
  }

  async stop(): Promise<void> {
    this.#unsubscribe();
    clearInterval(this.#isrTimer);
    await this.#passes.stop();
    await Promise.all([...this.#fetchers.values()].map((f) => f.stop()));
    this.#fetchers.clear();
  }

  async #apply(): Promise<void> {
    const { view, topics, nodeId, logger } = this.#o;
    // Topics gone from the cluster go here too (not internal ones the broker keeps for itself).
    for (const local of topics.list()) {
      const t = view.topics.get(local.name);
      if ((!t || t.value.id !== local.id) && !topics.isInternal(local.name)) {
        for (const p of local.partitions) if (p) this.#unfollow(p);
        if (!t) {
          await topics.delete(local.name).catch((err: Error) => logger.warn({ topic: local.name, err: err.message }, 'could not delete a topic the cluster deleted'));
        }
      }
    }
    for (const [name, t] of view.topics) {
      const records = view.topicPartitions(name);
      const mine = records.flatMap((r, index) => (r && r.value.replicas.includes(nodeId) ? [{ index, record: r.value }] : []));
      if (mine.length === 0 && !topics.get(name)) continue;
      await topics.adopt({ name, id: t.value.id, partitions: t.value.partitions, config: localConfig(t.value), createdAtMs: t.value.createdAtMs });
      for (const { index, record } of mine) {
        const p = await topics.host(name, index);
        await this.#applyRecord(p, record, t.value);
      }
    }
  }

  async #applyRecord(p: Partition, record: PartitionRecord, topic: TopicRecord): Promise<void> {
    const { nodeId, clock } = this.#o;
    const role = p.role;
    if (record.leader === nodeId) {
      if (role?.kind === 'leader' && role.epoch === record.leaderEpoch) {
        // Same leadership: the controller may have changed the ISR (a dead follower dropped).
        if (!sameMembers(role.replication.isr, record.isr) && !role.replication.proposedIsr) {
          role.replication.committed(record.isr);
          if (role.replication.advanceHighWatermark(p.logEndOffset)) p.highWatermarkMoved();
        }
        return;
      }
      if (role?.kind === 'leader' && role.epoch > record.leaderEpoch) return;
      this.#unfollow(p);
      // A truncation the follower started must not finish under the new leadership (passes run one at a time: nothing else changes the role meanwhile).
      await p.truncationsSettled();
      p.becomeLeader({ nodeId, replicas: record.replicas, isr: record.isr, nowMs: clock.nowMs() }, record.leaderEpoch, minInsync(topic, this.#o.minInsyncReplicas));
      this.#o.logger.info({ partition: `${p.topic}-${p.index}`, leaderEpoch: record.leaderEpoch, isr: record.isr, logEndOffset: String(p.logEndOffset) }, 'leading');
      this.#roleChanged(p);
      return;
    }
    if (record.leader < 0) {
      // No leader: stop copying from the old one; nothing to follow until an election.
      this.#unfollow(p);
      if (role?.kind === 'leader') {
        p.becomeFollower(record.leaderEpoch, -1);
        this.#roleChanged(p);
      }
      return;
    }
    if (role?.kind === 'follower' && role.epoch === record.leaderEpoch && role.leaderId === record.leader && this.#following.get(p)?.leaderId === record.leader) return;
    p.becomeFollower(record.leaderEpoch, record.leader);
    this.#unfollow(p);
    const fetcher = this.#fetcher(record.leader);
    fetcher.follow(p, record.leaderEpoch);
    this.#following.set(p, fetcher);
    this.#o.logger.info({ partition: `${p.topic}-${p.index}`, leader: record.leader, leaderEpoch: record.leaderEpoch }, 'following');
    this.#roleChanged(p);
  }

  /** A listener's failure is its own: logged, and the view is applied on. */
  #roleChanged(p: Partition): void {
    try {
      this.#o.onRoleChange?.(p);
    } catch (err) {
      this.#o.logger.error({ partition: `${p.topic}-${p.index}`, err: (err as Error).message }, 'a listener of partition roles failed');
    }
  }

  #unfollow(p: Partition): void {
    const fetcher = this.#following.get(p);
    if (!fetcher) return;
    fetcher.unfollow(p);
    this.#following.delete(p);
  }

  #fetcher(leaderId: number): ReplicaFetcher {
    let fetcher = this.#fetchers.get(leaderId);
    if (!fetcher) {
      const { view, nodeId, logger, fetchMaxWaitMs, token } = this.#o;
      fetcher = new ReplicaFetcher({
        nodeId,
        leaderId,
        logger,
        maxWaitMs: fetchMaxWaitMs,
        ...(token !== undefined && { token }),
        address: () => {
          const b = view.brokers.get(leaderId)?.value;
          return b && { host: b.host, port: b.port };
        },
      });
      this.#fetchers.set(leaderId, fetcher);
    }
    return fetcher;
  }

  /** Proposes the ISR each led partition wants, one write in flight per partition. */
  #checkIsrs(): void {
    const { topics, view, clock, replicaLagTimeMaxMs, nodeId, store, logger } = this.#o;
    const now = clock.nowMs();
    for (const t of topics.list()) {
      for (const p of t.partitions) {
        const role = p?.role;
        if (!p || role?.kind !== 'leader' || this.#isrWrites.has(p)) continue;
        const wanted = role.replication.desiredIsr(now, replicaLagTimeMaxMs);
        if (!wanted) continue;
        const current = view.partition(p.topic, p.index);
        if (!current || current.value.leader !== nodeId || current.value.leaderEpoch !== role.epoch) continue;
        const next: PartitionRecord = { ...current.value, isr: [...wanted], partitionEpoch: current.value.partitionEpoch + 1 };
        role.replication.propose(wanted);
        this.#isrWrites.add(p);
        store
          .compareAndPut(KEYS.partition(p.topic, p.index), encodeRecord(next), current.modRevision)
          .then(
            (written) => {
              if (p.role !== role) return;
              if (written) {
                role.replication.committed(wanted);
                logger.info({ partition: `${p.topic}-${p.index}`, isr: wanted, was: current.value.isr }, 'ISR changed');
                role.replication.advanceHighWatermark(p.logEndOffset);
                // Waiters hear either way: acks=all ones re-check min.insync.replicas against the new ISR.
                p.highWatermarkMoved();
              } else role.replication.refused();
            },
            (err: Error) => {
              if (p.role === role) role.replication.refused();
              logger.warn({ partition: `${p.topic}-${p.index}`, err: err.message }, 'could not write an ISR change; retrying');
            },
          )
          .finally(() => this.#isrWrites.delete(p));
      }
    }
  }
}

function minInsync(topic: TopicRecord, fallback: number): number {
  return topic.config.minInsyncReplicas ?? fallback;
}

/** The topic's settings as a local log takes them (min.insync.replicas is the cluster's, not the log's). */
function localConfig(topic: TopicRecord): TopicRecord['config'] {
  const { minInsyncReplicas: _, ...config } = topic.config;
  return config;
}
