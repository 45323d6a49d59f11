// The crash loop for a cluster (`npm run torture -- --cluster`, test/cluster-torture.test.ts): etcd
// and three brokers, an RF=3 topic with min.insync.replicas 2, and a steady workload across every
// fault: two idempotent acks=all producers (Sluice's client and kafkajs, one per door) and two
// consumer groups (two kafkajs members; one Sluice consumer) reading and committing.
//
// Each cycle lets the workload run, then strikes one broker: SIGKILL (restarted later, now and
// then with its data directory gone), SIGSTOP (for less or more than its session timeout, then
// SIGCONT), or restarts etcd. The struck broker is a partition leader, a follower or the groups'
// coordinator. Then the cluster must heal (every broker registered, every partition's ISR whole),
// the producers pause, and every check runs:
// - each partition as its leader serves it, record by record, as the single-node loop checks it
//   (torture.ts: contiguous, keys and values intact, each producer's records in send order and
//   never twice, every acknowledged record at the offset its ack named, nothing checked before
//   changed);
// - every replica's copy up to the high watermark the same batches as the leader's (offsets,
//   sizes, leader epochs, CRCs), read from each replica itself;
// - every record a consumer was handed was, and still is, at that offset in the log (nobody read
//   past a high watermark what a new leader then truncated), and each group's committed offsets
//   are at most the high watermark.
// After the last cycle the producers stop, both groups must consume and commit everything, and
// each broker's partitions are opened natively and their indexes verified.

import { createHash, type Hash } from 'node:crypto';
import { readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Kafka, logLevel, type Consumer as KafkaConsumer, type Producer as KafkaProducer } from 'kafkajs';
import { Admin } from '../../src/client/admin.js';
import { BrokerClient, sleep } from '../../src/client/broker-client.js';
import { Consumer } from '../../src/client/consumer.js';
import { Producer } from '../../src/client/producer.js';
import { offsetsPartitionFor } from '../../src/group/offsets-topic.js';
import type { DecodedBatch } from '../../src/protocol/record-batch.js';
import { partitionOf, startCluster, type TestCluster } from './cluster.js';
import { checkPartition, ConsistencyError, fresh, missingAcks, readRecords, TORTURE_TOPIC, valueFor, verifyIndexes, type Ack, type Checked } from './torture.js';
import { createNetwork, type Network } from './netns.js';
import { fetchAt, random } from './util.js';

type Teardown = { teardown(fn: () => void | Promise<void>): void };

export const CLUSTER_TORTURE_GROUPS = ['torture-kafkajs', 'torture-sluice'] as const;
const OFFSETS_PARTITIONS = 10;
/** Reads that name a rack: a follower serves them too (KIP-392), so each replica can be read. */
const CHECK_RACK = 'torture-check';
const SESSION_TIMEOUT_MS = 2_000;
const HEAL_TIMEOUT_MS = 90_000;
const DRAIN_TIMEOUT_MS = 120_000;

export type FaultKind = 'kill' | 'kill-wipe' | 'pause' | 'etcd-restart' | NetworkFaultKind;
/** With `network`: the struck broker cut off from everything, from etcd only, or from the other brokers only. */
export type NetworkFaultKind = 'isolate' | 'cut-etcd' | 'cut-peers';
const NETWORK_FAULTS: readonly NetworkFaultKind[] = ['isolate', 'cut-etcd', 'cut-peers'];
export type FaultTarget = 'leader' | 'follower' | 'coordinator';

export interface Fault {
  kind: FaultKind;
  /** Which broker is struck (ignored for etcd-restart). */
  target: FaultTarget;
  /** How long the broker stays down or paused. */
  downMs: number;
}

const FAULT_KINDS: readonly FaultKind[] = ['kill', 'kill-wipe', 'pause', 'etcd-restart', ...NETWORK_FAULTS];
const FAULT_TARGETS: readonly FaultTarget[] = ['leader', 'follower', 'coordinator'];

/** `kind:target:ms,...` (the CLI's --faults) as faults; throws on anything else. */
export function parseFaults(list: string): Fault[] {
  return list.split(',').map((item) => {
    const [kind, target, ms] = item.split(':');
    const downMs = Number(ms);
    if (!FAULT_KINDS.includes(kind as FaultKind) || !FAULT_TARGETS.includes(target as FaultTarget) || !Number.isSafeInteger(downMs) || downMs < 0) {
      throw new Error(`a fault is kind:target:ms (kind ${FAULT_KINDS.join('|')}, target ${FAULT_TARGETS.join('|')}), got "${item}"`);
    }
    return { kind: kind as FaultKind, target: target as FaultTarget, downMs };
  });
}

