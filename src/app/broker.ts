// The broker process's parts, wired together and started or stopped in order: the data
// directory's lock, the topics (recovered), the group coordinator (replaying __consumer_offsets),
// the transfer engine, the TCP listeners (Sluice's protocol, and Kafka's beside it) with one
// Connection per client, the metrics endpoint, and the retention timer. Both listeners share the
// topics, the coordinator, the committed offsets and the transfer engine.
//
// Groups: alone, one coordinator over a local one-partition __consumer_offsets. In a cluster the
// topic is the cluster's (replicated, created at the first FindCoordinator), and a router runs a
// coordinator for each of its partitions this broker leads, as the cluster's roles come and go.
//
// Stop: stop accepting, answer parked fetches (and fail parked group joins) now, let every connection finish the responses it
// owes (bounded by `shutdownTimeoutMs`), then close the logs cleanly (flush + recovery marker),
// the engine and the lock.

import type { AccessControl } from '../auth/access.js';
import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import type { Server as HttpServer } from 'node:http';
import type { Logger } from 'pino';
import { monotonicClock, systemScheduler, type Scheduler } from '../clock.js';
import { GroupCoordinator, type CoordinatorOptions, type GroupService } from '../group/coordinator.js';
import { GroupRouter } from '../group/group-router.js';
import { OffsetStore } from '../group/offset-store.js';
import { DEFAULT_OFFSETS_TOPIC, OFFSETS_TOPIC } from '../group/offsets-topic.js';
import { LogService } from '../log/log-service.js';
import { TopicRegistry, type TopicDefaults } from '../log/topic-registry.js';
import { native, nativeCall, type NativeDirLock } from '../native.js';
import { TransferEngine, type FetchPath } from '../transfer/engine.js';
import { KafkaProtocol } from '../doors/kafka/protocol.js';
import type { ProtocolFactory } from '../doors/door.js';
import { Connection, type ConnectionServices } from '../server/connection.js';
import { SluiceProtocol } from '../doors/sluice/protocol.js';
import { singleNodePlacement, type BrokerEndpoint, type Placement } from '../log/placement.js';
import { ClusterNode, type ClusterSettings } from '../cluster/cluster-node.js';
import { BrokerMetrics, listenOn, serveMetrics } from '../server/metrics.js';

export const SLUICE_VERSION = '0.1.0';

export interface BrokerConfig {
  dataDir: string;
  host: string;
  /** The host clients are told to connect to (Metadata); defaults to `host`. */
  advertisedHost?: string;
  /** 0 picks a free port. */
  port: number;
  /** The Kafka protocol listener's port (on `host`); 0 picks a free port; null: no Kafka listener. */
  kafkaPort: number | null;
  /** The port Kafka clients are told to connect to; defaults to the Kafka listener's. */
  kafkaAdvertisedPort?: number;
  /** null: no metrics endpoint; 0 picks a free port. */
  metricsPort: number | null;
  fetchPath: FetchPath;
  /** The native sender's settings (defaults: crates/transfer EngineConfig). */
  transfer?: { senderThreads?: number; sendfileChunkBytes?: number; socketSendBufferBytes?: number };
  maxFrameBytes: number;
  maxInFlightRequests: number;
  /** A connection that sent nothing and awaits no response for this long is closed. */
  connectionsMaxIdleMs: number;
  autoCreateTopics: boolean;
  topicDefaults: TopicDefaults;
  retentionCheckIntervalMs: number;
  shutdownTimeoutMs: number;
  groups: CoordinatorOptions;
  /** Principals and permissions (`--auth-file`); null: no authentication, everyone may do anything. */
  access: AccessControl | null;
  /** Membership of a cluster coordinated through etcd; null (or absent): a single broker. */
  cluster?: ClusterSettings | null;
}


export class Broker {
  readonly config: BrokerConfig;
  readonly topics: TopicRegistry;
  readonly groups: GroupService;
  readonly metrics: BrokerMetrics;
  readonly #logger: Logger;
  readonly #lock: NativeDirLock;
  readonly #engine: TransferEngine;
  readonly #log: LogService;
  readonly #server: Server;
  readonly #kafkaServer: Server;
  readonly #connections = new Set<Connection>();
  #kafkaListening = false;
  #metricsServer: HttpServer | undefined;
  #metricsAddress: AddressInfo | undefined;
  #retentionTimer: NodeJS.Timeout | undefined;
  #stopping: Promise<void> | undefined;
  #cluster: ClusterNode | undefined;
  readonly #placement: Placement;
  /** A cluster member's groups, following its offsets partitions' leadership; undefined alone. */
  readonly #router: GroupRouter | undefined;

