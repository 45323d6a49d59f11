// The end-to-end latency benchmark: a real broker process, one TypeScript Producer offering a
// fixed rate of records to one partition, one TypeScript Consumer (worker thread) timing each
// record from send() to receipt, and N other consumers (native, crates/loadgen fetch_load)
// tailing the same partition at the same time: what does fan-out do to the latency of the stream?
// Each consume mode is a cell of its own: `fetch` (long-poll fetches, as Kafka consumers read) and
// `subscribe` (push subscriptions: the measuring consumer is a Subscription, the fan-out consumers
// subscribe with a window of `fanoutFetchBytes` and grant credit back). A cell counts only when the measuring consumer got every record in
// order and every fan-out consumer reached the end with CRC-checked batches.
//
// Per cell (fan-out N): p50/p99/p99.9/max latency, the rate achieved, what the fan-out consumers
// were served, and the broker's CPU use.

import { Worker } from 'node:worker_threads';
import type { TopLevelSpec } from 'vega-lite';
import { Connection } from '../src/client/connection.js';
import { Producer } from '../src/client/producer.js';
import { native } from '../src/native.js';
import type { NativeFetchLoad, NativeFetchLoadResult } from 'sluice/native';
import { ApiKey } from '../src/protocol/messages.js';
import type { FetchPath } from '../src/transfer/engine.js';
import { processCpuSeconds, threadCpuSeconds, threadCpuSince, withBenchBroker } from '../test/harness/broker-process.js';
import { fetchTemplate, subscribeTemplates } from './broker-fanout.js';
import { writeSvg } from './chart.js';
import type { LatencyWorkerConfig, LatencyWorkerResult } from './latency-worker.js';
import { machineInfo, type MachineInfo } from '../test/harness/machine.js';
/** The latency benchmark's producer acks: 1, or all (idempotent, the Producer's default). */
type BenchAcks = 1 | 'all';
import { percentile } from '../test/harness/util.js';

/** A record's value starts with its send time (u64 ns) and sequence number (u32). */
const STAMP_BYTES = 12;
/** The fan-out consumers and the measuring one must finish this long after the last send. */
export const DRAIN_TIMEOUT_MS = 30_000;

/** How the consumers read: long-poll fetches, or push subscriptions. */
export const CONSUME_MODES = ['fetch', 'subscribe'] as const;
export type ConsumeMode = (typeof CONSUME_MODES)[number];

export interface LatencyBenchOptions {
  /** A cell per mode and fan-out. */
  consume: ConsumeMode[];
  /** Runs per cell, modes alternating within each fan-out and round; a cell reports its median run by p99. */
  repeat: number;
  /** Records per second offered. */
  rate: number;
  recordBytes: number;
  seconds: number;
  /** Fan-out consumer counts, one cell each. */
  fanout: number[];
  acks: BenchAcks;
  lingerMs: number;
  /** The measuring consumer's maxWaitMs. */
  maxWaitMs: number;
  /** The fan-out consumers' fetches: maxBytes, minBytes, maxWaitMs. */
  fanoutFetchBytes: number;
  fanoutMinBytes: number;
  fanoutMaxWaitMs: number;
  path: FetchPath;
  /** Extra flags for Sluice's broker (sweeps: `--sender-threads 2`). */
  brokerArgs: string[];
  dir: string;
  progress?: (done: number, total: number, label: string) => void;
  log?: (line: string) => void;
}

export interface LatencyRun {
  /** Absent in runs of the Kafka peer (always fetch). */
  mode?: ConsumeMode;
  fanout: number;
  records: number;
  offeredPerSec: number;
  achievedPerSec: number;
  p50Ms: number;
  p99Ms: number;
  p999Ms: number;
  maxMs: number;
  /** What the fan-out consumers were sent, all together. */
  fanoutMBPerSec: number;
  fanoutFetches: number;
  /** Broker CPU-seconds per second (cores busy). */
  brokerCores: number;
  /** With repeats: the p99 of every run of the cell, lowest first (this run is the median). */
  p99RunsMs?: number[];
  /** The fan-out consumers' thread (in the benchmark's process), the same way: what the machine's other core does. */
  fanoutCores: number;
  /** The broker's cores by thread group (`node`: the event loop; `sluice-sender-#`: the native sender). */
  brokerThreadCores: Record<string, number>;
}

export interface LatencyReport {
  machine: MachineInfo;
  config: Omit<LatencyBenchOptions, 'progress' | 'log' | 'dir'>;
  runs: LatencyRun[];
}