export interface ClusterTortureOptions {
  /** Where the cluster's processes and directories are torn down (tap's `t`, or the CLI's collector). */
  teardown: Teardown;
  cycles: number;
  brokers?: number;
  partitions?: number;
  /**
   * Etcd and each broker on a network namespace of its own (netns.ts; root only), so that faults
   * also cut the network: random faults then include isolate, cut-etcd and cut-peers.
   */
  network?: boolean;
  /** One fault per cycle, in order (cycles beyond the list draw random ones). */
  faults?: readonly Fault[];
  /** The workload runs this long (uniform in [min, max] ms) after its first acknowledgement in a cycle before the fault. */
  runMs?: [number, number];
  /** Read every replica from the start this often (and after a wipe, and at the end). */
  fullCheckEvery?: number;
  maxValueBytes?: number;
  seed?: number;
  onCycle?: (report: ClusterCycleReport) => void;
  /** The cluster's data directories go under this one and stay (with each broker's log as broker.log when a check fails); default: temp dirs removed at teardown. */
  dataRoot?: string;
  /** Sees each step as it starts (what a stuck run was doing). */
  log?: (line: string) => void;
  /** Runs before each cycle's checks, the cluster healed and the producers paused: a test damages something here to see a check fail. */
  beforeCheck?: (cycle: number, cluster: TestCluster) => Promise<void>;
}

export interface ClusterCycleReport {
  cycle: number;
  fault: string;
  /** Fault to a healed cluster (every broker back, every ISR whole). */
  healMs: number;
  acked: number;
  unacked: number;
  records: bigint;
  /** Records the consumers were handed in this cycle (both groups). */
  consumed: number;
  fullCheck: boolean;
  checkMs: number;
}

export interface ClusterTortureReport {
  cycles: number;
  faults: Record<string, number>;
  acked: number;
  unacked: number;
  records: bigint;
  consumed: number;
  /** Producers or consumers that failed for good and were replaced. */
  clientRestarts: number;
  healMs: { median: number; max: number };
  indexProblems: string[];
  seed: number;
}

