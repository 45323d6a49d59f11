// The broker fan-out benchmark: a real broker process per fetch path, a topic preloaded through
// the produce path, and N native consumers (crates/transfer fetch_load) that each read the whole
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
import { encodeRequest } from '../src/protocol/codec.js';
import { ApiKey, type MetadataResponse } from '../src/protocol/messages.js';
import { encodeRecordBatch } from '../src/protocol/record-batch.js';
import { KafkaApi } from '../src/kafka/apis.js';
import { KafkaWriter } from '../src/kafka/wire.js';
import type { FetchPath } from '../src/transfer/engine.js';
import { freePort, processCpuSeconds, rssMiB, startBenchBroker, type BenchBroker } from './broker-process.js';
import { fanoutSpec, writeSvg } from './chart.js';
import { connectConsumers, finish } from './transfer-fanout.js';
import { machineInfo, type MachineInfo } from './machine.js';
import { median, percentile, summarize } from './util.js';

const TOPIC = 'fanout';
const CORRELATION_SENTINEL = 0x7fff_ffff;
const OFFSET_SENTINEL = 0x0123_4567_89ab_cdefn;
const RAW_CHUNK_BYTES = 64 * 1024;
const RAW_SEND_BUFFER_BYTES = 102_400;

export const FANOUT_PROTOCOLS = ['sluice', 'kafka'] as const;
export type FanoutProtocol = (typeof FANOUT_PROTOCOLS)[number];

export interface BrokerFanoutOptions {
  /** Front doors to fetch through (Sluice's own is always measured, as the baseline). */
  protocols: FanoutProtocol[];
  gib: number;
  partitions: number;
  recordBytes: number;
  batchBytes: number;
  paths: FetchPath[];
  consumers: number[];
  fetchBytes: number;
  repeat: number;
  /** Each cell runs whole passes until at least this long. */
  minSeconds: number;
  /** Measure the raw limit too. */
  raw: boolean;
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
  protocol: FanoutProtocol;
  path: FetchPath;
  consumers: number;
  pctOfRaw: number | null;
  min: Figures;
  max: Figures;
  repeats: number;
  passes: number;
  seconds: number;
}

export interface RawRun {
  consumers: number;
  gibPerSec: number;
  senderCpuSecPerGib: number;
  min: number;
  max: number;
}

export interface BrokerFanoutReport {
  machine: MachineInfo;
  config: Omit<BrokerFanoutOptions, 'progress' | 'log' | 'dir'> & { topicBytes: number; endOffsets: string[] };
  preload: { bytes: number; seconds: number; mbPerSec: number };
  runs: BrokerFanoutRun[];
  raw: RawRun[];
}

/** Fills the topic through the produce path: one valid batch, sent over and over (the broker stamps offsets). */
async function preload(port: number, o: BrokerFanoutOptions): Promise<{ bytes: number; seconds: number; endOffsets: bigint[] }> {
  const c = await Connection.connect({ host: '127.0.0.1', port, clientId: 'bench-preload' });
  try {
    await c.request(ApiKey.CreateTopics, 0, { topics: [{ name: TOPIC, partitions: o.partitions }] });
    const value = Buffer.alloc(o.recordBytes, 0x61);
    const perBatch = Math.max(1, Math.floor(o.batchBytes / (o.recordBytes + 12)));
    const batch = encodeRecordBatch(Array.from({ length: perBatch }, () => ({ value })));
    const perRequest = Math.max(1, Math.floor((1024 * 1024) / batch.length));
    const target = o.gib * 2 ** 30;
    const t0 = performance.now();
    let bytes = 0;
    let partition = 0;
    const inFlight: Array<Promise<unknown>> = [];
    while (bytes < target) {
      const parts = Array.from({ length: perRequest }, () => ({ topic: TOPIC, partition: partition++ % o.partitions, bytes: batch.length }));
      inFlight.push(c.request(ApiKey.Produce, 0, { acks: 1, partitions: parts }, parts.map(() => batch)));
      bytes += parts.length * batch.length;
      if (inFlight.length >= 8) await inFlight.shift();
    }
    await Promise.all(inFlight);
    const seconds = (performance.now() - t0) / 1000;
    const meta = (await c.request(ApiKey.Metadata, 0, { topics: [TOPIC] })).body as MetadataResponse;
    return { bytes, seconds, endOffsets: meta.topics[0]!.partitions.map((p) => p.highWatermark) };
  } finally {
    await c.close();
  }
}