/**
 * Starts a measuring consumer in a worker thread (`script`, beside this file, given `config`): it
 * posts `{ ready }` once it reads, then `{ result: { latenciesNs } }` or `{ error }`; `produced()`
 * tells it the producer is done.
 */
export function startMeasuringConsumer(script: string, config: object): { ready: Promise<void>; result: Promise<LatencyWorkerResult>; produced(): void } {
  const worker = new Worker(new URL(script, import.meta.url), { workerData: config });
  let ready!: () => void;
  const readyP = new Promise<void>((resolve) => (ready = resolve));
  const result = new Promise<LatencyWorkerResult>((resolve, reject) => {
    worker.on('message', (m: { ready?: true; result?: LatencyWorkerResult; error?: string }) => {
      if (m.ready) ready();
      else if (m.result) resolve(m.result);
      else reject(new Error(`verify: the measuring consumer failed: ${m.error}`));
    });
    worker.once('error', reject);
    worker.once('exit', (code) => reject(new Error(`the measuring consumer exited with ${code}`)));
  });
  return { ready: readyP, result, produced: () => worker.postMessage('produced') };
}

/** A record's value: its send time (u64 ns, process.hrtime) and sequence number (u32), then filler. */
export function stampedValue(seq: number, recordBytes: number): Buffer {
  // From the shared pool (allocUnsafe): a stamped copy per record without an ArrayBuffer each.
  const value = Buffer.allocUnsafe(Math.max(STAMP_BYTES, recordBytes)).fill(0x63, STAMP_BYTES);
  value.writeBigUInt64BE(process.hrtime.bigint(), 0);
  value.writeUInt32BE(seq, 8);
  return value;
}

/** Offers `rate` records/s for `seconds`: each timer tick sends the records due by then, stamped. */
async function offer(producer: Producer, topic: string, o: LatencyBenchOptions, total: number): Promise<number> {
  const t0 = performance.now();
  let sent = 0;
  let failure: unknown;
  while (sent < total && failure === undefined) {
    const due = Math.min(total, Math.floor(((performance.now() - t0) / 1000) * o.rate));
    if (due > sent) {
      const records = [];
      for (; sent < due; sent++) {
        records.push({ value: stampedValue(sent, o.recordBytes), partition: 0 });
      }
      producer.send(topic, records).catch((err: unknown) => (failure = err));
    }
    await new Promise((resolve) => setTimeout(resolve, 1));
  }
  await producer.flush();
  if (failure !== undefined) throw failure;
  return (performance.now() - t0) / 1000;
}

async function runCell(port: number, pid: number, mode: ConsumeMode, fanout: number, round: number, o: LatencyBenchOptions): Promise<LatencyRun> {
  const topic = `latency-${mode}-${fanout}-${round}`;
  const total = Math.round(o.rate * o.seconds);
  const admin = await Connection.connect({ host: '127.0.0.1', port, clientId: 'bench-latency-admin' });
  await admin.request(ApiKey.CreateTopics, 0, { topics: [{ name: topic, partitions: 1 }] });
  await admin.close();

  const subscribe = mode === 'subscribe' ? subscribeTemplates(0, o.fanoutFetchBytes, topic) : undefined;
  const template = subscribe ?? fetchTemplate(0, o.fanoutFetchBytes, { topic, maxWaitMs: o.fanoutMaxWaitMs, minBytes: o.fanoutMinBytes });
  // The fan-out consumers stop by themselves at the end offset; stop() only guards against a hang.
  const load =
    fanout > 0
      ? new native.NativeFetchLoad('127.0.0.1', port, fanout, template.frame, template.correlationAt, template.offsetAt, 0n, BigInt(total), 1, 0, subscribe?.credit)
      : undefined;
  const measuring = startMeasuringConsumer('./latency-worker.js', { broker: `127.0.0.1:${port}`, topic, records: total, maxWaitMs: o.maxWaitMs, timeoutMs: DRAIN_TIMEOUT_MS, mode } satisfies LatencyWorkerConfig);
  await measuring.ready;
  const producer = new Producer({ broker: `127.0.0.1:${port}`, acks: o.acks, lingerMs: o.lingerMs, clientId: 'bench-latency' });
  await producer.send(topic, []);

  const run = await timeStream({ pid, fanout, total, rate: o.rate, measuring, load, offer: () => offer(producer, topic, o, total), afterOffer: () => producer.close() });
  return { mode, ...run };
}