export async function runClusterTorture(options: ClusterTortureOptions): Promise<ClusterTortureReport> {
  const partitions = options.partitions ?? 3;
  const [minRunMs, maxRunMs] = options.runMs ?? [500, 2_000];
  const fullCheckEvery = options.fullCheckEvery ?? 10;
  const seed = options.seed ?? Math.floor(Math.random() * 2 ** 31);
  const rand = random(seed);
  const log = options.log ?? (() => undefined);
  log('starting etcd and the brokers');
  const brokerCount = options.brokers ?? 3;
  const network = options.network ? createNetwork(options.teardown, ['etcd', ...Array.from({ length: brokerCount }, (_, i) => `node${i + 1}`)]) : undefined;
  const cluster = await startCluster(options.teardown, {
    brokers: brokerCount,
    ...(options.dataRoot ? { dataRoot: options.dataRoot } : {}),
    ...(network ? { network } : {}),
    args: ['--broker-session-timeout-ms', String(SESSION_TIMEOUT_MS), '--offsets-topic-partitions', String(OFFSETS_PARTITIONS), '--segment-bytes', String(1024 * 1024)],
  });
  const bootstrap = cluster.bootstrap();
  const admin = new Admin({ broker: bootstrap, retries: 20 });
  options.teardown.teardown(() => admin.close());
  await admin.createTopic(TORTURE_TOPIC, { partitions, replicationFactor: 3, config: { minInsyncReplicas: 2 } });
  await heal(cluster);
  log('topic created; starting the workload');
  const workload = new Workload(cluster, bootstrap, partitions, options.maxValueBytes ?? 1024, rand, log);
  options.teardown.teardown(() => workload.close());
  await workload.start();
  const checker = new ClusterChecker(cluster, partitions);
  const report: ClusterTortureReport = { cycles: 0, faults: {}, acked: 0, unacked: 0, records: 0n, consumed: 0, clientRestarts: 0, healMs: { median: 0, max: 0 }, indexProblems: [], seed };
  const healTimes: number[] = [];
  let fullNext = false;
  for (let cycle = 0; cycle < options.cycles; cycle++) {
    const fault = options.faults?.[cycle] ?? randomFault(rand, network !== undefined);
    log(`cycle ${cycle}: producing`);
    workload.resume(cycle);
    await Promise.race([workload.firstAck(), sleep(10_000)]);
    await sleep(minRunMs + rand() * (maxRunMs - minRunMs));
    log(`cycle ${cycle}: ${fault.kind} ${fault.target} for ${fault.downMs} ms`);
    const struck = await strike(cluster, network, fault, rand);
    log(`cycle ${cycle}: ${struck.label}; waiting for the cluster to heal`);
    const healMs = struck.healMs + (await timed(() => heal(cluster)));
    healTimes.push(healMs);
    await sleep(200 + rand() * 800); // the workload on the healed cluster
    log(`cycle ${cycle}: healed; pausing the producers`);
    await workload.pause();
    log(`cycle ${cycle}: checking`);
    await options.beforeCheck?.(cycle, cluster);
    const full = fullNext || (cycle + 1) % fullCheckEvery === 0;
    fullNext = fault.kind === 'kill-wipe';
    const started = performance.now();
    const records = await checker.check(workload, full).catch((err: unknown) => {
      if (options.dataRoot) keepLogs(cluster);
      throw err;
    });
    const cycleReport: ClusterCycleReport = { cycle, fault: struck.label, healMs, acked: workload.acked.size, unacked: workload.unacked, records, consumed: workload.consumedInCycle, fullCheck: full, checkMs: performance.now() - started };
    report.faults[fault.kind] = (report.faults[fault.kind] ?? 0) + 1;
    report.acked += workload.acked.size;
    report.unacked += workload.unacked;
    report.records = records;
    report.cycles = cycle + 1;
    workload.nextCycle();
    options.onCycle?.(cycleReport);
  }
  // The end: a full check of every replica, then both groups consume and commit everything.
  await workload.pause();
  log('final check');
  report.records = await checker.check(workload, true);
  log('waiting for the groups to consume and commit everything');
  await checker.drained(workload, log);
  report.consumed = workload.consumedTotal;
  report.clientRestarts = workload.restarts;
  log('closing the workload');
  await workload.close();
  log('stopping the brokers');
  healTimes.sort((a, b) => a - b);
  report.healMs = { median: healTimes[Math.floor((healTimes.length - 1) / 2)] ?? 0, max: healTimes.at(-1) ?? 0 };
  for (const b of cluster.brokers) await cluster.kill(b.nodeId, 'SIGTERM');
  log('verifying the indexes');
  for (const b of cluster.brokers) {
    const dirs = readdirSync(b.dataDir).filter((d) => d.startsWith(`${TORTURE_TOPIC}-`) || d.startsWith('__consumer_offsets-'));
    report.indexProblems.push(...(await verifyIndexes(b.dataDir, dirs)).map((p) => `broker ${b.nodeId}: ${p}`));
  }
  return report;
}

/** Each broker's log lines so far, as `broker.log` in its data directory (kept for a failed run). */
function keepLogs(cluster: TestCluster): void {
  for (const b of cluster.brokers) {
    const lines = (b.process?.lines ?? []).map((l) => (typeof l === 'string' ? l : JSON.stringify(l)));
    writeFileSync(join(b.dataDir, 'broker.log'), lines.join('\n') + '\n');
  }
}

function randomFault(rand: () => number, network: boolean): Fault {
  const k = rand();
  const kind: FaultKind =
    network && rand() < 0.5 ? NETWORK_FAULTS[Math.floor(rand() * NETWORK_FAULTS.length)]! : k < 0.45 ? 'kill' : k < 0.55 ? 'kill-wipe' : k < 0.95 ? 'pause' : 'etcd-restart';
  const t = rand();
  const target: FaultTarget = t < 0.6 ? 'leader' : t < 0.85 ? 'follower' : 'coordinator';
  // Kills: restarted at once or after the session timeout has expired; pauses: shorter or longer than it.
  const downMs = kind === 'pause' || NETWORK_FAULTS.includes(kind as NetworkFaultKind) ? SESSION_TIMEOUT_MS * (0.25 + rand() * 2.25) : rand() * 2 * SESSION_TIMEOUT_MS;
  return { kind, target, downMs: Math.round(downMs) };
}