/** A fetch request frame for one partition, and where its correlation id and offset sit (for NativeFetchLoad). */
export function fetchTemplate(
  partition: number,
  fetchBytes: number,
  options: { topic?: string; maxWaitMs?: number; minBytes?: number } = {},
): { frame: Buffer; correlationAt: number; offsetAt: number } {
  const frame = encodeRequest(
    { apiKey: ApiKey.Fetch, apiVersion: 0, correlationId: CORRELATION_SENTINEL, clientId: 'bench' },
    {
      maxWaitMs: options.maxWaitMs ?? 0,
      minBytes: options.minBytes ?? 1,
      maxBytes: fetchBytes,
      partitions: [{ topic: options.topic ?? TOPIC, partition, offset: OFFSET_SENTINEL, maxBytes: fetchBytes }],
    },
  );
  const find = (marker: Buffer) => {
    const at = frame.indexOf(marker);
    if (at < 0 || frame.indexOf(marker, at + 1) >= 0) throw new Error(`fetch template: cannot locate ${marker.toString('hex')}`);
    return at + 1;
  };
  const corr = Buffer.alloc(5);
  corr[0] = 0xce; // MessagePack uint32
  corr.writeUInt32BE(CORRELATION_SENTINEL, 1);
  const off = Buffer.alloc(9);
  off[0] = 0xd3; // MessagePack int64
  off.writeBigInt64BE(OFFSET_SENTINEL, 1);
  return { frame, correlationAt: find(corr), offsetAt: find(off) };
}

/**
 * A Kafka Fetch v4 request frame for one partition, as kafkajs sends it, with where its
 * correlation id and offset sit, and how many bytes of each response come before the records.
 */
export function kafkaFetchTemplate(partition: number, fetchBytes: number, topic = TOPIC): { frame: Buffer; correlationAt: number; offsetAt: number; headBytes: number } {
  const w = new KafkaWriter().int16(KafkaApi.Fetch).int16(4).int32(CORRELATION_SENTINEL).string('bench');
  w.int32(-1).int32(0).int32(1).int32(fetchBytes).int8(1); // replica, maxWaitMs, minBytes, maxBytes, READ_COMMITTED
  w.int32(1).string(topic).int32(1).int32(partition).int64(OFFSET_SENTINEL).int32(fetchBytes);
  const payload = Buffer.concat(w.pieces() as Buffer[]);
  const frame = Buffer.alloc(4 + payload.length);
  frame.writeInt32BE(payload.length, 0);
  payload.copy(frame, 4);
  const sentinel = Buffer.alloc(8);
  sentinel.writeBigInt64BE(OFFSET_SENTINEL);
  // size, correlation id, throttle, topics, topic, partitions, partition, error, HW, LSO, aborted, records size
  const headBytes = 4 + 4 + 4 + 4 + 2 + Buffer.byteLength(topic) + 4 + 4 + 2 + 8 + 8 + 4 + 4;
  return { frame, correlationAt: 8, offsetAt: frame.indexOf(sentinel), headBytes };
}

interface Sample extends Figures {
  passes: number;
  seconds: number;
}

