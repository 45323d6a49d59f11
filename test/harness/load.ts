// Load on one broker process, two scenarios (`npm run load`; a short run of each in CI):
//
// connections: `connections` TCP connections for `seconds`: `consumers` long-polling fetchers
// following the tail (native consumers, 500 ms max wait), `producers` TypeScript producers sending
// 1 KiB records at `recordsPerSec` in total with acks=all, the rest connected and silent. Reports
// errors, the broker's peak RSS and file descriptors before, during and after (a leak shows as
// more after than before), and send()-to-ack latency.
//
// stalled: `readers` native consumers read a preloaded partition from the start to the end, with
// and without one more consumer that pipelines fetches and never reads its socket; rounds
// alternate, and the report is the readers' throughput with the stalled one as a share of without.

import { readdirSync } from 'node:fs';
import { mkdtempSync, rmSync } from 'node:fs';
import { createConnection, type Socket } from 'node:net';
import { join } from 'node:path';
import { once } from 'node:events';
import { Admin } from '../../src/client/admin.js';
import { Producer } from '../../src/client/producer.js';
import { Connection } from '../../src/client/connection.js';
import { native } from '../../src/native.js';
import { ApiKey, type MetadataResponse } from '../../src/protocol/messages.js';
import { encodeRecordBatch } from '../../src/protocol/record-batch.js';
import { fetchTemplate } from './request-templates.js';
import { processCpuSeconds, rssMiB, startBenchBroker, type BenchBroker } from './broker-process.js';
import { median, percentile } from './util.js';

export interface ConnectionsLoadOptions {
  dir: string;
  connections: number;
  consumers: number;
  producers: number;
  seconds: number;
  /** Records of 1 KiB per second, all producers together. */
  recordsPerSec: number;
  partitions?: number;
}

export interface ConnectionsLoadReport {
  connections: number;
  consumers: number;
  producers: number;
  idle: number;
  seconds: number;
  /** Connections that ended or failed before the run was over (should be 0). */
  droppedConnections: number;
  producerErrors: number;
  consumerErrors: string[];
  recordsAcked: number;
  produceP50Ms: number;
  produceP99Ms: number;
  /** Bytes the tailing consumers received, all together. */
  consumedBytes: number;
  brokerPeakRssMiB: number;
  brokerStartRssMiB: number;
  brokerCpuSeconds: number;
  fds: { before: number; during: number; after: number };
}

const LOAD_TOPIC = 'load';

function openFds(pid: number): number {
  return readdirSync(`/proc/${pid}/fd`).length;
}

/** Plain connections that say nothing; each records whether the broker ended it. */
async function idleConnections(port: number, n: number): Promise<{ sockets: Socket[]; dropped: () => number }> {
  let dropped = 0;
  const sockets: Socket[] = [];
  for (let i = 0; i < n; i += 50) {
    const batch = Array.from({ length: Math.min(50, n - i) }, () => {
      const s = createConnection({ host: '127.0.0.1', port });
      let done = false;
      s.on('close', () => {
        if (!done) dropped++;
      });
      s.on('error', () => undefined);
      (s as Socket & { expectClose(): void }).expectClose = () => (done = true);
      sockets.push(s);
      return once(s, 'connect');
    });
    await Promise.all(batch);
  }
  return { sockets, dropped: () => dropped };
}

function closeIdle(sockets: Socket[]): void {
  for (const s of sockets) {
    (s as Socket & { expectClose(): void }).expectClose();
    s.destroy();
  }
}

