// The broker fan-out benchmark: a real broker process per fetch path, a topic preloaded through
// the produce path, and N native consumers (crates/loadgen fetch_load) that each read the whole
// topic from offset 0 to its end with real Fetch requests, beside the raw limit (a native loop that
// sendfiles the same segment file to N sockets with no protocol). Every pass is verified before it
// counts: each consumer must reach the end offset of every partition, and one consumer per pass
// checks every batch's CRC-32C.
//
// Per cell: aggregate GiB/s delivered, broker CPU-s per GiB (utime+stime from /proc/<pid>/stat),
// the consumers' CPU-s per GiB, p50/p99 fetch latency, broker peak RSS; each cell repeated and
// reported as the median with min and max. Cells run for at least `minSeconds` (whole passes).
//
// Protocols: `sluice` fetches through Sluice's own protocol; `kafka` through the Kafka listener
// with Fetch v4 requests shaped as kafkajs sends them (replica -1, READ_COMMITTED, one topic and
// partition), in the same run and against the same broker, so the two front doors compare side
// by side.

import { mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { Connection } from '../src/client/connection.js';
import { native } from '../src/native.js';
import { ApiKey, type MetadataResponse } from '../src/protocol/messages.js';
import { encodeRecordBatch } from '../src/protocol/record-batch.js';
import { fillTopic, KafkaBenchClient, retryKafka } from './kafka-requests.js';
import { startKafkaPeer, type KafkaPeer } from './kafka-peer.js';
import type { FetchPath } from '../src/transfer/engine.js';
import { freePort, processCpuSeconds, rssMiB, startBenchBroker, threadCpuSeconds, threadCpuSince, type BenchBroker } from '../test/harness/broker-process.js';
import { fanoutSpec, writeSvg } from './chart.js';
import { connectConsumers, finish } from './transfer-fanout.js';
import { machineInfo, type MachineInfo } from '../test/harness/machine.js';
import { median, percentile, summarize } from '../test/harness/util.js';
import { TOPIC, fetchTemplate, kafkaFetchTemplate, subscribeTemplates, type KafkaFetchVersion } from '../test/harness/request-templates.js';

export { fetchTemplate, kafkaFetchTemplate, subscribeTemplates };

// The raw loop sends as the broker's sender does by default: each call asks for the rest of the file.
const RAW_CHUNK_BYTES = 1024 * 1024 * 1024;
const RAW_SEND_BUFFER_BYTES = 102_400;

/** `sluice`: Sluice's Fetch; `subscribe`: Sluice's push subscriptions (window = fetch bytes); `kafka`: Kafka Fetch v4 on the Kafka listener. */
export const FANOUT_PROTOCOLS = ['sluice', 'subscribe', 'kafka'] as const;
export type FanoutProtocol = (typeof FANOUT_PROTOCOLS)[number];
export const FANOUT_PEERS = ['kafka'] as const;
export type FanoutPeer = (typeof FANOUT_PEERS)[number];

export interface BrokerFanoutOptions {
  /** Front doors to fetch through (Sluice's own is always measured, as the baseline). */
  protocols: FanoutProtocol[];
  /** Another broker measured beside Sluice in the same run: Apache Kafka (bench/kafka-peer.ts). */
  peer: FanoutPeer | null;
  peerVersion: string;
  gib: number;
  /** Partition counts: a topic each, every cell measured for each. */
  partitions: number[];
  recordBytes: number;
  batchBytes: number;
  paths: FetchPath[];
  consumers: number[];
  fetchBytes: number;
  /**
   * The Fetch versions the Kafka-protocol consumers send to Sluice's Kafka door, each a cell of its
   * own alternating with the others within each repeat; the peer gets the first.
   */
  kafkaFetchVersions: KafkaFetchVersion[];
  repeat: number;
  /** Each cell runs whole passes until at least this long. */
  minSeconds: number;
  /** Measure the raw limit too. */
  raw: boolean;
  /** Extra `sluice broker` flags (a sender setting to sweep, say). */
  brokerArgs: string[];
  dir: string;
  /** Called as cells finish: (cells done, cells in all, what just ran). */
  progress?: (done: number, total: number, label: string) => void;
  log?: (line: string) => void;
}

interface Figures {
  gibPerSec: number;
  brokerCpuSecPerGib: number;
  consumerCpuSecPerGib: number;
  fetchP50Ms: number;
  fetchP99Ms: number;
  brokerRssMiB: number;
}

export interface BrokerFanoutRun extends Figures {
  /** Which broker served: Sluice, or the peer. */
  broker: 'sluice' | FanoutPeer;
  protocol: FanoutProtocol;
  /** The Fetch version the consumers sent (Kafka's protocol only). */
  kafkaFetchVersion?: KafkaFetchVersion;
  /** Sluice's fetch path (the peer's own way is reported as `sendfile`: Kafka's transferTo). */
  path: FetchPath;
  partitions: number;
  consumers: number;
  pctOfRaw: number | null;
  min: Figures;
  max: Figures;
  repeats: number;
  passes: number;
  seconds: number;
  /** The broker's CPU-s per GiB by thread group, over all repeats (threads alive at the end). */
  threadCpuSecPerGib: Record<string, number>;
}

export interface RawRun {
  /** Sockets the raw loop sent to: a cell's consumers times its partitions (each consumer reads each partition on a connection of its own). */
  consumers: number;
  gibPerSec: number;
  senderCpuSecPerGib: number;
  min: number;
  max: number;
}

/** One cell of "Sluice vs Kafka": Sluice's Kafka door (sendfile) and the peer, identical consumers. */
export interface PeerComparison {
  /** How Sluice's consumers read in this row: Kafka Fetch v4 on its Kafka door (the identical consumers), or its push subscriptions (what Kafka has no counterpart for). */
  sluiceProtocol: 'kafka' | 'subscribe';
  partitions: number;
  consumers: number;
  sluice: Figures;
  peer: Figures;
  /** Sluice / peer, per figure. */
  ratio: Figures;
  rawGibPerSec: number | null;
}

export interface BrokerFanoutReport {
  machine: MachineInfo;
  config: Omit<BrokerFanoutOptions, 'progress' | 'log' | 'dir'> & { topics: Array<{ name: string; partitions: number; bytes: number; endOffsets: string[] }> };
  preload: { bytes: number; seconds: number; mbPerSec: number };
  peer: { name: string; version: string; startSeconds: number; preload: { bytes: number; seconds: number; mbPerSec: number } } | null;
  runs: BrokerFanoutRun[];
  raw: RawRun[];
  comparison: PeerComparison[];
}

/** The preload's batch: `recordBytes` records filling up to `batchBytes`, the same bytes for every broker. */
function preloadBatch(o: BrokerFanoutOptions): Buffer {
  const value = Buffer.alloc(o.recordBytes, 0x61);
  const perBatch = Math.max(1, Math.floor(o.batchBytes / (o.recordBytes + 12)));
  return encodeRecordBatch(Array.from({ length: perBatch }, () => ({ value })));
}

/** Fills the topic through Sluice's produce path: `batchesPerPartition` copies of `batch` in each partition (the broker stamps offsets). */
async function preload(port: number, topic: string, partitions: number, batch: Buffer, batchesPerPartition: number): Promise<{ bytes: number; seconds: number; endOffsets: bigint[] }> {
  const c = await Connection.connect({ host: '127.0.0.1', port, clientId: 'bench-preload' });
  try {
    await c.request(ApiKey.CreateTopics, 0, { topics: [{ name: topic, partitions }] });
    const perRequest = Math.max(1, Math.floor((1024 * 1024) / batch.length));
    const total = batchesPerPartition * partitions;
    const t0 = performance.now();
    let sent = 0;
    const inFlight: Array<Promise<unknown>> = [];
    while (sent < total) {
      const parts = Array.from({ length: Math.min(perRequest, total - sent) }, () => ({ topic, partition: sent++ % partitions, bytes: batch.length }));
      inFlight.push(c.request(ApiKey.Produce, 0, { acks: 1, partitions: parts }, parts.map(() => batch)));
      if (inFlight.length >= 8) await inFlight.shift();
    }
    await Promise.all(inFlight);
    const seconds = (performance.now() - t0) / 1000;
    const meta = (await c.request(ApiKey.Metadata, 0, { topics: [topic] })).body as MetadataResponse;
    return { bytes: total * batch.length, seconds, endOffsets: meta.topics[0]!.partitions.map((p) => p.highWatermark!) };
  } finally {
    await c.close();
  }
}

/** Fills the peer's topic with the same batches through its Kafka port. */
async function preloadPeer(port: number, topic: string, partitions: number, batch: Buffer, batchesPerPartition: number): Promise<{ bytes: number; seconds: number; endOffsets: bigint[] }> {
  const c = await KafkaBenchClient.connect(port);
  try {
    await retryKafka(30_000, () => c.createTopic(topic, partitions));
    const { bytes, seconds } = await fillTopic(c, topic, partitions, batch, batchesPerPartition);
    return { bytes, seconds, endOffsets: await c.endOffsets(topic, partitions) };
  } finally {
    await c.close();
  }
}

interface Sample extends Figures {
  passes: number;
  seconds: number;
  threadCpu: Map<string, number>;
  gib: number;
}

/** What a cell reads from: a broker process, the port of one of its doors, and how to frame fetches there. */
interface Target {
  broker: 'sluice' | FanoutPeer;
  protocol: FanoutProtocol;
  /** Kafka's protocol: the Fetch version its consumers send. */
  kafkaFetchVersion?: KafkaFetchVersion;
  pid: number;
  port: number;
}

interface Topic {
  name: string;
  partitions: number;
  batchesPerPartition: number;
  bytes: number;
  endOffsets: bigint[];
}

async function kafkaTopicId(port: number, topic: string): Promise<string> {
  const client = await KafkaBenchClient.connect(port);
  try {
    return await client.topicId(topic);
  } finally {
    await client.close();
  }
}

async function runCell(target: Target, topic: Topic, consumers: number, o: BrokerFanoutOptions): Promise<Sample> {
  const { pid } = target;
  // Fetch v13+ names the topic by id: the broker's own, from its Metadata.
  const version = target.kafkaFetchVersion ?? 4;
  const topicId = target.protocol === 'kafka' && version >= 12 ? await kafkaTopicId(target.port, topic.name) : undefined;
  const templates = topic.endOffsets.map((_, p) =>
    target.protocol === 'kafka'
      ? { ...kafkaFetchTemplate(p, o.fetchBytes, topic.name, { version, topicId }), credit: undefined }
      : target.protocol === 'subscribe'
        ? { ...subscribeTemplates(p, o.fetchBytes, topic.name), headBytes: 0 }
        : { ...fetchTemplate(p, o.fetchBytes, { topic: topic.name }), headBytes: 0, credit: undefined },
  );
  let rssPeak = rssMiB(pid);
  const rssTimer = setInterval(() => (rssPeak = Math.max(rssPeak, rssMiB(pid))), 100);
  const threads0 = threadCpuSeconds(pid);
  const cpu0 = processCpuSeconds(pid);
  const t0 = performance.now();
  let bytes = 0;
  let consumerCpu = 0;
  let passes = 0;
  const latencies: number[] = [];
  try {
    do {
      const loads = templates.map((t, p) => new native.NativeFetchLoad('127.0.0.1', target.port, consumers, t.frame, t.correlationAt, t.offsetAt, 0n, topic.endOffsets[p]!, 1, t.headBytes, t.credit, 'tailBytes' in t ? t.tailBytes : undefined));
      const results = await Promise.all(loads.map((l) => l.wait()));
      results.forEach((r, p) => {
        for (const c of r.consumers) {
          if (c.error) throw new Error(`verify: a consumer of ${topic.name}-${p} on ${target.broker} failed: ${c.error}`);
          if (c.nextOffset !== topic.endOffsets[p]!) throw new Error(`verify: a consumer of ${topic.name}-${p} on ${target.broker} stopped at ${c.nextOffset}, the end is ${topic.endOffsets[p]}`);
        }
        const checker = r.consumers[0]!;
        if (checker.crcChecked === 0 || checker.crcChecked !== checker.batches) throw new Error(`verify: CRC-checked ${checker.crcChecked} of ${checker.batches} batches`);
        bytes += r.consumers.reduce((n, c) => n + c.dataBytes, 0);
        consumerCpu += r.cpuSeconds;
        for (const l of r.latenciesUs) latencies.push(l);
      });
      passes++;
    } while (performance.now() - t0 < o.minSeconds * 1000);
  } finally {
    clearInterval(rssTimer);
  }
  const seconds = (performance.now() - t0) / 1000;
  const cpu = processCpuSeconds(pid) - cpu0;
  const threadCpu = threadCpuSince(pid, threads0);
  const gib = bytes / 2 ** 30;
  latencies.sort((a, b) => a - b);
  return {
    gibPerSec: gib / seconds,
    brokerCpuSecPerGib: cpu / gib,
    consumerCpuSecPerGib: consumerCpu / gib,
    fetchP50Ms: percentile(latencies, 50) / 1000,
    fetchP99Ms: percentile(latencies, 99) / 1000,
    brokerRssMiB: rssPeak,
    passes,
    seconds,
    threadCpu,
    gib,
  };
}

async function runRaw(segmentPath: string, consumers: number, seconds: number): Promise<{ gibPerSec: number; senderCpuSecPerGib: number }> {
  const c = await connectConsumers(consumers, 'raw');
  const fds = c.sockets.map((s) => (s as unknown as { _handle: { fd: number } })._handle.fd);
  const r = await native.rawFanout('sendfile', segmentPath, fds, RAW_CHUNK_BYTES, RAW_SEND_BUFFER_BYTES, Math.max(300, seconds * 1000));
  await finish(c, r.bytes);
  const gib = r.bytes / 2 ** 30;
  return { gibPerSec: gib / r.seconds, senderCpuSecPerGib: r.cpuSeconds / gib };
}

const FIGURES = ['gibPerSec', 'brokerCpuSecPerGib', 'consumerCpuSecPerGib', 'fetchP50Ms', 'fetchP99Ms', 'brokerRssMiB'] as const;

/** CPU-s per GiB by thread group over samples, the busiest first, threads under 1% of the total left out. */
function threadShares(samples: Sample[]): Record<string, number> {
  const gib = samples.reduce((n, s) => n + s.gib, 0);
  const sums = new Map<string, number>();
  for (const s of samples) for (const [name, cpu] of s.threadCpu) sums.set(name, (sums.get(name) ?? 0) + cpu);
  const total = [...sums.values()].reduce((a, b) => a + b, 0);
  return Object.fromEntries([...sums].filter(([, cpu]) => cpu > total / 100).sort((a, b) => b[1] - a[1]).map(([name, cpu]) => [name, Number((cpu / gib).toFixed(4))]));
}

export async function runBrokerFanout(o: BrokerFanoutOptions): Promise<BrokerFanoutReport> {
  const say = o.log ?? (() => undefined);
  const dataDir = mkdtempSync(join(o.dir, 'sluice-bench-broker-'));
  const segmentBytes = 256 * 1024 * 1024;
  // With a peer the consumers are identical on both brokers: Kafka's Fetch, so Sluice's Kafka door is measured too.
  const protocols = [...new Set<FanoutProtocol>(['sluice', ...o.protocols, ...(o.peer ? (['kafka'] as const) : [])])];
  // The peer has no fetch paths of Sluice's: it runs beside the first path only.
  const peerPath = o.paths.includes('sendfile') ? 'sendfile' : o.paths[0];
  const cellsPerRepeat = (path: FetchPath) => protocols.length + (protocols.includes('kafka') ? o.kafkaFetchVersions.length - 1 : 0) + (o.peer && path === peerPath ? 1 : 0);
  // The raw limit of a cell is measured with as many sockets as the cell has connections.
  const rawSockets = [...new Set(o.partitions.flatMap((p) => o.consumers.map((n) => n * p)))].sort((a, b) => a - b);
  const total = o.paths.reduce((n, path) => n + cellsPerRepeat(path), 0) * o.partitions.length * o.consumers.length * o.repeat + (o.raw ? rawSockets.length * o.repeat : 0);
  let done = 0;
  const tick = (label: string) => o.progress?.(++done, total, label);
  let peer: KafkaPeer | null = null;
  let broker: BenchBroker | null = null;
  try {
    const brokerArgs = [...o.brokerArgs, '--segment-bytes', String(segmentBytes), ...(protocols.includes('kafka') ? ['--kafka-port', String(await freePort())] : [])];
    broker = await startBenchBroker(dataDir, o.paths[0] ?? 'sendfile', brokerArgs);
    const batch = preloadBatch(o);
    const topics: Topic[] = [];
    let preloaded = { bytes: 0, seconds: 0 };
    for (const partitions of o.partitions) {
      const name = o.partitions.length === 1 ? TOPIC : `${TOPIC}-${partitions}p`;
      const batchesPerPartition = Math.max(1, Math.ceil((o.gib * 2 ** 30) / batch.length / partitions));
      say(`broker fanout: preloading ${o.gib} GiB into ${name} (${partitions} partition(s)) through the produce path ...`);
      const loaded = await preload(broker.port, name, partitions, batch, batchesPerPartition);
      preloaded = { bytes: preloaded.bytes + loaded.bytes, seconds: preloaded.seconds + loaded.seconds };
      topics.push({ name, partitions, batchesPerPartition, bytes: loaded.bytes, endOffsets: loaded.endOffsets });
    }
    say(`broker fanout: preloaded ${(preloaded.bytes / 2 ** 30).toFixed(2)} GiB in ${preloaded.seconds.toFixed(1)} s (${(preloaded.bytes / preloaded.seconds / 1e6).toFixed(0)} MB/s, acks=1, 1 MiB requests)`);
    let peerReport: BrokerFanoutReport['peer'] = null;
    if (o.peer) {
      say(`broker fanout: starting Apache Kafka ${o.peerVersion} (KRaft, single node, stock settings) ...`);
      peer = await startKafkaPeer(o.dir, o.peerVersion, say);
      let peerLoad = { bytes: 0, seconds: 0 };
      for (const topic of topics) {
        const loaded = await preloadPeer(peer.kafkaPort, topic.name, topic.partitions, batch, topic.batchesPerPartition);
        if (loaded.endOffsets.join() !== topic.endOffsets.join()) throw new Error(`verify: Kafka holds offsets ${loaded.endOffsets.join()} of ${topic.name}, Sluice ${topic.endOffsets.join()}`);
        peerLoad = { bytes: peerLoad.bytes + loaded.bytes, seconds: peerLoad.seconds + loaded.seconds };
      }
      peerReport = { name: 'Apache Kafka', version: peer.version, startSeconds: peer.startSeconds, preload: { ...peerLoad, mbPerSec: peerLoad.bytes / peerLoad.seconds / 1e6 } };
      say(`broker fanout: Kafka answered ${peer.startSeconds.toFixed(1)} s after its JVM started; preloaded the same batches at ${peerReport.preload.mbPerSec.toFixed(0)} MB/s`);
    }
    const runs: BrokerFanoutRun[] = [];
    for (const path of o.paths) {
      if (broker.path !== path) {
        await broker.stop();
        broker = await startBenchBroker(dataDir, path, brokerArgs);
      }
      const sluice = broker;
      const targets: Target[] = protocols.flatMap((protocol): Target[] =>
        protocol === 'kafka'
          ? o.kafkaFetchVersions.map((kafkaFetchVersion) => ({ broker: 'sluice', protocol, kafkaFetchVersion, pid: sluice.proc.pid!, port: sluice.kafkaPort! }))
          : [{ broker: 'sluice', protocol, pid: sluice.proc.pid!, port: sluice.port }],
      );
      if (peer && path === peerPath) targets.push({ broker: o.peer!, protocol: 'kafka', kafkaFetchVersion: o.kafkaFetchVersions[0]!, pid: peer.proc.pid!, port: peer.kafkaPort });
      // An unmeasured pass per broker first: the JVM's JIT compiles the hot paths (Kafka's first
      // cell otherwise pays for it), and every broker has served these bytes once.
      for (const target of targets) for (const topic of topics) await runCell(target, topic, 1, { ...o, minSeconds: 0 });
      for (const topic of topics) {
        for (const n of o.consumers) {
          // The targets alternate within each repeat, so drift on a shared machine hits all alike.
          const samples = targets.map(() => [] as Sample[]);
          for (let r = 0; r < o.repeat; r++) {
            for (const [i, target] of targets.entries()) {
              samples[i]!.push(await runCell(target, topic, n, o));
              tick(`${rowLabel(target, path, peerReport, o.kafkaFetchVersions)} p${topic.partitions} x${n}`);
            }
          }
          for (const [i, target] of targets.entries()) {
            const list = samples[i]!;
            const { mid, min, max } = summarize(list, FIGURES);
            runs.push({ broker: target.broker, protocol: target.protocol, ...(target.kafkaFetchVersion === undefined ? {} : { kafkaFetchVersion: target.kafkaFetchVersion }), path, partitions: topic.partitions, consumers: n, ...mid, pctOfRaw: null, min, max, repeats: list.length, passes: list.reduce((a, s) => a + s.passes, 0), seconds: list.reduce((a, s) => a + s.seconds, 0), threadCpuSecPerGib: threadShares(list) });
            say(`broker fanout: ${rowLabel(target, path, peerReport, o.kafkaFetchVersions)} p${topic.partitions} x${n}: ${mid.gibPerSec.toFixed(2)} GiB/s, broker ${mid.brokerCpuSecPerGib.toFixed(3)} CPU-s/GiB, ${fetchP99({ ...mid, protocol: target.protocol })}`);
          }
        }
      }
    }
    await broker.stop();
    broker = null;

    const raw: RawRun[] = [];
    if (o.raw) {
      const segment = join(dataDir, `${topics[0]!.name}-0`, '00000000000000000000.log');
      for (const n of rawSockets) {
        const samples = [];
        for (let r = 0; r < o.repeat; r++) {
          samples.push(await runRaw(segment, n, o.minSeconds));
          tick(`raw x${n}`);
        }
        const g = samples.map((s) => s.gibPerSec);
        raw.push({ consumers: n, gibPerSec: median(g), senderCpuSecPerGib: median(samples.map((s) => s.senderCpuSecPerGib)), min: Math.min(...g), max: Math.max(...g) });
      }
      for (const run of runs) {
        const limit = raw.find((r) => r.consumers === run.consumers * run.partitions);
        run.pctOfRaw = limit ? (100 * run.gibPerSec) / limit.gibPerSec : null;
      }
    }
    const { progress: _p, log: _l, dir: _d, ...config } = o;
    return {
      machine: machineInfo(),
      config: { ...config, topics: topics.map((t) => ({ name: t.name, partitions: t.partitions, bytes: t.bytes, endOffsets: t.endOffsets.map(String) })) },
      preload: { ...preloaded, mbPerSec: preloaded.bytes / preloaded.seconds / 1e6 },
      peer: peerReport,
      runs,
      raw,
      comparison: o.peer ? compare(runs, raw, peerPath!) : [],
    };
  } finally {
    await broker?.stop();
    await peer?.stop();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

/** Pairs each peer cell with Sluice's Kafka door (and its subscriptions, when measured) on the same path, partitions and consumers. */
function compare(runs: BrokerFanoutRun[], raw: RawRun[], path: FetchPath): PeerComparison[] {
  const figures = (r: BrokerFanoutRun): Figures => Object.fromEntries(FIGURES.map((k) => [k, r[k]])) as unknown as Figures;
  return runs
    .filter((r) => r.broker !== 'sluice')
    .flatMap((peer) =>
      (['kafka', 'subscribe'] as const).flatMap((sluiceProtocol) => {
        const sluice = runs.find((r) => r.broker === 'sluice' && r.protocol === sluiceProtocol && (r.kafkaFetchVersion ?? peer.kafkaFetchVersion) === peer.kafkaFetchVersion && r.path === path && r.partitions === peer.partitions && r.consumers === peer.consumers);
        if (!sluice) return [];
        const ratio = Object.fromEntries(FIGURES.map((k) => [k, sluice[k] / peer[k]])) as unknown as Figures;
        const rawGibPerSec = raw.find((r) => r.consumers === peer.consumers * peer.partitions)?.gibPerSec ?? null;
        return [{ sluiceProtocol, partitions: peer.partitions, consumers: peer.consumers, sluice: figures(sluice), peer: figures(peer), ratio, rawGibPerSec }];
      }),
    );
}

/** A cell's fetch p99, or that it made none (push subscriptions: one Subscribe, then pushes). */
function fetchP99(r: { protocol: FanoutProtocol; fetchP99Ms: number }): string {
  return r.protocol === 'subscribe' ? 'no fetches' : `p99 ${r.fetchP99Ms.toFixed(1)} ms`;
}

/**
 * A table row's and chart series' name: the broker, the fetch path, and the protocol when it is not
 * Sluice's (with the Fetch version when several were measured).
 */
function rowLabel(r: { broker: 'sluice' | FanoutPeer; protocol: FanoutProtocol; kafkaFetchVersion?: number }, path: FetchPath, peer: BrokerFanoutReport['peer'], versions: readonly number[] = []): string {
  if (r.broker !== 'sluice') return `${peer?.name ?? r.broker} ${peer?.version ?? ''}`.trim();
  if (r.protocol === 'sluice') return path;
  return versions.length > 1 && r.kafkaFetchVersion !== undefined ? `${path} (${r.protocol} v${r.kafkaFetchVersion})` : `${path} (${r.protocol})`;
}

/** Markdown table: one row per broker, protocol, path and partition count (and raw), one column per consumer count. */
export function brokerFanoutTable(report: BrokerFanoutReport): string {
  const counts = report.config.consumers;
  const multi = report.config.partitions.length > 1;
  const head = `| path | ${counts.map((n) => `${n} consumer${n === 1 ? '' : 's'}`).join(' | ')} |\n|---|${counts.map(() => '---').join('|')}|\n`;
  // A raw row per partition count: each cell beside the raw loop on as many sockets as it had connections.
  const rawRow = report.raw.length
    ? report.config.partitions
        .map((p) => `| raw${multi ? `, ${p} partitions (consumers x ${p} sockets)` : ''} | ${counts.map((n) => {
            const r = report.raw.find((x) => x.consumers === n * p);
            return r ? `${r.gibPerSec.toFixed(2)} GiB/s, ${r.senderCpuSecPerGib.toFixed(3)} CPU-s/GiB` : '-';
          }).join(' | ')} |\n`)
        .join('')
    : '';
  const keys = [...new Map(report.runs.map((r) => [`${r.broker} ${r.protocol} ${r.kafkaFetchVersion ?? ''} ${r.path} ${r.partitions}`, r])).values()];
  const rows = keys
    .map((k) => {
      const cells = counts.map((n) => {
        const r = report.runs.find((x) => x.broker === k.broker && x.protocol === k.protocol && x.kafkaFetchVersion === k.kafkaFetchVersion && x.path === k.path && x.partitions === k.partitions && x.consumers === n);
        if (!r) return '-';
        const pct = r.pctOfRaw === null ? '' : ` (${r.pctOfRaw.toFixed(0)}% of raw)`;
        return `${r.gibPerSec.toFixed(2)} GiB/s${pct}, ${r.brokerCpuSecPerGib.toFixed(3)} CPU-s/GiB, ${fetchP99(r)}, ${r.brokerRssMiB.toFixed(0)} MiB`;
      });
      return `| ${rowLabel(k, k.path, report.peer, report.config.kafkaFetchVersions)}${multi ? `, ${k.partitions} partitions` : ''} | ${cells.join(' | ')} |\n`;
    })
    .join('');
  return head + rawRow + rows;
}

/** Markdown "Sluice vs Kafka": per partitions and consumers, Sluice / peer and their ratio, beside the raw limit. */
export function peerComparisonTable(report: BrokerFanoutReport): string {
  if (!report.peer) return '';
  const pair = (s: number, k: number, digits: number, ratio: number) => `${s.toFixed(digits)} / ${k.toFixed(digits)} (${ratio.toFixed(2)})`;
  const head = `| Sluice's consumers read by | partitions | consumers | GiB/s Sluice / Kafka (ratio) | broker CPU-s per GiB Sluice / Kafka (ratio) | fetch p99 ms Sluice / Kafka | broker RSS MiB Sluice / Kafka | raw GiB/s |\n|---|---|---|---|---|---|---|---|\n`;
  return (
    head +
    report.comparison
      .map((c) => `| ${c.sluiceProtocol === 'kafka' ? 'Kafka Fetch v4 (identical)' : 'push subscriptions'} | ${c.partitions} | ${c.consumers} | ${pair(c.sluice.gibPerSec, c.peer.gibPerSec, 2, c.ratio.gibPerSec)} | ${pair(c.sluice.brokerCpuSecPerGib, c.peer.brokerCpuSecPerGib, 3, c.ratio.brokerCpuSecPerGib)} | ${c.sluiceProtocol === 'subscribe' ? '(no fetches)' : c.sluice.fetchP99Ms.toFixed(1)} / ${c.peer.fetchP99Ms.toFixed(1)} | ${c.sluice.brokerRssMiB.toFixed(0)} / ${c.peer.brokerRssMiB.toFixed(0)} | ${c.rawGibPerSec === null ? '-' : c.rawGibPerSec.toFixed(2)} |\n`)
      .join('')
  );
}

export async function writeBrokerFanoutChart(report: BrokerFanoutReport, path: string): Promise<void> {
  const multi = report.config.partitions.length > 1;
  const bytes = report.config.topics.reduce((n, t) => Math.max(n, t.bytes), 0);
  // The raw loop per partition count, at each consumer count's number of sockets.
  const raw = report.config.partitions.flatMap((p) =>
    report.config.consumers.flatMap((n) => {
      const r = report.raw.find((x) => x.consumers === n * p);
      return r ? [{ path: `raw sendfile loop${multi ? `, ${p}p sockets` : ''}`, consumers: n, gibPerSec: r.gibPerSec, senderCpuPerGiB: r.senderCpuSecPerGib }] : [];
    }),
  );
  const options = { logConsumers: true, cpuTitle: 'broker CPU-s per GiB (lower is better)' };
  if (report.peer) {
    // With a peer the chart is the comparison: Sluice's Kafka door and the peer, identical consumers.
    const name = `${report.peer.name} ${report.peer.version}`;
    const series = (who: string, p: number) => `${who}${multi ? `, ${p} partition${p === 1 ? '' : 's'}` : ''}`;
    const points = report.comparison.flatMap((c) => [
      { path: series(c.sluiceProtocol === 'kafka' ? 'Sluice' : 'Sluice, push subscriptions', c.partitions), consumers: c.consumers, gibPerSec: c.sluice.gibPerSec, senderCpuPerGiB: c.sluice.brokerCpuSecPerGib },
      // The peer's figures once per cell (rows of both Sluice protocols share them).
      ...(c.sluiceProtocol === 'kafka' || !report.comparison.some((o) => o.sluiceProtocol === 'kafka' && o.partitions === c.partitions && o.consumers === c.consumers)
        ? [{ path: series(name, c.partitions), consumers: c.consumers, gibPerSec: c.peer.gibPerSec, senderCpuPerGiB: c.peer.brokerCpuSecPerGib }]
        : []),
    ]);
    await writeSvg(fanoutSpec([...points, ...raw], `Fan-out, Sluice vs ${name}: ${(bytes / 2 ** 30).toFixed(2)} GiB topic, ${report.config.fetchBytes / 1024} KiB Kafka Fetch v${report.config.kafkaFetchVersions[0]}, identical consumers`, { ...options, seriesTitle: 'broker' }), path);
    return;
  }
  const points = report.runs.map((r) => ({ path: `${rowLabel(r, r.path, report.peer, report.config.kafkaFetchVersions)}${multi ? `, ${r.partitions}p` : ''}`, consumers: r.consumers, gibPerSec: r.gibPerSec, senderCpuPerGiB: r.brokerCpuSecPerGib }));
  await writeSvg(fanoutSpec([...points, ...raw], `Broker fan-out: ${(bytes / 2 ** 30).toFixed(2)} GiB topic, ${report.config.fetchBytes / 1024} KiB fetches`, options), path);
}