/**
 * Runs `offer` (it returns the seconds offering took) while `measuring` times the stream and `load`
 * fans it out; once both are done (at most DRAIN_TIMEOUT_MS after the last send), the cell's figures
 * with the broker `pid`'s CPU over the whole cell.
 */
export async function timeStream(c: {
  pid: number;
  fanout: number;
  total: number;
  rate: number;
  measuring: ReturnType<typeof startMeasuringConsumer>;
  load: NativeFetchLoad | undefined;
  offer: () => Promise<number>;
  afterOffer?: () => Promise<void>;
}): Promise<LatencyRun> {
  const cpu0 = processCpuSeconds(c.pid);
  const threads0 = threadCpuSeconds(c.pid);
  const t0 = performance.now();
  const seconds = await c.offer();
  c.measuring.produced();
  await c.afterOffer?.();
  const guard = setTimeout(() => c.load?.stop(), DRAIN_TIMEOUT_MS);
  try {
    const [{ latenciesNs }, fanned] = await Promise.all([c.measuring.result, c.load?.wait()]);
    const wall = (performance.now() - t0) / 1000;
    const brokerThreadCores = Object.fromEntries([...threadCpuSince(c.pid, threads0)].filter(([, s]) => s >= 0.01 * wall).map(([name, s]) => [name, s / wall]));
    return latencyFigures({ fanout: c.fanout, total: c.total, rate: c.rate, seconds, wall, latenciesNs, fanned, brokerCores: (processCpuSeconds(c.pid) - cpu0) / wall, fanoutCores: (fanned?.cpuSeconds ?? 0) / wall, brokerThreadCores });
  } finally {
    clearTimeout(guard);
  }
}

/**
 * A cell's figures, once what it moved is checked: every fan-out consumer reached `total` without
 * an error and one CRC-checked every batch (throws otherwise).
 */
function latencyFigures(c: {
  fanout: number;
  total: number;
  rate: number;
  /** How long offering took, and the whole cell. */
  seconds: number;
  wall: number;
  latenciesNs: Float64Array;
  fanned: NativeFetchLoadResult | undefined;
  brokerCores: number;
  fanoutCores: number;
  brokerThreadCores: Record<string, number>;
}): LatencyRun {
  let fanoutBytes = 0;
  let fanoutFetches = 0;
  if (c.fanned) {
    for (const f of c.fanned.consumers) {
      if (f.error) throw new Error(`verify: a fan-out consumer failed: ${f.error}`);
      if (f.nextOffset !== BigInt(c.total)) throw new Error(`verify: a fan-out consumer stopped at ${f.nextOffset} of ${c.total}`);
      fanoutBytes += f.dataBytes;
      fanoutFetches += f.fetches;
    }
    const checker = c.fanned.consumers[0]!;
    if (checker.crcChecked === 0 || checker.crcChecked !== checker.batches) throw new Error(`verify: CRC-checked ${checker.crcChecked} of ${checker.batches} batches`);
  }
  const ms = Array.from(c.latenciesNs, (ns) => ns / 1e6).sort((a, b) => a - b);
  return {
    fanout: c.fanout,
    records: c.total,
    offeredPerSec: c.rate,
    achievedPerSec: c.total / c.seconds,
    p50Ms: percentile(ms, 50),
    p99Ms: percentile(ms, 99),
    p999Ms: percentile(ms, 99.9),
    maxMs: ms.at(-1) ?? 0,
    fanoutMBPerSec: fanoutBytes / c.wall / 1e6,
    fanoutFetches,
    brokerCores: c.brokerCores,
    fanoutCores: c.fanoutCores,
    brokerThreadCores: c.brokerThreadCores,
  };
}