async function runCell(broker: BenchBroker, protocol: FanoutProtocol, consumers: number, o: BrokerFanoutOptions, endOffsets: bigint[]): Promise<Sample> {
  const pid = broker.proc.pid!;
  const templates = endOffsets.map((_, p) => (protocol === 'kafka' ? kafkaFetchTemplate(p, o.fetchBytes) : { ...fetchTemplate(p, o.fetchBytes), headBytes: 0 }));
  const port = protocol === 'kafka' ? broker.kafkaPort! : broker.port;
  let rssPeak = rssMiB(pid);
  const rssTimer = setInterval(() => (rssPeak = Math.max(rssPeak, rssMiB(pid))), 100);
  const cpu0 = processCpuSeconds(pid);
  const t0 = performance.now();
  let bytes = 0;
  let consumerCpu = 0;
  let passes = 0;
  const latencies: number[] = [];
  try {
    do {
      const loads = templates.map((t, p) => new native.NativeFetchLoad('127.0.0.1', port, consumers, t.frame, t.correlationAt, t.offsetAt, 0n, endOffsets[p]!, 1, t.headBytes));
      const results = await Promise.all(loads.map((l) => l.wait()));
      results.forEach((r, p) => {
        for (const c of r.consumers) {
          if (c.error) throw new Error(`verify: a consumer of partition ${p} failed: ${c.error}`);
          if (c.nextOffset < endOffsets[p]!) throw new Error(`verify: a consumer of partition ${p} stopped at ${c.nextOffset}, the end is ${endOffsets[p]}`);
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
  };
}

async function runRaw(segmentPath: string, consumers: number, seconds: number): Promise<{ gibPerSec: number; senderCpuSecPerGib: number }> {
  const c = await connectConsumers(consumers, 'raw');
  const fds = c.sockets.map((s) => (s as unknown as { _handle: { fd: number } })._handle.fd);
  const r = await native.rawSendfileFanout(segmentPath, fds, RAW_CHUNK_BYTES, RAW_SEND_BUFFER_BYTES, Math.max(300, seconds * 1000));
  await finish(c, r.bytes);
  const gib = r.bytes / 2 ** 30;
  return { gibPerSec: gib / r.seconds, senderCpuSecPerGib: r.cpuSeconds / gib };
}

const FIGURES = ['gibPerSec', 'brokerCpuSecPerGib', 'consumerCpuSecPerGib', 'fetchP50Ms', 'fetchP99Ms', 'brokerRssMiB'] as const;

export async function runBrokerFanout(o: BrokerFanoutOptions): Promise<BrokerFanoutReport> {
  const say = o.log ?? (() => undefined);
  const dataDir = mkdtempSync(join(o.dir, 'sluice-bench-broker-'));
  const segmentBytes = 256 * 1024 * 1024;
  const protocols = [...new Set<FanoutProtocol>(['sluice', ...o.protocols])];
  const total = protocols.length * o.paths.length * o.consumers.length * o.repeat + (o.raw ? o.consumers.length * o.repeat : 0);
  let done = 0;
  const tick = (label: string) => o.progress?.(++done, total, label);
  try {
    const brokerArgs = ['--segment-bytes', String(segmentBytes), ...(protocols.includes('kafka') ? ['--kafka-port', String(await freePort())] : [])];
    let broker = await startBenchBroker(dataDir, o.paths[0] ?? 'sendfile', brokerArgs);
    say(`broker fanout: preloading ${o.gib} GiB into ${o.partitions} partition(s) through the produce path ...`);
    const loaded = await preload(broker.port, o);
    say(`broker fanout: preloaded ${(loaded.bytes / 2 ** 30).toFixed(2)} GiB in ${loaded.seconds.toFixed(1)} s (${(loaded.bytes / loaded.seconds / 1e6).toFixed(0)} MB/s, acks=1, 1 MiB requests)`);
    const runs: BrokerFanoutRun[] = [];
    for (const path of o.paths) {
      if (broker.path !== path) {
        await broker.stop();
        broker = await startBenchBroker(dataDir, path, brokerArgs);
      }
      for (const n of o.consumers) {
        // The protocols alternate within each repeat, so drift on a shared machine hits both alike.
        const samples = new Map<FanoutProtocol, Sample[]>(protocols.map((p) => [p, []]));
        for (let r = 0; r < o.repeat; r++) {
          for (const protocol of protocols) {
            samples.get(protocol)!.push(await runCell(broker, protocol, n, o, loaded.endOffsets));
            tick(`${rowLabel(protocol, path)} x${n}`);
          }
        }
        for (const [protocol, list] of samples) {
          const { mid, min, max } = summarize(list, FIGURES);
          runs.push({ protocol, path, consumers: n, ...mid, pctOfRaw: null, min, max, repeats: list.length, passes: list.reduce((a, s) => a + s.passes, 0), seconds: list.reduce((a, s) => a + s.seconds, 0) });
          say(`broker fanout: ${rowLabel(protocol, path)} x${n}: ${mid.gibPerSec.toFixed(2)} GiB/s, broker ${mid.brokerCpuSecPerGib.toFixed(3)} CPU-s/GiB, p99 ${mid.fetchP99Ms.toFixed(2)} ms`);
        }
      }
    }
    await broker.stop();

    const raw: RawRun[] = [];
    if (o.raw) {
      const segment = join(dataDir, `${TOPIC}-0`, '00000000000000000000.log');
      for (const n of o.consumers) {
        const samples = [];
        for (let r = 0; r < o.repeat; r++) {
          samples.push(await runRaw(segment, n, o.minSeconds));
          tick(`raw x${n}`);
        }
        const g = samples.map((s) => s.gibPerSec);
        raw.push({ consumers: n, gibPerSec: median(g), senderCpuSecPerGib: median(samples.map((s) => s.senderCpuSecPerGib)), min: Math.min(...g), max: Math.max(...g) });
      }
      for (const run of runs) {
        const limit = raw.find((r) => r.consumers === run.consumers);
        run.pctOfRaw = limit ? (100 * run.gibPerSec) / limit.gibPerSec : null;
      }
    }
    const { progress: _p, log: _l, dir: _d, ...config } = o;
    return {
      machine: machineInfo(),
      config: { ...config, topicBytes: loaded.bytes, endOffsets: loaded.endOffsets.map(String) },
      preload: { bytes: loaded.bytes, seconds: loaded.seconds, mbPerSec: loaded.bytes / loaded.seconds / 1e6 },
      runs,
      raw,
    };
  } finally {
    rmSync(dataDir, { recursive: true, force: true });
  }
}

/** A table row's and chart series' name: the fetch path, and the protocol when it is Kafka's. */
function rowLabel(protocol: FanoutProtocol, path: FetchPath): string {
  return protocol === 'kafka' ? `${path} (kafka)` : path;
}

/** Markdown table: one row per protocol and path (and raw), one column per consumer count. */
export function brokerFanoutTable(report: BrokerFanoutReport): string {
  const counts = report.config.consumers;
  const head = `| path | ${counts.map((n) => `${n} consumer${n === 1 ? '' : 's'}`).join(' | ')} |\n|---|${counts.map(() => '---').join('|')}|\n`;
  const rawRow = report.raw.length
    ? `| raw | ${counts.map((n) => {
        const r = report.raw.find((x) => x.consumers === n);
        return r ? `${r.gibPerSec.toFixed(2)} GiB/s, ${r.senderCpuSecPerGib.toFixed(3)} CPU-s/GiB` : '-';
      }).join(' | ')} |\n`
    : '';
  const protocols = [...new Set(report.runs.map((r) => r.protocol))];
  const rows = protocols
    .flatMap((protocol) => report.config.paths.map((path) => [protocol, path] as const))
    .map(([protocol, path]) => {
      const cells = counts.map((n) => {
        const r = report.runs.find((x) => x.protocol === protocol && x.path === path && x.consumers === n);
        if (!r) return '-';
        const pct = r.pctOfRaw === null ? '' : ` (${r.pctOfRaw.toFixed(0)}% of raw)`;
        return `${r.gibPerSec.toFixed(2)} GiB/s${pct}, ${r.brokerCpuSecPerGib.toFixed(3)} CPU-s/GiB, p99 ${r.fetchP99Ms.toFixed(1)} ms, ${r.brokerRssMiB.toFixed(0)} MiB`;
      });
      return `| ${rowLabel(protocol, path)} | ${cells.join(' | ')} |\n`;
    })
    .join('');
  return head + rawRow + rows;
}

export async function writeBrokerFanoutChart(report: BrokerFanoutReport, path: string): Promise<void> {
  const points = [
    ...report.runs.map((r) => ({ path: rowLabel(r.protocol, r.path), consumers: r.consumers, gibPerSec: r.gibPerSec, senderCpuPerGiB: r.brokerCpuSecPerGib })),
    ...report.raw.map((r) => ({ path: 'raw', consumers: r.consumers, gibPerSec: r.gibPerSec, senderCpuPerGiB: r.senderCpuSecPerGib })),
  ];
  await writeSvg(fanoutSpec(points, `Broker fan-out: ${(report.config.topicBytes / 2 ** 30).toFixed(2)} GiB topic, ${report.config.fetchBytes / 1024} KiB fetches`, { logConsumers: true, cpuTitle: 'broker CPU-s per GiB (lower is better)' }), path);
}