/** Applies the fault and undoes it (restart, SIGCONT, the network healed); returns its label and how long that took. */
async function strike(cluster: TestCluster, network: Network | undefined, fault: Fault, rand: () => number): Promise<{ label: string; healMs: number }> {
  const started = performance.now();
  if (fault.kind === 'etcd-restart') {
    await cluster.etcd.kill('SIGKILL');
    await sleep(fault.downMs);
    await cluster.etcd.restart();
    return { label: `etcd SIGKILL, ${fault.downMs} ms, restart`, healMs: performance.now() - started };
  }
  const nodeId = await pickBroker(cluster, fault.target, rand);
  const label = `${fault.kind} broker ${nodeId} (${fault.target}), ${fault.downMs} ms`;
  if (fault.kind === 'pause') {
    cluster.pause(nodeId);
    await sleep(fault.downMs);
    cluster.resume(nodeId);
  } else if (NETWORK_FAULTS.includes(fault.kind as NetworkFaultKind)) {
    if (!network) throw new Error(`a ${fault.kind} fault needs the cluster on a network (the network option)`);
    const host = `node${nodeId}`;
    if (fault.kind === 'isolate') network.isolate(host);
    else if (fault.kind === 'cut-etcd') network.cut(host, ['etcd']);
    else network.cut(host, cluster.brokers.filter((b) => b.nodeId !== nodeId).map((b) => `node${b.nodeId}`));
    await sleep(fault.downMs);
    network.healAll();
  } else {
    await cluster.kill(nodeId, 'SIGKILL');
    await sleep(fault.downMs);
    await cluster.start(nodeId, { wipe: fault.kind === 'kill-wipe' });
  }
  return { label, healMs: performance.now() - started };
}

async function pickBroker(cluster: TestCluster, target: FaultTarget, rand: () => number): Promise<number> {
  const d = await cluster.describe();
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)]!;
  if (target === 'coordinator') {
    const group = pick(CLUSTER_TORTURE_GROUPS);
    const offsets = d.topics.find((t) => t.name === '__consumer_offsets')?.partitions.find((p) => p.partition === offsetsPartitionFor(group, OFFSETS_PARTITIONS));
    if (offsets && offsets.leader >= 0) return offsets.leader;
  }
  const p = pick(d.topics.find((t) => t.name === TORTURE_TOPIC)!.partitions);
  if (target === 'follower') return pick((p.replicas ?? []).filter((id) => id !== p.leader));
  return p.leader >= 0 ? p.leader : pick(cluster.brokers).nodeId;
}

/** Waits until every broker is registered and every partition (the topic's and the groups') has a leader and its whole ISR. */
async function heal(cluster: TestCluster): Promise<void> {
  await cluster.waitFor(
    (d) =>
      d.brokers.length === cluster.brokers.length &&
      d.controllerId >= 0 &&
      d.topics.every((t) => t.partitions.every((p) => p.leader >= 0 && (p.isr?.length ?? 0) === (p.replicas?.length ?? 0))),
    'every broker registered and every ISR whole',
    HEAL_TIMEOUT_MS,
  );
}

async function timed(fn: () => Promise<void>): Promise<number> {
  const started = performance.now();
  await fn();
  return performance.now() - started;
}

/** 32-bit FNV-1a of a key: what a consumer was handed, matched against the log's key at that offset. */
function keyHash(key: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < key.length; i++) h = Math.imul(h ^ key.charCodeAt(i), 0x01000193) >>> 0;
  return h;
}