  /** `groups`: a single broker's coordinator; none for a cluster member, which routes to its led partitions' own. */
  private constructor(config: BrokerConfig, logger: Logger, lock: NativeDirLock, topics: TopicRegistry, groups: GroupCoordinator | undefined, engine: TransferEngine, scheduler: Scheduler) {
    this.config = config;
    this.#logger = logger;
    this.#lock = lock;
    this.topics = topics;
    this.#router = groups
      ? undefined
      : new GroupRouter({
          topics,
          scheduler,
          logger,
          // The cluster's topics, wherever their partitions are hosted (a coordinator need not hold a replica of what it commits for).
          partitionExists: (topic, partition) => (this.#placement.topic(topic)?.partitions.length ?? 0) > partition,
          coordinator: config.groups,
          append: async (partition, batch) => {
            await this.#log.appendInternal(partition, batch);
          },
        });
    this.groups = groups ?? this.#router!;
    this.#engine = engine;
    this.metrics = new BrokerMetrics(topics, this.groups, engine, SLUICE_VERSION, config.dataDir);
    this.#log = new LogService(topics, this.metrics);
    const clusterSettings = config.cluster;
    // A cluster member serves nothing as a leader before it has joined (roles come from the cluster).
    if (clusterSettings) {
      this.#log.setLeadership({
        leaseValid: () => this.#cluster?.leaseValid() ?? false,
        replicationTimeoutMs: clusterSettings.replicationTimeoutMs,
        clock: monotonicClock,
        knows: (topic, partition) => (this.#cluster?.placement.topic(topic)?.partitions.length ?? 0) > partition,
        preferredReadReplica: (topic, partition, rack) => this.#cluster?.preferredReadReplica(topic, partition, rack) ?? -1,
      });
    }
    // Until the cluster is joined (after listening: its record names the bound ports) the broker describes itself alone.
    const single = singleNodePlacement(topics, () => this.#endpoint());
    const cluster = () => this.#cluster?.placement;
    this.#placement = {
      get admin() {
        return cluster()?.admin;
      },
      brokers: () => (cluster() ?? single).brokers(),
      controllerId: () => (cluster() ?? single).controllerId(),
      topic: (name) => (cluster() ?? single).topic(name),
      topicById: (id) => (cluster() ?? single).topicById(id),
      topics: () => (cluster() ?? single).topics(),
    };
    let sluice: ConnectionServices | undefined;
    let kafka: ConnectionServices | undefined;
    // Services are made on first accept: the advertised ports are known once listening.
    this.#server = createServer((socket) => this.#accept(socket, (sluice ??= this.#services(this.address.port)), (ctx) => new SluiceProtocol(ctx, config.maxFrameBytes)));
    this.#kafkaServer = createServer((socket) => this.#accept(socket, (kafka ??= this.#services(config.kafkaAdvertisedPort ?? this.kafkaAddress!.port)), (ctx) => new KafkaProtocol(ctx, config.maxFrameBytes)));
  }