export async function runConnectionsLoad(o: ConnectionsLoadOptions): Promise<ConnectionsLoadReport> {
  const partitions = o.partitions ?? 4;
  const dataDir = mkdtempSync(join(o.dir, 'sluice-load-'));
  const broker = await startBenchBroker(dataDir, 'sendfile', ['--max-in-flight-requests', '128']);
  const pid = broker.proc.pid!;
  try {
    const address = `127.0.0.1:${broker.port}`;
    const admin = new Admin({ broker: address });
    await admin.createTopic(LOAD_TOPIC, { partitions });
    await admin.close();
    // The admin's socket closes on the broker a moment after close() returns: count once settled.
    let before = openFds(pid);
    for (let i = 0, last = -1; i < 20 && before !== last; i++) {
      await new Promise((r) => setTimeout(r, 100));
      [last, before] = [before, openFds(pid)];
    }
    const startRss = rssMiB(pid);
    const cpu0 = processCpuSeconds(pid);
    const idleCount = Math.max(0, o.connections - o.consumers - o.producers);
    const idle = await idleConnections(broker.port, idleCount);

    // Consumers: long polls following the tail of each partition until stopped.
    const perPartition = Array.from({ length: partitions }, (_, p) => Math.floor(o.consumers / partitions) + (p < o.consumers % partitions ? 1 : 0));
    const loads = perPartition.flatMap((n, p) => {
      if (n === 0) return [];
      const t = fetchTemplate(p, 256 * 1024, { topic: LOAD_TOPIC, maxWaitMs: 500 });
      return [new native.NativeFetchLoad('127.0.0.1', broker.port, n, t.frame, t.correlationAt, t.offsetAt, 0n, 2n ** 62n, 1)];
    });
    const loadResults = loads.map((l) => l.wait());

    // Producers: one record per send(), paced, acks=all; latency is send() to acknowledgement.
    let stopping = false;
    let producerErrors = 0;
    let acked = 0;
    const latenciesMs: number[] = [];
    const value = Buffer.alloc(1024, 0x61);
    const intervalMs = (1000 * o.producers) / o.recordsPerSec;
    const producing = Array.from({ length: o.producers }, async (_, id) => {
      const producer = new Producer({ broker: address, acks: 'all', lingerMs: 0, retries: 0 });
      const pending = new Set<Promise<void>>();
      let next = performance.now();
      while (!stopping) {
        const sentAt = performance.now();
        const p: Promise<void> = producer.send(LOAD_TOPIC, { key: `p${id}`, value }).then(
          () => {
            acked++;
            latenciesMs.push(performance.now() - sentAt);
          },
          () => void producerErrors++,
        );
        const tracked = p.finally(() => pending.delete(tracked));
        pending.add(tracked);
        next += intervalMs;
        const wait = next - performance.now();
        if (wait > 0) await new Promise((r) => setTimeout(r, wait));
      }
      await Promise.all(pending);
      await producer.close();
    });

    let peakRss = startRss;
    let during = 0;
    const sampler = setInterval(() => {
      peakRss = Math.max(peakRss, rssMiB(pid));
      during = Math.max(during, openFds(pid));
    }, 500);
    await new Promise((r) => setTimeout(r, o.seconds * 1000));
    stopping = true;
    await Promise.all(producing);
    for (const l of loads) l.stop();
    const results = await Promise.all(loadResults);
    clearInterval(sampler);
    const droppedConnections = idle.dropped();
    closeIdle(idle.sockets);
    const brokerCpuSeconds = processCpuSeconds(pid) - cpu0;
    // Give the broker a moment to see every close, then count its descriptors again.
    let after = openFds(pid);
    for (let i = 0; i < 100 && after > before; i++) {
      await new Promise((r) => setTimeout(r, 100));
      after = openFds(pid);
    }
    const consumerErrors = results.flatMap((r) => r.consumers.flatMap((c) => (c.error ? [c.error] : [])));
    latenciesMs.sort((a, b) => a - b);
    return {
      connections: idleCount + o.consumers + o.producers,
      consumers: o.consumers,
      producers: o.producers,
      idle: idleCount,
      seconds: o.seconds,
      droppedConnections,
      producerErrors,
      consumerErrors,
      recordsAcked: acked,
      produceP50Ms: percentile(latenciesMs, 50),
      produceP99Ms: percentile(latenciesMs, 99),
      consumedBytes: results.reduce((n, r) => n + r.consumers.reduce((m, c) => m + c.dataBytes, 0), 0),
      brokerPeakRssMiB: peakRss,
      brokerStartRssMiB: startRss,
      brokerCpuSeconds,
      fds: { before, during, after },
    };
  } finally {
    await broker.stop();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

export interface StalledLoadOptions {
  dir: string;
  readers: number;
  topicMiB: number;
  rounds: number;
}

export interface StalledLoadReport {
  readers: number;
  topicMiB: number;
  rounds: number;
  /** Readers' GiB/s per round, without and with the stalled consumer. */
  withoutGibPerSec: number[];
  withGibPerSec: number[];
  /** median(with) / median(without). */
  ratio: number;
  /** Fetches of the whole topic the stalled consumer pipelined and never read. */
  stalledRequests: number;
}

const STALL_TOPIC = 'stall';

async function preload(port: number, mib: number): Promise<bigint> {
  const c = await Connection.connect({ host: '127.0.0.1', port, clientId: 'load-preload' });
  try {
    const batch = encodeRecordBatch(Array.from({ length: 64 }, (_, i) => ({ key: null, value: Buffer.alloc(16 * 1024, i), timestampMs: 1_700_000_000_000 })));
    const pending: Array<Promise<unknown>> = [];
    for (let bytes = 0; bytes < mib * 1024 * 1024; bytes += batch.length) {
      pending.push(c.request(ApiKey.Produce, 0, { acks: 1, partitions: [{ topic: STALL_TOPIC, partition: 0, bytes: batch.length }] }, [batch]));
      if (pending.length >= 8) await pending.shift();
    }
    await Promise.all(pending);
    const meta = (await c.request(ApiKey.Metadata, 0, { topics: [STALL_TOPIC] })).body as MetadataResponse;
    return meta.topics[0]!.partitions[0]!.highWatermark!;
  } finally {
    await c.close();
  }
}

/** One reading round: `readers` consumers from 0 to `end`; their GiB/s. */
async function readRound(broker: BenchBroker, readers: number, end: bigint): Promise<number> {
  const t = fetchTemplate(0, 1024 * 1024, { topic: STALL_TOPIC });
  const load = new native.NativeFetchLoad('127.0.0.1', broker.port, readers, t.frame, t.correlationAt, t.offsetAt, 0n, end, 1);
  const r = await load.wait();
  for (const c of r.consumers) {
    if (c.error || c.nextOffset < end) throw new Error(`a reader stopped at ${c.nextOffset} of ${end}: ${c.error}`);
  }
  return r.consumers.reduce((n, c) => n + c.dataBytes, 0) / 2 ** 30 / r.seconds;
}

/** A consumer that asks for the whole topic again and again and never reads a byte. */
async function stalledConsumer(port: number, requests: number): Promise<Socket> {
  const socket = createConnection({ host: '127.0.0.1', port });
  await once(socket, 'connect');
  socket.pause(); // never read: the broker's writes to it stop once the socket buffers fill
  const t = fetchTemplate(0, 8 * 1024 * 1024, { topic: STALL_TOPIC });
  for (let i = 0; i < requests; i++) {
    const frame = Buffer.from(t.frame);
    frame.writeUInt32BE(i + 1, t.correlationAt);
    frame.writeBigInt64BE(0n, t.offsetAt);
    socket.write(frame);
  }
  return socket;
}

export async function runStalledLoad(o: StalledLoadOptions): Promise<StalledLoadReport> {
  const dataDir = mkdtempSync(join(o.dir, 'sluice-stall-'));
  const broker = await startBenchBroker(dataDir, 'sendfile');
  try {
    const admin = new Admin({ broker: `127.0.0.1:${broker.port}` });
    await admin.createTopic(STALL_TOPIC, { partitions: 1 });
    await admin.close();
    const end = await preload(broker.port, o.topicMiB);
    await readRound(broker, o.readers, end); // warm the page cache
    const without: number[] = [];
    const withStalled: number[] = [];
    const stalledRequests = 64;
    for (let r = 0; r < o.rounds; r++) {
      without.push(await readRound(broker, o.readers, end));
      const stalled = await stalledConsumer(broker.port, stalledRequests);
      try {
        withStalled.push(await readRound(broker, o.readers, end));
      } finally {
        stalled.destroy();
      }
    }
    return { readers: o.readers, topicMiB: o.topicMiB, rounds: o.rounds, withoutGibPerSec: without, withGibPerSec: withStalled, ratio: median(withStalled) / median(without), stalledRequests };
  } finally {
    await broker.stop();
    rmSync(dataDir, { recursive: true, force: true });
  }
}
