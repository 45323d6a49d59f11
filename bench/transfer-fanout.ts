// `sluice bench transfer`: the transfer engine's fan-out at the transfer level (no protocol).
// N consumers (native sink threads, see crates/loadgen/src/sink.rs) read the same log from the
// page cache, as a stream of frames `[u32 length][slice bytes]`, one slice per job, two jobs in
// flight per consumer. For each fetch path and N it reports aggregate GiB/s and sender CPU-seconds
// per GiB, beside the raw baseline measured in the same run: a native loop that sendfiles one
// segment file to the same N sockets with no framing (the machine's limit). A sweep varies the
// bytes per sendfile call and the socket send buffer for sendfile and raw.
//
// CPU: process CPU (all threads, /proc via process.cpuUsage) minus the sink thread's own CPU
// clock = the sender's CPU, including the JS thread that submits jobs. On loopback part of the
// receivers' TCP work is charged to the sender (softirq in the sending context), so the figures
// are for comparison between paths, side by side, not absolute.
//
// Checks before reporting: each path first streams the whole log once to 2 consumers that CRC
// the payloads (must equal the log's CRC); every cell checks the framing of every byte and that the
// bytes the consumers received equal the bytes the server sent.

import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Socket } from 'node:net';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { native } from '../src/native.js';
import { crc32c } from '../src/native.js';
import { PartitionLog } from '../src/storage/partition-log.js';
import { FETCH_PATHS, TransferEngine, type FetchPath } from '../src/transfer/engine.js';
import type { ResponseWriter } from '../src/transfer/response-writer.js';
import { machineInfo, type MachineInfo } from '../test/harness/machine.js';
import { batchOfSize, formatBytes, writeJson } from '../test/harness/util.js';
import { fanoutSpec, writeSvg } from './chart.js';

/** `raw`: the sendfile loop (the machine's limit); `raw-uring`: the io_uring experiment in the same shape (linked file -> pipe -> socket splices, crates/loadgen uring.rs). */
export type FanoutPath = FetchPath | RawPath;
export type RawPath = 'raw' | 'raw-uring';
export const FANOUT_PATHS: readonly FanoutPath[] = ['raw', 'raw-uring', ...FETCH_PATHS];
const isRaw = (path: FanoutPath): path is RawPath => path === 'raw' || path === 'raw-uring';

export interface FanoutOptions {
  logBytes: number;
  consumers: number[];
  paths: FanoutPath[];
  /** Measured seconds per cell (after a short warm-up). */
  seconds: number;
  /** Runs of the main grid, paths alternating within each; a cell reports its median run (by GiB/s). */
  repeat: number;
  /** Bytes per fetch (one slice per job). */
  sliceBytes: number;
  /** Also sweep sendfile call size x send buffer at `sweepConsumers`. */
  sweep: boolean;
  sweepConsumers: number;
  dir: string;
  json?: string;
  log?: (line: string) => void;
}

export const defaultFanoutOptions: FanoutOptions = {
  logBytes: 1024 ** 3,
  consumers: [1, 4, 16, 64],
  paths: [...FANOUT_PATHS],
  seconds: 3,
  repeat: 1,
  sliceBytes: 1024 * 1024,
  sweep: true,
  sweepConsumers: 16,
  dir: '.',
};

export interface CellSettings {
  path: FanoutPath;
  consumers: number;
  /** Bytes per fetch (one slice, one job); not used by raw. */
  sliceBytes: number;
  /** Bytes per sendfile call (sendfile and raw), per write on mmap/copy, per fs.read on node. */
  chunkBytes: number;
  /** SO_SNDBUF set on the sockets; 0 = kernel autotuning (always so for node). */
  sendBufferBytes: number;
}

export interface FanoutCell extends CellSettings {
  bytes: number;
  seconds: number;
  gibPerSec: number;
  senderCpuSeconds: number;
  senderCpuPerGiB: number;
  /** Sender plus consumers: the whole process. */
  totalCpuPerGiB: number;
  sinkCpuSeconds: number;
  /** CPU of the native sender thread alone (native paths). */
  engineThreadCpuSeconds: number | null;
  writableWaits: number;
  verified: true;
}