/** A growable array of 32-bit values by offset. */
class OffsetTable {
  #values = new Uint32Array(1024);
  length = 0;
  set(offset: number, value: number): void {
    if (offset >= this.#values.length) {
      const grown = new Uint32Array(Math.max(offset + 1, this.#values.length * 2));
      grown.set(this.#values);
      this.#values = grown;
    }
    this.#values[offset] = value;
    if (offset >= this.length) this.length = offset + 1;
  }
  get(offset: number): number | undefined {
    return offset < this.length ? this.#values[offset] : undefined;
  }
}

/** What one group's consumers were handed, per partition: every offset seen, and the (offset, key) pairs not checked against the log yet. */
class Consumed {
  readonly seen: OffsetTable[];
  readonly pending: Array<Array<[number, number]>>;
  constructor(partitions: number) {
    this.seen = Array.from({ length: partitions }, () => new OffsetTable());
    this.pending = Array.from({ length: partitions }, () => []);
  }
  add(partition: number, offset: bigint, key: Buffer | null, value: Buffer | null): void {
    const k = key?.toString() ?? '';
    if (!value || !valueFor(k, value.length).equals(value)) throw new ConsistencyError(`a consumer was handed ${TORTURE_TOPIC}-${partition}@${offset} (${k}) with a damaged value`);
    this.seen[partition]!.set(Number(offset), 1);
    this.pending[partition]!.push([Number(offset), keyHash(k)]);
  }
}

/**
 * The producers and consumers that run through every fault. Producers write keys
 * `cycle.producer.seq` (producer 0: Sluice's client; 1: kafkajs) with values derived from them;
 * `pause()` stops new sends and waits for those in flight.
 */
class Workload {
  acked = new Map<string, Ack>();
  unacked = 0;
  consumedInCycle = 0;
  consumedTotal = 0;
  restarts = 0;
  readonly consumed: Consumed[];
  /** A consumer handed something broken: reported at the next check. */
  problem: Error | undefined;
  #cycle = 0;
  #sending = false;
  #closed = false;
  #resumed: { promise: Promise<void>; resolve: () => void } = deferred();
  #firstAck = deferred();
  readonly #inFlight = new Set<Promise<void>>();
  readonly #loops: Array<Promise<void>> = [];
  readonly #kafka: Kafka;
  #sluiceProducer: Producer | undefined;
  #kafkaProducer: KafkaProducer | undefined;
  readonly #kafkaConsumers: KafkaConsumer[] = [];
  #sluiceConsumer: Consumer | undefined;
  #seq = [0, 0];

  constructor(
    readonly cluster: TestCluster,
    readonly bootstrap: string,
    readonly partitions: number,
    readonly maxValueBytes: number,
    readonly rand: () => number,
    readonly log: (line: string) => void,
  ) {
    this.consumed = CLUSTER_TORTURE_GROUPS.map(() => new Consumed(partitions));
    this.#kafka = new Kafka({
      brokers: cluster.kafkaBootstrap(),
      clientId: 'torture',
      logLevel: logLevel.NOTHING,
      requestTimeout: 10_000,
      retry: { retries: 30, initialRetryTime: 100, maxRetryTime: 1_000 },
    });
  }

  async start(): Promise<void> {
    this.#loops.push(this.#sluiceProduceLoop(), this.#kafkaProduceLoop(), this.#sluiceConsumeLoop());
    for (let m = 0; m < 2; m++) await this.#startKafkaConsumer();
  }

  resume(cycle: number): void {
    this.#cycle = cycle;
    this.#firstAck = deferred();
    this.#sending = true;
    this.#resumed.resolve();
  }

  firstAck(): Promise<void> {
    return this.#firstAck.promise;
  }

  /** Stops new sends; resolves once every send in flight has settled. */
  async pause(): Promise<void> {
    // Loops waiting for the next resume wait on this promise: a new one only when they were sending.
    if (this.#sending) this.#resumed = deferred();
    this.#sending = false;
    while (this.#inFlight.size > 0) await Promise.allSettled([...this.#inFlight]);
  }

  nextCycle(): void {
    this.acked = new Map();
    this.unacked = 0;
    this.consumedInCycle = 0;
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#sending = false;
    this.#resumed.resolve();
    await Promise.allSettled([...this.#inFlight]);
    await Promise.allSettled([this.#sluiceConsumer?.close(), ...this.#kafkaConsumers.map((c) => c.disconnect())]);
    await Promise.allSettled(this.#loops);
    await Promise.allSettled([this.#sluiceProducer?.close(), this.#kafkaProducer?.disconnect()]);
  }

  #records(producer: number): { partition: number; keys: string[]; values: Buffer[] } {
    const partition = Math.floor(this.rand() * this.partitions);
    const keys = Array.from({ length: 1 + Math.floor(this.rand() * 8) }, () => `${this.#cycle}.${producer}.${this.#seq[producer]!++}`);
    return { partition, keys, values: keys.map((k) => valueFor(k, Math.floor(this.rand() * (this.maxValueBytes + 1)))) };
  }

  #acknowledged(partition: number, keys: readonly string[], offsets: readonly bigint[]): void {
    keys.forEach((key, i) => this.acked.set(key, { partition, offset: offsets[i]! }));
    this.#firstAck.resolve();
  }

  #track(sent: Promise<void>): Promise<void> {
    const tracked = sent.finally(() => this.#inFlight.delete(tracked));
    this.#inFlight.add(tracked);
    return tracked;
  }

  /** Sluice's client: idempotent, acks=all, up to four send() calls in flight; one that fails for good is counted unacknowledged. */
  async #sluiceProduceLoop(): Promise<void> {
    this.#sluiceProducer = new Producer({ broker: this.bootstrap, acks: 'all', retries: 30, retryBackoffMs: 100, lingerMs: 1, batchBytes: 32 * 1024 });
    while (!this.#closed) {
      if (!this.#sending) {
        await this.#resumed.promise;
        continue;
      }
      const { partition, keys, values } = this.#records(0);
      const producer = this.#sluiceProducer;
      void this.#track(
        producer.send(TORTURE_TOPIC, keys.map((key, i) => ({ key, value: values[i]!, partition }))).then(
          (metas) => this.#acknowledged(partition, keys, metas.map((m) => m.offset!)),
          () => void (this.unacked += keys.length),
        ),
      );
      if (this.#inFlight.size >= 4) await Promise.race(this.#inFlight);
    }
  }

  /** kafkajs: idempotent, acks=all, one send at a time; a producer whose send fails for good is replaced (a new producer id), as an application would. */
  async #kafkaProduceLoop(): Promise<void> {
    const connect = async () => {
      const p = this.#kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
      await p.connect();
      return p;
    };
    while (!this.#closed) {
      if (!this.#sending) {
        await this.#resumed.promise;
        continue;
      }
      try {
        this.#kafkaProducer ??= await connect();
      } catch {
        await sleep(200);
        continue;
      }
      const { partition, keys, values } = this.#records(1);
      const producer = this.#kafkaProducer;
      await this.#track(
        producer.send({ topic: TORTURE_TOPIC, acks: -1, messages: keys.map((key, i) => ({ key, value: values[i]!, partition })) }).then(
          (metas) => {
            const base = BigInt(metas[0]!.baseOffset!);
            this.#acknowledged(partition, keys, keys.map((_, i) => base + BigInt(i)));
          },
          async () => {
            this.unacked += keys.length;
            this.restarts++;
            this.#kafkaProducer = undefined;
            await producer.disconnect().catch(() => undefined);
          },
        ),
      );
    }
  }

  #handed(group: number, partition: number, offset: bigint, key: Buffer | null, value: Buffer | null): void {
    try {
      this.consumed[group]!.add(partition, offset, key, value);
      this.consumedInCycle++;
      this.consumedTotal++;
    } catch (err) {
      this.problem ??= err as Error;
    }
  }

  async #startKafkaConsumer(): Promise<void> {
    const consumer = this.#kafka.consumer({
      groupId: CLUSTER_TORTURE_GROUPS[0],
      sessionTimeout: 6_000,
      heartbeatInterval: 300,
      rebalanceTimeout: 10_000,
      maxWaitTimeInMs: 500,
      retry: { retries: 10, initialRetryTime: 100, maxRetryTime: 1_000 },
    });
    consumer.on(consumer.events.CRASH, (e) => this.log(`kafkajs member crashed: ${e.payload.error.name} ${e.payload.error.message} (restart: ${e.payload.restart})`));
    consumer.on(consumer.events.GROUP_JOIN, (e) => this.log(`kafkajs member joined: ${JSON.stringify(e.payload.memberAssignment)}`));
    consumer.on(consumer.events.STOP, () => this.log('kafkajs member stopped'));
    await consumer.connect();
    await consumer.subscribe({ topic: TORTURE_TOPIC, fromBeginning: true });
    await consumer.run({
      autoCommitInterval: 500,
      eachMessage: async ({ partition, message }) => this.#handed(0, partition, BigInt(message.offset), message.key, message.value),
    });
    this.#kafkaConsumers.push(consumer);
  }

  /** Sluice's consumer in its group; one whose iterator fails for good is replaced. */
  async #sluiceConsumeLoop(): Promise<void> {
    while (!this.#closed) {
      const consumer = new Consumer({ broker: this.bootstrap, groupId: CLUSTER_TORTURE_GROUPS[1], fromBeginning: true, autoCommitIntervalMs: 500, sessionTimeoutMs: 6_000, heartbeatIntervalMs: 300, maxWaitMs: 500, retries: 30 });
      this.#sluiceConsumer = consumer;
      try {
        consumer.subscribe([TORTURE_TOPIC]);
        for await (const batch of consumer.batches()) {
          for (const m of batch.messages) this.#handed(1, m.partition, m.offset, m.key, m.value);
          if (this.#closed) break;
        }
      } catch {
        if (!this.#closed) this.restarts++;
      } finally {
        await consumer.close().catch(() => undefined);
      }
      if (!this.#closed) await sleep(200);
    }
  }
}

function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}

/** Per partition, what the checks have established (see the top comment). */
class ClusterChecker {
  readonly #checked: Checked[];
  /** Per partition: the key hash of every record below the checked offset, for the consumers' check. */
  readonly #keys: OffsetTable[];
  /** Per partition and replica: a running hash of the batch headers below the checked offset. */
  readonly #replicaDigests: Array<Map<number, Hash>>;

  constructor(
    readonly cluster: TestCluster,
    readonly partitions: number,
  ) {
    this.#checked = Array.from({ length: partitions }, fresh);
    this.#keys = Array.from({ length: partitions }, () => new OffsetTable());
    this.#replicaDigests = Array.from({ length: partitions }, () => new Map());
  }

  /** Every check of the top comment but the final drain; returns the records in the topic. */
  async check(workload: Workload, full: boolean): Promise<bigint> {
    if (workload.problem) throw workload.problem;
    const clients = new Map(this.cluster.brokers.map((b) => [b.nodeId, new BrokerClient({ broker: `${b.host}:${b.port}`, retries: 10 })]));
    try {
      const description = await this.cluster.describe();
      const topic = description.topics.find((t) => t.name === TORTURE_TOPIC)!;
      const remaining = new Map(workload.acked);
      const highWatermarks: bigint[] = [];
      let records = 0n;
      for (const placement of topic.partitions) {
        const p = placement.partition;
        const where = `${TORTURE_TOPIC}-${p}`;
        const leader = placement.leader;
        const replicas = placement.replicas ?? [leader];
        const hw = await this.#settledHighWatermark(clients, where, p, leader, replicas);
        const prior = this.#checked[p]!;
        const from = full ? 0n : prior.upTo;
        const digests = new Map<number, Hash>();
        for (const id of replicas) digests.set(id, full ? createHash('sha256') : (this.#replicaDigests[p]!.get(id) ?? createHash('sha256')));
        const keys = this.#keys[p]!;
        const fetchFrom = (id: number) => async (offset: bigint): Promise<DecodedBatch[]> => (await fetchAt(clients.get(id)!, TORTURE_TOPIC, p, offset, { rackId: CHECK_RACK })).batches;
        const leaderBatches = batchesInto(digests.get(leader)!);
        this.#checked[p] = await checkPartition({
          fetch: fetchFrom(leader),
          where,
          partition: p,
          prior,
          full,
          highWatermark: hw,
          remaining,
          visit: (r, batch) => {
            keys.set(Number(r.offset), keyHash(r.key!.toString()));
            leaderBatches(r, batch);
          },
        });
        for (const id of replicas.filter((x) => x !== leader)) {
          await readRecords(fetchFrom(id), `${where} on broker ${id}`, from, hw, batchesInto(digests.get(id)!));
        }
        const leaderDigest = digests.get(leader)!.copy().digest('hex');
        for (const [id, digest] of digests) {
          if (digest.copy().digest('hex') !== leaderDigest) throw new ConsistencyError(`${where}: the replica on broker ${id} differs from the leader's (broker ${leader}) below the high watermark ${hw}`);
        }
        this.#replicaDigests[p] = digests;
        highWatermarks[p] = hw;
        records += hw;
      }
      missingAcks(remaining);
      this.#checkConsumed(workload, highWatermarks);
      await this.#checkCommits(highWatermarks);
      return records;
    } finally {
      await Promise.all([...clients.values()].map((c) => c.close()));
    }
  }

  /**
   * The leader's high watermark once it is the leader's log end and every replica has it too
   * (followers learn it at their next fetch): with the producers paused and every ISR whole, it
   * must get there.
   */
  async #settledHighWatermark(clients: Map<number, BrokerClient>, where: string, p: number, leader: number, replicas: readonly number[]): Promise<bigint> {
    const deadline = Date.now() + 30_000;
    for (;;) {
      const marks = await Promise.all(replicas.map(async (id) => (await fetchAt(clients.get(id)!, TORTURE_TOPIC, p, 0n, { maxBytes: 1, rackId: CHECK_RACK })).highWatermark));
      const logEnd = partitionOf(await this.cluster.describe(leader), TORTURE_TOPIC, p).logEndOffset;
      const hw = marks[replicas.indexOf(leader)]!;
      if (marks.every((m) => m === hw) && hw === logEnd) return hw;
      if (Date.now() > deadline) {
        throw new ConsistencyError(`${where}: the high watermarks did not reach the leader's log end ${logEnd} (${replicas.map((id, i) => `broker ${id}: ${marks[i]}`).join(', ')})`);
      }
      await sleep(100);
    }
  }

  /** Every record a consumer was handed below the checked offsets is the log's record there. */
  #checkConsumed(workload: Workload, highWatermarks: readonly bigint[]): void {
    for (const [g, consumed] of workload.consumed.entries()) {
      for (let p = 0; p < this.partitions; p++) {
        const upTo = Number(highWatermarks[p]!);
        const later: Array<[number, number]> = [];
        for (const [offset, hash] of consumed.pending[p]!) {
          if (offset >= upTo) {
            later.push([offset, hash]);
            continue;
          }
          if (this.#keys[p]!.get(offset) !== hash) throw new ConsistencyError(`group ${CLUSTER_TORTURE_GROUPS[g]} was handed a record at ${TORTURE_TOPIC}-${p}@${offset} that is not the log's record there`);
        }
        consumed.pending[p] = later;
      }
    }
  }

  async #checkCommits(highWatermarks: readonly bigint[]): Promise<Map<string, bigint[]>> {
    const committed = new Map<string, bigint[]>();
    const admin = new Admin({ broker: this.cluster.bootstrap(), retries: 20 });
    try {
      for (const group of CLUSTER_TORTURE_GROUPS) {
        const d = await admin.describeGroup(group).catch(() => undefined);
        const offsets = new Array<bigint>(this.partitions).fill(-1n);
        for (const o of d?.partitions ?? []) {
          if (o.topic !== TORTURE_TOPIC) continue;
          if (o.committedOffset > highWatermarks[o.partition]!) throw new ConsistencyError(`group ${group} committed ${o.committedOffset} for ${TORTURE_TOPIC}-${o.partition}, past its high watermark ${highWatermarks[o.partition]}`);
          offsets[o.partition] = o.committedOffset;
        }
        committed.set(group, offsets);
      }
    } finally {
      await admin.close();
    }
    return committed;
  }

