// This broker as a member of a cluster: it registers under a lease of its own in etcd (its
// liveness), keeps a view of the cluster's records, runs for controller, applies its replicas'
// roles, and answers the broker API's questions about placement and topic administration from the
// store. A broker killed and restarted at once finds its previous registration still alive until
// that lease expires, and waits for it, so two processes never hold one node id.
//
// Fencing: `leaseValidUntilMs` is the local time before which etcd cannot have expired this
// broker's lease (the last confirmed keepalive's send time plus the TTL); the controller only moves
// leadership off a broker whose lease expired, so a leader acknowledges only before that time.
// A lease lost for good (a long pause) registers again under a new one.

import type { Logger } from 'pino';
import { randomUUID } from 'node:crypto';
import type { Clock } from '../clock.js';
import { SluiceError } from '../errors.js';
import type { Partition } from '../log/partition.js';
import type { BrokerEndpoint, ClusterAdmin, Placement, TopicPlacement } from '../log/placement.js';
import type { TopicConfig, TopicRegistry } from '../log/topic-registry.js';
import { validateTopicName } from '../log/topic-name.js';
import { Controller } from './controller.js';
import { EtcdStore, type StoreLease } from './etcd-store.js';
import { encodeRecord, KEYS, type BrokerRecord, type TopicRecord } from './records.js';
import { ReplicaManager } from './replica-manager.js';
import { ClusterView } from './view.js';

export interface ClusterSettings {
  nodeId: number;
  etcdEndpoints: string[];
  clusterName: string;
  rack: string | null;
  /** A broker whose lease is not renewed for this long is dead to the cluster (its leaderships move). */
  sessionTimeoutMs: number;
  replicaLagTimeMaxMs: number;
  /** How long a follower's fetch waits at the leader for new data. */
  replicaFetchWaitMaxMs: number;
  /** What followers authenticate with at their leaders (brokers run with --auth-file). */
  interBrokerToken?: string;
  defaultReplicationFactor: number;
  minInsyncReplicas: number;
  /** How long an acks=all produce waits for its in-sync replicas. */
  replicationTimeoutMs: number;
  /** How __consumer_offsets is created, at the first FindCoordinator once this many brokers are alive. */
  offsetsTopicPartitions: number;
  offsetsTopicReplicationFactor: number;
}

export interface ClusterNodeOptions extends ClusterSettings {
  endpoint: Omit<BrokerEndpoint, 'nodeId' | 'rack'>;
  topics: TopicRegistry;
  defaultPartitions: number;
  /** Monotonic: lease fencing compares it with keepalive send times. */
  clock: Clock;
  logger: Logger;
  /** Hears of each role this broker takes for a partition (see ReplicaManagerOptions.onRoleChange). */
  onRoleChange?: (partition: Partition) => void;
}

const PRODUCER_ID_BLOCK = 1000n;

export class ClusterNode {
  readonly settings: ClusterSettings;
  readonly view: ClusterView;
  readonly placement: Placement;
  readonly #o: ClusterNodeOptions;
  readonly #store: EtcdStore;
  #lease: StoreLease;
  readonly #controller: Controller;
  readonly #replicas: ReplicaManager;
  readonly #record: BrokerRecord;
  readonly #producerIds: Array<{ next: bigint; end: bigint }> = [];
  #refill: Promise<void> | undefined;
  #stopped = false;