export async function runLatencyBench(o: LatencyBenchOptions): Promise<LatencyReport> {
  return withBenchBroker(o.dir, 'latency', o.path, async (broker) => {
    // Modes alternate within each fan-out and round, so both see the machine in the same state.
    const cells = o.fanout.flatMap((fanout) => o.consume.map((mode) => ({ mode, fanout })));
    const rounds = Math.max(1, o.repeat);
    const all = new Map<string, LatencyRun[]>();
    let done = 0;
    for (let round = 0; round < rounds; round++) {
      for (const { mode, fanout } of cells) {
        const run = await runCell(broker.port, broker.proc.pid!, mode, fanout, round, o);
        all.set(`${mode} ${fanout}`, [...(all.get(`${mode} ${fanout}`) ?? []), run]);
        o.progress?.(++done, cells.length * rounds, `${mode}, fan-out ${fanout}`);
        o.log?.(`bench latency: ${mode}, fan-out ${fanout}: p50 ${run.p50Ms.toFixed(2)} ms, p99 ${run.p99Ms.toFixed(2)} ms, p99.9 ${run.p999Ms.toFixed(2)} ms`);
      }
    }
    const runs = cells.map(({ mode, fanout }) => medianRun(all.get(`${mode} ${fanout}`)!));
    const { progress: _p, log: _l, dir: _d, ...config } = o;
    return { machine: machineInfo(), config, runs };
  }, o.brokerArgs);
}

/** A cell's median run by p99; with several, it also carries every run's p99 (the spread a noisy machine gives). */
export function medianRun<R extends LatencyRun>(list: readonly R[]): R {
  const sorted = [...list].sort((a, b) => a.p99Ms - b.p99Ms);
  const median = sorted[Math.floor(sorted.length / 2)]!;
  return sorted.length > 1 ? { ...median, p99RunsMs: sorted.map((r) => r.p99Ms) } : median;
}

export function latencyTable(report: LatencyReport): string {
  const head = '| consumers read by | fan-out consumers | records/s (offered / achieved) | p50 | p99 | p99.9 | max | fan-out served | broker CPU | fan-out consumers CPU |\n|---|---|---|---|---|---|---|---|---|---|\n';
  const rows = report.runs.map(
    (r) =>
      `| ${r.mode ?? 'fetch'} | ${r.fanout} | ${r.offeredPerSec} / ${r.achievedPerSec.toFixed(0)} | ${r.p50Ms.toFixed(2)} ms | ${r.p99Ms.toFixed(2)} ms${r.p99RunsMs ? ` (runs ${r.p99RunsMs.map((v) => v.toFixed(0)).join(', ')})` : ''} | ${r.p999Ms.toFixed(2)} ms | ${r.maxMs.toFixed(1)} ms | ${r.fanoutMBPerSec.toFixed(0)} MB/s in ${r.fanoutFetches} ${r.mode === 'subscribe' ? 'pushes' : 'fetches'} | ${(100 * r.brokerCores).toFixed(0)}% of a core (${threadSplit(r.brokerThreadCores)}) | ${(100 * r.fanoutCores).toFixed(0)}% |\n`,
  );
  return head + rows.join('');
}

/** `event loop 70%, sender 45%`: the broker's busiest thread groups. */
function threadSplit(threads: Record<string, number> | undefined): string {
  const label = (name: string) => (name === 'node' ? 'event loop' : name.replace(/^sluice-/, '').replace(/-#$/, ''));
  return Object.entries(threads ?? {})
    .sort((a, b) => b[1] - a[1])
    .slice(0, 2)
    .map(([name, cores]) => `${label(name)} ${(100 * cores).toFixed(0)}%`)
    .join(', ');
}

export async function writeLatencyChart(report: LatencyReport, path: string): Promise<void> {
  const points = report.runs.flatMap((r) => [
    { fanout: r.fanout, series: `${r.mode ?? 'fetch'} p50`, ms: r.p50Ms },
    { fanout: r.fanout, series: `${r.mode ?? 'fetch'} p99`, ms: r.p99Ms },
  ]);
  const c = report.config;
  await writeSvg(latencySpec(points, `End-to-end latency: ${c.rate} records/s of ${c.recordBytes} B, acks=${c.acks}, while N consumers tail the partition (fetch or subscribe)`, true), path);
}

/** Latency against fan-out consumers, one line per `series` (a percentile, or a broker's percentile); `log` for a log ms axis. */
export function latencySpec(points: Array<{ fanout: number; series: string; ms: number }>, title: string, log = false): TopLevelSpec {
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v5.json',
    title,
    data: { values: points },
    width: 420,
    height: 240,
    mark: { type: 'line', point: true },
    encoding: {
      x: { field: 'fanout', type: 'ordinal', title: 'fan-out consumers' },
      y: { field: 'ms', type: 'quantitative', title: 'send to receipt, ms', ...(log ? { scale: { type: 'log' } } : {}) },
      color: { field: 'series', type: 'nominal', title: null, legend: { labelLimit: 400 } },
    },
    config: { background: 'white' },
  } as TopLevelSpec;
}