  /** After the last check: both groups consume every record and commit the high watermark of every partition. */
  async drained(workload: Workload, log: (line: string) => void): Promise<void> {
    const hws = this.#checked.map((c) => c.upTo);
    const deadline = Date.now() + DRAIN_TIMEOUT_MS;
    for (;;) {
      if (workload.problem) throw workload.problem;
      const committed = await this.#checkCommits(hws);
      const behind = CLUSTER_TORTURE_GROUPS.flatMap((group, g) =>
        hws.flatMap((hw, p) => {
          const seen = workload.consumed[g]!.seen[p]!;
          let unseen = 0;
          for (let o = 0; o < Number(hw); o++) if (seen.get(o) !== 1) unseen++;
          const at = committed.get(group)![p]!;
          return unseen > 0 || at !== hw ? [`${group} ${TORTURE_TOPIC}-${p}: ${unseen} of ${hw} never handed, committed ${at}`] : [];
        }),
      );
      if (behind.length === 0) break;
      log(`drain: ${behind.join('; ')}`);
      if (Date.now() > deadline) throw new ConsistencyError(`the groups did not finish in ${DRAIN_TIMEOUT_MS} ms: ${behind.join('; ')}`);
      await sleep(500);
    }
    this.#checkConsumed(workload, hws);
    for (const [g, consumed] of workload.consumed.entries()) {
      const left = consumed.pending.reduce((n, p) => n + p.length, 0);
      if (left > 0) throw new ConsistencyError(`group ${CLUSTER_TORTURE_GROUPS[g]} was handed ${left} records past the final high watermarks`);
    }
  }
}

/** A record visitor that adds each batch's identity to `digest` once (at its first record read). */
function batchesInto(digest: Hash): (r: unknown, batch: DecodedBatch) => void {
  let last = -1n;
  return (_r, batch) => {
    if (batch.baseOffset !== last) digest.update(batchIdentity(batch));
    last = batch.baseOffset;
  };
}

/** What makes two copies of a batch the same bytes: where it sits, its size, its leader epoch and its CRC (which covers the rest). */
function batchIdentity(b: DecodedBatch): string {
  return `${b.baseOffset}:${b.sizeBytes}:${b.partitionLeaderEpoch}:${b.crc}\n`;
}