export interface FanoutReport {
  machine: MachineInfo;
  config: Omit<FanoutOptions, 'log'>;
  logCrc: number;
  verifiedPaths: FetchPath[];
  cells: FanoutCell[];
  sweep: FanoutCell[];
  /** The issue's targets at `sweepConsumers` with default settings. */
  summary: { consumers: number; sendfileVsRaw: number | null; sendfileCpuVsNode: number | null };
}

// The broker's defaults (issue 16): each sendfile call asks for the rest of the range (1 GiB caps
// it) and the kernel takes what a 100 KiB send buffer holds.
const DEFAULTS = { sendfileChunkBytes: 1024 * 1024 * 1024, copyChunkBytes: 1024 * 1024, sendBufferBytes: 100 * 1024 };

export function defaultSettings(path: FanoutPath, consumers: number, sliceBytes: number): CellSettings {
  // A splice chain moves at most a pipe (1 MiB): it gets the copy paths' call size.
  const sendfileLike = path === 'sendfile' || path === 'raw';
  return {
    path,
    consumers,
    sliceBytes,
    chunkBytes: sendfileLike ? DEFAULTS.sendfileChunkBytes : DEFAULTS.copyChunkBytes,
    sendBufferBytes: path === 'node' ? 0 : DEFAULTS.sendBufferBytes,
  };
}

interface BenchLog {
  log: PartitionLog;
  crc: number;
  firstSegmentPath: string;
}

/** A log of `bytes` in 1 MiB batches (8 distinct contents), segments of 256 MiB, read once to warm it. */
async function makeLog(dir: string, bytes: number): Promise<BenchLog> {
  const log = await PartitionLog.open(dir, { segmentBytes: 256 * 1024 * 1024 });
  const templates = Array.from({ length: 8 }, (_, i) => batchOfSize(1024 * 1024, 0x61 + i));
  for (let written = 0, i = 0; written < bytes; i++) {
    const batch = Buffer.from(templates[i % templates.length]!);
    log.append(batch);
    written += batch.length;
  }
  let crc = 0;
  for (let offset = 0n; offset < log.highWatermark; ) {
    const slice = log.slice(offset, 64 * 1024 * 1024);
    crc = crc32c(slice.read(), crc);
    offset = slice.nextOffset;
  }
  return { log, crc, firstSegmentPath: log.slice(0n, 1).ranges[0]!.path };
}

function frameHeader(bytes: number): Buffer {
  const header = Buffer.alloc(4);
  header.writeUInt32BE(bytes);
  return header;
}

/** Streams frames of the log to one consumer, two in flight, until `stop()` or (onePass) the end. */
async function stream(writer: ResponseWriter, log: PartitionLog, sliceBytes: number, shouldStop: () => boolean, onePass: boolean): Promise<number> {
  let offset = 0n;
  let sent = 0;
  const inFlight: Array<Promise<number>> = [];
  while (!shouldStop()) {
    if (offset >= log.highWatermark) {
      if (onePass) break;
      offset = 0n;
    }
    const slice = log.slice(offset, sliceBytes);
    inFlight.push(writer.send([frameHeader(slice.bytes), slice]));
    offset = slice.nextOffset;
    if (inFlight.length >= 2) sent += await inFlight.shift()!;
  }
  for (const p of inFlight) sent += await p;
  return sent;
}

export interface Connected {
  sockets: Socket[];
  sink: InstanceType<typeof native.NativeSink>;
  close(): void;
}