  private constructor(o: ClusterNodeOptions, store: EtcdStore, lease: StoreLease, view: ClusterView, record: BrokerRecord) {
    this.#o = o;
    this.settings = o;
    this.#store = store;
    this.#lease = lease;
    this.view = view;
    this.#record = record;
    this.#controller = new Controller({ nodeId: o.nodeId, store, view, lease, logger: o.logger });
    this.#replicas = new ReplicaManager({
      nodeId: o.nodeId,
      store,
      view,
      topics: o.topics,
      clock: o.clock,
      logger: o.logger,
      replicaLagTimeMaxMs: o.replicaLagTimeMaxMs,
      minInsyncReplicas: o.minInsyncReplicas,
      fetchMaxWaitMs: o.replicaFetchWaitMaxMs,
      ...(o.interBrokerToken !== undefined && { token: o.interBrokerToken }),
      ...(o.onRoleChange && { onRoleChange: o.onRoleChange }),
    });
    this.placement = this.#placement();
    this.#watchLease(lease);
  }

  /** Registers this broker (waiting out a previous registration of its node id), then starts its parts. */
  static async join(o: ClusterNodeOptions): Promise<ClusterNode> {
    const store = EtcdStore.connect({ endpoints: o.etcdEndpoints, prefix: `/sluice/${o.clusterName}/` });
    try {
      const record: BrokerRecord = { nodeId: o.nodeId, host: o.endpoint.host, port: o.endpoint.port, kafkaPort: o.endpoint.kafkaPort, rack: o.rack, startedAtMs: Date.now() };
      const lease = await register(store, record, o);
      const view = await ClusterView.open(store, o.logger);
      const node = new ClusterNode(o, store, lease, view, record);
      node.#controller.start();
      node.#replicas.start();
      await node.#replicas.settle();
      await node.#refillProducerIds();
      return node;
    } catch (err) {
      await store.close().catch(() => undefined);
      throw err;
    }
  }

  get nodeId(): number {
    return this.#o.nodeId;
  }

  get isController(): boolean {
    return this.#controller.active;
  }

  /** False once etcd may have expired this broker's lease: a leader acknowledges nothing then. */
  leaseValid(): boolean {
    return this.#o.clock.nowMs() < this.#lease.validUntilMs();
  }

  /**
   * KIP-392: the in-sync replica a consumer in `rack` should read `topic`-`partition` from: -1 when
   * this broker (its leader) is in that rack, or no live in-sync replica is; else the first in
   * replica order.
   */
  preferredReadReplica(topic: string, partition: number, rack: string): number {
    const record = this.view.partition(topic, partition)?.value;
    if (!record || this.#o.rack === rack) return -1;
    const inRack = record.isr.find((id) => id !== this.#o.nodeId && this.view.brokers.get(id)?.value.rack === rack);
    return inRack ?? -1;
  }

  /** Producer ids from cluster-wide blocks (never the same id on two brokers). */
  nextProducerId(): bigint {
    while (this.#producerIds[0] && this.#producerIds[0].next >= this.#producerIds[0].end) this.#producerIds.shift();
    const block = this.#producerIds[0];
    const left = this.#producerIds.reduce((n, b) => n + (b.end - b.next), 0n);
    if (left < PRODUCER_ID_BLOCK / 2n) void this.#refillProducerIds();
    if (!block) throw new SluiceError('COORDINATOR_NOT_AVAILABLE', 'this broker is reserving a new block of producer ids; retry');
    return block.next++;
  }

  /** Applies every change the view has seen so far (tests and tools wait on it). */
  settle(): Promise<void> {
    return this.#replicas.settle();
  }

  async stop(): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    this.#controller.stop();
    await this.#replicas.stop();
    await this.view.close();
    // Leaving at once (not by lease expiry) moves leadership off this broker now.
    await this.#lease.revoke().catch(() => undefined);
    await this.#store.close().catch(() => undefined);
  }

  #watchLease(lease: StoreLease): void {
    lease.onLost(() => {
      if (this.#stopped || lease !== this.#lease) return;
      this.#o.logger.warn({ nodeId: this.#o.nodeId }, 'the cluster lease was lost (a pause longer than the session timeout?): registering again');
      void register(this.#store, this.#record, this.#o).then(
        (next) => {
          this.#lease = next;
          this.#controller.setLease(next);
          this.#watchLease(next);
        },
        (err: Error) => this.#o.logger.error({ err: err.message }, 'could not register again'),
      );
    });
  }

  /** Reserves the next block of ids in the store (compare-and-swap on the counter). */
  #refillProducerIds(): Promise<void> {
    this.#refill ??= (async () => {
      for (;;) {
        const current = await this.#store.get(KEYS.producerIds);
        const next = current ? BigInt((JSON.parse(current.value) as { next: string }).next) : 0n;
        const end = next + PRODUCER_ID_BLOCK;
        if (await this.#store.compareAndPut(KEYS.producerIds, JSON.stringify({ next: String(end) }), current?.modRevision ?? 0n)) {
          this.#producerIds.push({ next, end });
          return;
        }
      }
    })().finally(() => (this.#refill = undefined));
    return this.#refill;
  }

  #placement(): Placement {
    const view = this.view;
    const describe = (t: TopicRecord): TopicPlacement => {
      const alive = view.aliveIds();
      return {
        name: t.name,
        id: t.id,
        internal: this.#o.topics.isInternal(t.name),
        config: t.config,
        partitions: view.topicPartitions(t.name).map((p, partition) => {
          if (!p) return { partition, leader: -1, leaderEpoch: -1, replicas: [], isr: [], offline: [] };
          const r = p.value;
          // A leader whose broker is gone (its lease expired, the controller not yet done) is no leader to send clients to.
          return { partition, leader: alive.has(r.leader) ? r.leader : -1, leaderEpoch: r.leaderEpoch, replicas: r.replicas, isr: r.isr, offline: r.replicas.filter((id) => !alive.has(id)) };
        }),
      };
    };
    const admin: ClusterAdmin = {
      createTopic: (name, partitions, replicationFactor, config, validateOnly) => this.#createTopic(name, partitions, replicationFactor, config, validateOnly).then(describe),
      deleteTopic: async (name) => {
        const t = view.topics.get(name);
        if (!t) throw new SluiceError('UNKNOWN_TOPIC_OR_PARTITION', `topic ${name} does not exist`);
        if (!(await this.#store.compareAndDelete(KEYS.topic(name), t.modRevision))) throw new SluiceError('UNKNOWN_TOPIC_OR_PARTITION', `topic ${name} changed while it was being deleted; retry`);
      },
      addPartitions: async (name, count, validateOnly) => {
        const t = view.topics.get(name);
        if (!t) throw new SluiceError('UNKNOWN_TOPIC_OR_PARTITION', `topic ${name} does not exist`);
        if (!Number.isInteger(count) || count <= t.value.partitions) throw new SluiceError('INVALID_PARTITIONS', `${name} has ${t.value.partitions} partitions; the new count must be larger, got ${count}`);
        if (validateOnly) return;
        if (!(await this.#store.compareAndPut(KEYS.topic(name), encodeRecord({ ...t.value, partitions: count }), t.modRevision))) {
          throw new SluiceError('INVALID_PARTITIONS', `topic ${name} changed meanwhile; retry`);
        }
        await this.#until(() => view.topicPartitions(name).every(Boolean), `the partitions of ${name} to be placed`);
      },
      alterConfig: async (name, config, validateOnly) => {
        const t = view.topics.get(name);
        if (!t) throw new SluiceError('UNKNOWN_TOPIC_OR_PARTITION', `topic ${name} does not exist`);
        if (validateOnly) return;
        const next = { ...t.value, config: { ...config, ...(t.value.config.minInsyncReplicas !== undefined ? { minInsyncReplicas: t.value.config.minInsyncReplicas } : {}) } };
        if (!(await this.#store.compareAndPut(KEYS.topic(name), encodeRecord(next), t.modRevision))) throw new SluiceError('INVALID_CONFIG', `topic ${name} changed meanwhile; retry`);
      },
    };
    return {
      admin,
      brokers: () =>
        [...view.brokers.values()]
          .map(({ value: b }) => ({ nodeId: b.nodeId, host: b.host, port: b.port, kafkaPort: b.kafkaPort, rack: b.rack }))
          .sort((a, b) => a.nodeId - b.nodeId),
      controllerId: () => view.controller?.value.nodeId ?? -1,
      topic: (name) => {
        const t = view.topics.get(name);
        return t && describe(t.value);
      },
      topicById: (id) => {
        for (const t of view.topics.values()) if (t.value.id === id) return describe(t.value);
        return undefined;
      },
      topics: () => [...view.topics.values()].map((t) => describe(t.value)),
    };
  }

  async #createTopic(name: string, partitions: number, replicationFactor: number, config: TopicConfig & { minInsyncReplicas?: number }, validateOnly: boolean): Promise<TopicRecord> {
    validateTopicName(name);
    const count = partitions === -1 ? this.#o.defaultPartitions : partitions;
    const rf = replicationFactor === -1 ? Math.min(this.#o.defaultReplicationFactor, Math.max(1, this.view.brokers.size)) : replicationFactor;
    if (!Number.isInteger(count) || count < 1 || count > 10_000) throw new SluiceError('INVALID_PARTITIONS', `partitions must be in [1, 10000], got ${count}`);
    if (!Number.isInteger(rf) || rf < 1 || rf > this.view.brokers.size) {
      throw new SluiceError('INVALID_REPLICATION_FACTOR', `replication factor ${rf} needs that many live brokers; ${this.view.brokers.size} are alive`);
    }
    const minIsr = config.minInsyncReplicas;
    if (minIsr !== undefined && (!Number.isInteger(minIsr) || minIsr < 1 || minIsr > rf)) {
      throw new SluiceError('INVALID_CONFIG', `min.insync.replicas must be in [1, ${rf}] (the replication factor), got ${minIsr}`);
    }
    if (this.view.topics.has(name)) throw new SluiceError('TOPIC_ALREADY_EXISTS', `topic ${name} already exists`);
    const record: TopicRecord = { name, id: randomUUID(), partitions: count, replicationFactor: rf, config, createdAtMs: Date.now() };
    if (validateOnly) return record;
    if (!(await this.#store.create(KEYS.topic(name), encodeRecord(record)))) throw new SluiceError('TOPIC_ALREADY_EXISTS', `topic ${name} already exists`);
    // The controller places the partitions; the answer waits for it, so the creator can use the topic at once.
    await this.#until(() => view(this.view, name, record.id), `the controller to place ${name}`);
    return record;
  }

  /** Resolves once `ready()` holds for the view (checked after each change), or fails after a bound. */
  #until(ready: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
    if (ready()) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        off();
        reject(new SluiceError('REQUEST_TIMED_OUT', `waited ${timeoutMs} ms for ${what}`));
      }, timeoutMs);
      const off = this.view.onChange(() => {
        if (!ready()) return;
        clearTimeout(timer);
        off();
        resolve();
      });
    });
  }
}

function view(v: ClusterView, name: string, id: string): boolean {
  const t = v.topics.get(name);
  return t !== undefined && t.value.id === id && v.topicPartitions(name).every((p) => p !== undefined && p.value.leader >= 0);
}

/** Puts the broker's record under a new lease; while another lease holds the node id, waits for it to expire. */
async function register(store: EtcdStore, record: BrokerRecord, o: ClusterNodeOptions): Promise<StoreLease> {
  const deadline = Date.now() + Math.max(3 * o.sessionTimeoutMs, 10_000);
  let warned = false;
  for (;;) {
    const lease = await store.lease(o.sessionTimeoutMs);
    if (await store.create(KEYS.broker(record.nodeId), encodeRecord(record), lease)) return lease;
    await lease.revoke().catch(() => undefined);
    if (Date.now() > deadline) throw new SluiceError('INVALID_CONFIG', `node id ${record.nodeId} is registered by a live broker in cluster ${o.clusterName}: give each broker its own --node-id`);
    if (!warned) o.logger.warn({ nodeId: record.nodeId }, 'a previous registration of this node id is still alive; waiting for its lease to expire');
    warned = true;
    await new Promise((r) => setTimeout(r, 250));
  }
}