  /** Opens the data directory (taking its lock), recovers the topics and starts listening. */
  static async start(config: BrokerConfig, logger: Logger, scheduler: Scheduler = systemScheduler): Promise<Broker> {
    const lock = nativeCall(() => native.NativeDirLock.acquire(config.dataDir));
    let topics: TopicRegistry | undefined;
    let engine: TransferEngine | undefined;
    try {
      topics = await TopicRegistry.open(config.dataDir, config.topicDefaults, logger, scheduler, { hostedOnly: Boolean(config.cluster) });
      const registry = topics;
      topics.markInternal(OFFSETS_TOPIC);
      const groups = config.cluster
        ? undefined
        : new GroupCoordinator(await OffsetStore.open(topics), scheduler, logger, (t, p) => registry.get(t)?.partitions[p] !== undefined, config.groups);
      engine = new TransferEngine({ ...config.transfer, fetchPath: config.fetchPath });
      const broker = new Broker(config, logger, lock, topics, groups, engine, scheduler);
      await broker.#listen();
      if (config.cluster) await broker.#joinCluster(config.cluster).catch(async (err: unknown) => {
        await broker.stop().catch(() => undefined);
        throw err;
      });
      return broker;
    } catch (err) {
      await topics?.close().catch(() => undefined);
      await engine?.close().catch(() => undefined);
      lock.release();
      throw err;
    }
  }

  /** The cluster membership; undefined for a single broker. */
  get cluster(): ClusterNode | undefined {
    return this.#cluster;
  }

  async #joinCluster(settings: ClusterSettings): Promise<void> {
    const self = this.#endpoint();
    const node = await ClusterNode.join({
      ...settings,
      endpoint: { host: self.host, port: self.port, kafkaPort: self.kafkaPort },
      topics: this.topics,
      defaultPartitions: this.config.topicDefaults.partitions,
      clock: monotonicClock,
      logger: this.#logger,
      onRoleChange: (partition) => this.#router?.roleChanged(partition),
    });
    this.#cluster = node;
    this.#log.producerIds = { next: () => node.nextProducerId() };
  }

  /** How clients reach this broker (both listeners, at their advertised ports). */
  #endpoint(): BrokerEndpoint {
    const { config } = this;
    const kafka = this.kafkaAddress;
    return {
      nodeId: config.cluster?.nodeId ?? 0,
      host: config.advertisedHost ?? config.host,
      port: this.address.port,
      kafkaPort: kafka ? (config.kafkaAdvertisedPort ?? kafka.port) : null,
      rack: config.cluster?.rack ?? null,
    };
  }

  get address(): AddressInfo {
    return this.#server.address() as AddressInfo;
  }

  /** The Kafka listener's address; undefined when it is off. */
  get kafkaAddress(): AddressInfo | undefined {
    return this.#kafkaListening ? (this.#kafkaServer.address() as AddressInfo) : undefined;
  }

  get metricsAddress(): AddressInfo | undefined {
    return this.#metricsAddress;
  }

  /** Graceful stop; safe to call more than once. */
  stop(): Promise<void> {
    this.#stopping ??= this.#stop();
    return this.#stopping;
  }

  async #listen(): Promise<void> {
    const { config } = this;
    await listenOn(this.#server, config.host, config.port);
    try {
      if (config.kafkaPort !== null) {
        await listenOn(this.#kafkaServer, config.host, config.kafkaPort);
        this.#kafkaListening = true;
      }
      if (config.metricsPort !== null) {
        const { server, address } = await serveMetrics(this.metrics, config.host, config.metricsPort, () => (this.#stopping ? 'stopping' : 'serving'));
        this.#metricsServer = server;
        this.#metricsAddress = address;
      }
    } catch (err) {
      this.#server.close();
      if (this.#kafkaListening) this.#kafkaServer.close();
      throw err;
    }
    this.#retentionTimer = setInterval(() => this.#enforceRetention(), config.retentionCheckIntervalMs);
    this.#retentionTimer.unref();
  }

  #accept(socket: Socket, services: ConnectionServices, protocol: ProtocolFactory): void {
    if (this.#stopping) {
      socket.destroy();
      return;
    }
    const connection = new Connection(
      socket,
      this.#engine.writer(socket),
      services,
      { maxFrameBytes: this.config.maxFrameBytes, maxInFlightRequests: this.config.maxInFlightRequests, maxIdleMs: this.config.connectionsMaxIdleMs },
      protocol,
    );
    this.#connections.add(connection);
    socket.once('close', () => this.#connections.delete(connection));
  }

  /** What every connection's handlers use; `port` is the listener's own, which Metadata advertises. */
  #services(port: number): ConnectionServices {
    return {
      log: this.#log,
      topics: this.topics,
      groups: this.groups,
      offsetsTopic: this.config.cluster
        ? { partitions: this.config.cluster.offsetsTopicPartitions, replicationFactor: this.config.cluster.offsetsTopicReplicationFactor }
        : DEFAULT_OFFSETS_TOPIC,
      broker: { nodeId: this.config.cluster?.nodeId ?? 0, clusterId: this.config.cluster?.clusterName ?? 'sluice', host: this.config.advertisedHost ?? this.config.host, port, version: SLUICE_VERSION },
      placement: this.#placement,
      autoCreateTopics: this.config.autoCreateTopics,
      access: this.config.access,
      logger: this.#logger,
      metrics: this.metrics,
    };
  }

  #enforceRetention(): void {
    try {
      for (const r of this.topics.enforceRetention()) {
        this.#logger.info({ ...r, logStartOffset: String(r.logStartOffset) }, 'retention deleted old segments');
      }
    } catch (err) {
      this.#logger.error({ err }, 'retention check failed');
    }
    this.groups.expireOffsets().then(
      (expired) => {
        for (const e of expired) this.#logger.info(e, 'committed offsets expired (the group has no members)');
      },
      (err: unknown) => this.#logger.error({ err }, 'offset expiry failed'),
    );
  }

  async #stop(): Promise<void> {
    clearInterval(this.#retentionTimer);
    const closed = Promise.all(
      [this.#server, ...(this.#kafkaListening ? [this.#kafkaServer] : [])].map((server) => new Promise<void>((resolve) => server.close(() => resolve()))),
    );
    this.#log.stop();
    this.groups.stop();
    const drained = Promise.all([...this.#connections].map((c) => c.drain()));
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(true), this.config.shutdownTimeoutMs)));
    if (await Promise.race([drained.then(() => false), timedOut])) {
      this.#logger.warn({ connections: this.#connections.size }, 'shutdown timeout: closing connections with responses still owed');
    }
    clearTimeout(timer);
    for (const c of this.#connections) c.destroy();
    await closed;
    // Leaving the cluster revokes the lease: leadership moves off this broker now, not after the session timeout.
    await this.#cluster?.stop().catch((err: unknown) => this.#logger.warn({ err }, 'leaving the cluster failed'));
    const metricsServer = this.#metricsServer;
    if (metricsServer) {
      await new Promise<void>((resolve) => {
        metricsServer.close(() => resolve());
        metricsServer.closeAllConnections();
      });
    }
    await this.topics.close();
    await this.#engine.close();
    this.#lock.release();
  }
}