/** A server on an ephemeral port, and a native sink with `n` connections to it. */
export async function connectConsumers(n: number, mode: 'raw' | 'framed' | 'crc'): Promise<Connected> {
  const sockets: Socket[] = [];
  let allIn: () => void = () => undefined;
  const connected = new Promise<void>((resolve) => (allIn = resolve));
  const server = createServer((socket) => {
    socket.on('error', () => undefined);
    sockets.push(socket);
    if (sockets.length === n) allIn();
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('no port');
  const sink = new native.NativeSink('127.0.0.1', address.port, n, mode);
  await connected;
  return { sockets, sink, close: () => server.close() };
}

/** Ends every socket and waits for the sink; throws unless every stream was whole. */
export async function finish(c: Connected, expectBytes: number): Promise<Awaited<ReturnType<Connected['sink']['wait']>>> {
  for (const s of c.sockets) s.end();
  const result = await c.sink.wait();
  c.close();
  const bad = result.consumers.find((r) => r.error);
  if (bad) throw new Error(`verify: a consumer's stream was broken: ${bad.error}`);
  const got = result.consumers.reduce((a, r) => a + r.bytes, 0);
  if (got !== expectBytes) throw new Error(`verify: consumers received ${got} bytes, the server sent ${expectBytes}`);
  return result;
}

function engineFor(s: CellSettings): TransferEngine {
  return new TransferEngine({
    sendfileChunkBytes: s.path === 'sendfile' ? s.chunkBytes : DEFAULTS.sendfileChunkBytes,
    copyChunkBytes: s.path === 'mmap' || s.path === 'copy' ? s.chunkBytes : DEFAULTS.copyChunkBytes,
    nodeChunkBytes: s.path === 'node' ? s.chunkBytes : DEFAULTS.copyChunkBytes,
    socketSendBufferBytes: s.sendBufferBytes,
  });
}

/** One full pass of the log to 2 consumers that CRC every payload byte. */
async function verifyPath(bl: BenchLog, path: FetchPath, sliceBytes: number): Promise<void> {
  const engine = engineFor(defaultSettings(path, 2, sliceBytes));
  try {
    const c = await connectConsumers(2, 'crc');
    const sent = await Promise.all(c.sockets.map((s) => stream(engine.writer(s, path), bl.log, sliceBytes, () => false, true)));
    const result = await finish(c, sent.reduce((a, b) => a + b, 0));
    for (const r of result.consumers) {
      if (r.crc !== bl.crc) throw new Error(`verify: ${path} delivered CRC ${r.crc}, the log's is ${bl.crc}`);
    }
  } finally {
    await engine.close();
  }
}

function cpuSeconds(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function runCell(bl: BenchLog, s: CellSettings, options: FanoutOptions): Promise<FanoutCell> {
  const measure = (bytes: number, seconds: number, processCpu: number, sinkCpu: number, writableWaits: number, engineCpu: number | null): FanoutCell => {
    const gib = bytes / 2 ** 30;
    const senderCpu = processCpu - sinkCpu;
    return {
      ...s,
      bytes,
      seconds,
      gibPerSec: gib / seconds,
      senderCpuSeconds: senderCpu,
      senderCpuPerGiB: senderCpu / gib,
      totalCpuPerGiB: processCpu / gib,
      sinkCpuSeconds: sinkCpu,
      engineThreadCpuSeconds: engineCpu,
      writableWaits,
      verified: true,
    };
  };

  if (isRaw(s.path)) {
    const c = await connectConsumers(s.consumers, 'raw');
    const fds = c.sockets.map((sock) => (sock as unknown as { _handle: { fd: number } })._handle.fd);
    const cpu0 = cpuSeconds();
    const sink0 = c.sink.cpuSeconds;
    // The process's CPU counts the io_uring path's kernel worker threads too.
    const r = await native.rawFanout(s.path === 'raw' ? 'sendfile' : 'uring-splice', bl.firstSegmentPath, fds, s.chunkBytes, s.sendBufferBytes, options.seconds * 1000);
    const cpu1 = cpuSeconds();
    const sink1 = c.sink.cpuSeconds;
    await finish(c, r.bytes);
    return measure(r.bytes, r.seconds, cpu1 - cpu0, sink1 - sink0, 0, r.cpuSeconds);
  }

  const engine = engineFor(s);
  try {
    const c = await connectConsumers(s.consumers, 'framed');
    let stop = false;
    const streams = c.sockets.map((sock) => stream(engine.writer(sock, s.path as FetchPath), bl.log, s.sliceBytes, () => stop, false));
    await sleep(300); // warm-up: connections reach steady state before the window opens
    const t0 = performance.now();
    const before = { recv: c.sink.received, cpu: cpuSeconds(), sink: c.sink.cpuSeconds, engine: engine.counters() };
    await sleep(options.seconds * 1000);
    const after = { recv: c.sink.received, cpu: cpuSeconds(), sink: c.sink.cpuSeconds, engine: engine.counters() };
    const seconds = (performance.now() - t0) / 1000;
    stop = true;
    const sent = (await Promise.all(streams)).reduce((a, b) => a + b, 0);
    await finish(c, sent);
    const engineCpu = s.path === 'node' ? null : after.engine.senderCpuSeconds - before.engine.senderCpuSeconds;
    const waits = after.engine.writableWaits - before.engine.writableWaits;
    return measure(after.recv - before.recv, seconds, after.cpu - before.cpu, after.sink - before.sink, waits, engineCpu);
  } finally {
    await engine.close();
  }
}

export async function runFanoutBench(options: FanoutOptions): Promise<FanoutReport> {
  const say = options.log ?? (() => undefined);
  const dir = mkdtempSync(join(options.dir, 'sluice-bench-transfer-'));
  try {
    say(`fanout: writing and warming a ${formatBytes(options.logBytes)} log in ${dir} ...`);
    const bl = await makeLog(dir, options.logBytes);
    const fetchPaths = options.paths.filter((p): p is FetchPath => !isRaw(p));
    for (const path of fetchPaths) {
      say(`fanout: verifying ${path} (whole log to 2 consumers, CRC-checked) ...`);
      await verifyPath(bl, path, options.sliceBytes);
    }
    const runs = new Map<string, FanoutCell[]>();
    for (let r = 0; r < options.repeat; r++) {
      for (const n of options.consumers) {
        for (const path of options.paths) {
          const cell = await runCell(bl, defaultSettings(path, n, options.sliceBytes), options);
          say(`fanout: ${path} x${n}${options.repeat > 1 ? ` (run ${r + 1})` : ''}: ${cell.gibPerSec.toFixed(2)} GiB/s, sender ${cell.senderCpuPerGiB.toFixed(3)} CPU-s/GiB` +
            ` (native thread ${cell.engineThreadCpuSeconds?.toFixed(2) ?? '-'} s, sink ${cell.sinkCpuSeconds.toFixed(2)} s, process ${(cell.totalCpuPerGiB * cell.bytes / 2 ** 30).toFixed(2)} s)`);
          const key = `${path} ${n}`;
          runs.set(key, [...(runs.get(key) ?? []), cell]);
        }
      }
    }
    // The median run of each cell (a shared machine's noise hits single runs).
    const cells = [...runs.values()].map((list) => [...list].sort((a, b) => a.gibPerSec - b.gibPerSec)[Math.floor(list.length / 2)]!);
    const sweep: FanoutCell[] = [];
    if (options.sweep) {
      for (const path of ['raw', 'raw-uring', 'sendfile'] as const) {
        for (const chunkBytes of [64 * 1024, 256 * 1024, 1024 * 1024]) {
          for (const sendBufferBytes of [100 * 1024, 0]) {
            const settings = { path, consumers: options.sweepConsumers, sliceBytes: options.sliceBytes, chunkBytes, sendBufferBytes };
            const cell = await runCell(bl, settings, options);
            say(`fanout sweep: ${path} x${cell.consumers} ${formatBytes(chunkBytes)}/call sndbuf ${sendBufferBytes || 'auto'}: ${cell.gibPerSec.toFixed(2)} GiB/s, ${cell.senderCpuPerGiB.toFixed(3)} CPU-s/GiB`);
            sweep.push(cell);
          }
        }
      }
      // The fetch size: each job costs the JS thread a slice, a submit and a completion.
      for (const sliceBytes of [256 * 1024, 4 * 1024 * 1024, 16 * 1024 * 1024]) {
        const cell = await runCell(bl, { ...defaultSettings('sendfile', options.sweepConsumers, sliceBytes) }, options);
        say(`fanout sweep: sendfile x${cell.consumers} fetch ${formatBytes(sliceBytes)}: ${cell.gibPerSec.toFixed(2)} GiB/s, ${cell.senderCpuPerGiB.toFixed(3)} CPU-s/GiB`);
        sweep.push(cell);
      }
    }
    await bl.log.close();
    const at = (path: FanoutPath) => cells.find((c) => c.path === path && c.consumers === options.sweepConsumers);
    const [sf, raw, node] = [at('sendfile'), at('raw'), at('node')];
    const { log: _log, ...config } = options;
    const report: FanoutReport = {
      machine: machineInfo(),
      config,
      logCrc: bl.crc,
      verifiedPaths: fetchPaths,
      cells,
      sweep,
      summary: {
        consumers: options.sweepConsumers,
        sendfileVsRaw: sf && raw ? sf.gibPerSec / raw.gibPerSec : null,
        sendfileCpuVsNode: sf && node ? sf.senderCpuPerGiB / node.senderCpuPerGiB : null,
      },
    };
    if (options.json) {
      writeJson(options.json, report);
      await writeFanoutChart(report, options.json.replace(/\.json$/, '') + '.svg');
    }
    return report;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Markdown tables: GiB/s and sender CPU-s/GiB per path (rows) and consumers (columns), then the sweep. */
export function fanoutTable(report: FanoutReport): string {
  const ns = [...new Set(report.cells.map((c) => c.consumers))];
  const paths = [...new Set(report.cells.map((c) => c.path))];
  const cell = (p: FanoutPath, n: number) => report.cells.find((c) => c.path === p && c.consumers === n);
  const head = `| path | ${ns.map((n) => `${n} consumer${n === 1 ? '' : 's'}`).join(' | ')} |`;
  const rule = `|---|${ns.map(() => '---').join('|')}|`;
  const rows = paths.map((p) => {
    const raw = (n: number) => cell('raw', n);
    const parts = ns.map((n) => {
      const c = cell(p, n);
      if (!c) return '-';
      const r = raw(n);
      const ratio = r && p !== 'raw' ? ` (${Math.round((100 * c.gibPerSec) / r.gibPerSec)}% of raw)` : '';
      return `${c.gibPerSec.toFixed(2)} GiB/s${ratio}, ${c.senderCpuPerGiB.toFixed(3)} CPU-s/GiB`;
    });
    return `| ${p} | ${parts.join(' | ')} |`;
  });
  const lines = [head, rule, ...rows];
  if (report.sweep.length > 0) {
    lines.push('', `Sweep at ${report.config.sweepConsumers} consumers:`, '', '| path | fetch | bytes per call | SO_SNDBUF | GiB/s | sender CPU-s/GiB |', '|---|---|---|---|---|---|');
    for (const c of report.sweep) {
      const fetch = isRaw(c.path) ? '-' : formatBytes(c.sliceBytes);
      lines.push(`| ${c.path} | ${fetch} | ${formatBytes(c.chunkBytes)} | ${c.sendBufferBytes ? formatBytes(c.sendBufferBytes) : 'autotuned'} | ${c.gibPerSec.toFixed(2)} | ${c.senderCpuPerGiB.toFixed(3)} |`);
    }
  }
  const s = report.summary;
  if (s.sendfileVsRaw !== null) lines.push('', `At ${s.consumers} consumers: sendfile path = ${(100 * s.sendfileVsRaw).toFixed(0)}% of raw throughput` +
    (s.sendfileCpuVsNode !== null ? `, ${s.sendfileCpuVsNode.toFixed(2)}x the node path's CPU per GiB.` : '.'));
  return lines.join('\n');
}

/** The main grid as an SVG chart (throughput and CPU per GiB against consumers, per path). */
export async function writeFanoutChart(report: FanoutReport, path: string): Promise<void> {
  const m = report.machine;
  const title = `Fan-out from the page cache: ${formatBytes(report.config.logBytes)} log, ${formatBytes(report.config.sliceBytes)} fetches (${m.cores} cores, Linux ${m.kernel})`;
  await writeSvg(fanoutSpec(report.cells, title), path);
}
