// The produce benchmark: a real broker process and 1..N producers (the TypeScript Producer, one
// per worker thread) sending records of each size for a fixed time at acks 1 and all. A cell
// counts only when the topic's high watermark equals the records its producers saw acknowledged.
//
// Per cell: records/s and MB/s into the broker (aggregate over producers), broker and client
// CPU-s per GiB, p50/p99 of send()-to-acknowledgement; repeated, reported as median (min, max).
//
// With `replicationFactors`, the broker is a cluster of CLUSTER_BROKERS brokers and etcd
// (bench/cluster.ts): each cell's topic has that many replicas (min.insync.replicas 2 where there
// are at least 2), the producers send to its leader, broker CPU is the whole cluster's, and a cell
// counts when the leader's high watermark (what every in-sync replica holds) equals the records
// acknowledged.

import { Worker } from 'node:worker_threads';
import { Connection } from '../src/client/connection.js';
import { ApiKey, type MetadataResponse } from '../src/protocol/messages.js';
import { processCpuSeconds, withBenchBroker } from '../test/harness/broker-process.js';
import { withBenchCluster } from './cluster.js';
import { recordSizeSpec, writeSvg } from './chart.js';
import { machineInfo, type MachineInfo } from '../test/harness/machine.js';
import type { ProduceWorkerConfig, ProduceWorkerResult } from './produce-worker.js';
import { percentile, summarize } from '../test/harness/util.js';

/** acks 1, acks all from an idempotent producer (the Producer's default), or acks all with idempotence off. */
export type BenchAcks = 1 | 'all' | 'all-no-idempotence';

export interface ProduceBenchOptions {
  recordBytes: number[];
  producers: number[];
  acks: BenchAcks[];
  partitions: number;
  lingerMs: number;
  batchBytes: number;
  sendRecords: number;
  bufferBytes: number;
  seconds: number;
  repeat: number;
  /** Replicas per partition, each a cell, in a cluster of CLUSTER_BROKERS brokers; absent: one broker, no cluster. */
  replicationFactors?: number[];
  dir: string;
  progress?: (done: number, total: number, label: string) => void;
  log?: (line: string) => void;
}

const FIGURES = ['recordsPerSec', 'mbPerSec', 'brokerCpuSecPerGib', 'clientCpuSecPerGib', 'ackP50Ms', 'ackP99Ms'] as const;

interface Figures {
  recordsPerSec: number;
  mbPerSec: number;
  brokerCpuSecPerGib: number;
  clientCpuSecPerGib: number;
  ackP50Ms: number;
  ackP99Ms: number;
}

/** The brokers of the cluster a replicated run measures. */
export const CLUSTER_BROKERS = 3;

export interface ProduceRun extends Figures {
  recordBytes: number;
  producers: number;
  acks: BenchAcks;
  /** Present in a cluster run. */
  replicationFactor?: number;
  min: Figures;
  max: Figures;
  records: number;
  seconds: number;
}

export interface ProduceReport {
  machine: MachineInfo;
  config: Omit<ProduceBenchOptions, 'progress' | 'log' | 'dir'>;
  runs: ProduceRun[];
}

function runWorker(config: ProduceWorkerConfig, go: Promise<void>, ready: () => void): Promise<ProduceWorkerResult> {
  const worker = new Worker(new URL('./produce-worker.js', import.meta.url), { workerData: config });
  return new Promise((resolve, reject) => {
    worker.on('message', (m: { ready?: true; result?: ProduceWorkerResult; error?: string }) => {
      if (m.ready) {
        ready();
        void go.then(() => worker.postMessage('go'));
      } else if (m.result) resolve(m.result);
      else reject(new Error(`a producer failed: ${m.error}`));
    });
    worker.once('error', reject);
    worker.once('exit', (code) => reject(new Error(`a producer worker exited with ${code}`)));
  });
}

/** Where a cell runs: the broker its producers send to, the processes whose CPU counts, how its topic is made. */
interface CellTarget {
  port: number;
  pids: number[];
  createTopic(topic: string): Promise<void>;
}

async function runCell(target: CellTarget, topic: string, recordBytes: number, producers: number, acks: BenchAcks, o: ProduceBenchOptions): Promise<Figures & { records: number; seconds: number }> {
  await target.createTopic(topic);
  const { port } = target;
  const cpuOf = () => target.pids.reduce((n, pid) => n + processCpuSeconds(pid), 0);
  const admin = await Connection.connect({ host: '127.0.0.1', port, clientId: 'bench-produce-admin' });
  try {
    let start!: () => void;
    const go = new Promise<void>((resolve) => (start = resolve));
    let waiting = producers;
    const config: ProduceWorkerConfig = { broker: `127.0.0.1:${port}`, topic, recordBytes, acks, lingerMs: o.lingerMs, batchBytes: o.batchBytes, sendRecords: o.sendRecords, seconds: o.seconds, bufferBytes: o.bufferBytes };
    let cpu0 = 0;
    let client0 = process.cpuUsage();
    const results = Promise.all(
      Array.from({ length: producers }, () =>
        runWorker(config, go, () => {
          if (--waiting > 0) return;
          cpu0 = cpuOf();
          client0 = process.cpuUsage();
          start();
        }),
      ),
    );
    const done = await results;
    const brokerCpu = cpuOf() - cpu0;
    const client = process.cpuUsage(client0);
    const records = done.reduce((n, r) => n + r.records, 0);
    const bytes = done.reduce((n, r) => n + r.bytes, 0);
    const seconds = Math.max(...done.map((r) => r.seconds));
    // In a cluster, acks=1 records are acknowledged before the followers hold them: the high
    // watermark reaches them once they do (a bounded wait, outside the measured time).
    let stored = 0n;
    for (const deadline = Date.now() + 30_000; ; ) {
      const meta = (await admin.request(ApiKey.Metadata, 0, { topics: [topic] })).body as MetadataResponse;
      stored = meta.topics[0]!.partitions.reduce((n, p) => n + p.highWatermark!, 0n);
      if (stored >= BigInt(records) || Date.now() > deadline) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    if (stored !== BigInt(records)) throw new Error(`verify: producers saw ${records} records acknowledged, the topic holds ${stored}`);
    const latencies = done.flatMap((r) => r.ackLatenciesMs).sort((a, b) => a - b);
    const gib = bytes / 2 ** 30;
    return {
      recordsPerSec: records / seconds,
      mbPerSec: bytes / seconds / 1e6,
      brokerCpuSecPerGib: brokerCpu / gib,
      clientCpuSecPerGib: (client.user + client.system) / 1e6 / gib,
      ackP50Ms: percentile(latencies, 50),
      ackP99Ms: percentile(latencies, 99),
      records,
      seconds,
    };
  } finally {
    await admin.close();
  }
}

export async function runProduceBench(o: ProduceBenchOptions): Promise<ProduceReport> {
  const factors = o.replicationFactors;
  const total = o.recordBytes.length * o.producers.length * o.acks.length * o.repeat * (factors?.length ?? 1);
  let done = 0;
  const measure = async (cell: (topic: string, replicationFactor: number | undefined) => Promise<CellTarget>): Promise<ProduceRun[]> => {
    const runs: ProduceRun[] = [];
    for (const recordBytes of o.recordBytes) {
      for (const producers of o.producers) {
        for (const acks of o.acks) {
          for (const replicationFactor of factors ?? [undefined]) {
            const samples: Array<Figures & { records: number; seconds: number }> = [];
            const label = `${recordBytes} B x${producers} acks=${acks}${replicationFactor ? ` rf=${replicationFactor}` : ''}`;
            for (let r = 0; r < o.repeat; r++) {
              const topic = `produce-${recordBytes}b-${producers}p-acks${acks}${replicationFactor ? `-rf${replicationFactor}` : ''}-${r}`;
              samples.push(await runCell(await cell(topic, replicationFactor), topic, recordBytes, producers, acks, o));
              o.progress?.(++done, total, label);
            }
            const { mid, min, max } = summarize(samples, FIGURES);
            runs.push({ recordBytes, producers, acks, ...(replicationFactor ? { replicationFactor } : {}), ...mid, min, max, records: samples.reduce((n, s) => n + s.records, 0), seconds: samples.reduce((n, s) => n + s.seconds, 0) });
            o.log?.(`bench produce: ${label}: ${mid.mbPerSec.toFixed(0)} MB/s, ${mid.recordsPerSec.toFixed(0)} records/s`);
          }
        }
      }
    }
    return runs;
  };
  const { progress: _p, log: _l, dir: _d, ...config } = o;
  if (factors) {
    return withBenchCluster(o.dir, 'produce', CLUSTER_BROKERS, async (cluster) => {
      const runs = await measure(async (topic, replicationFactor) => {
        await cluster.createTopic(topic, o.partitions, replicationFactor!, Math.min(2, replicationFactor!));
        const leader = await cluster.leaderOf(topic);
        return { port: leader.port, pids: cluster.brokers.map((b) => b.proc.pid!), createTopic: async () => undefined };
      });
      return { machine: machineInfo(), config, runs };
    });
  }
  return withBenchBroker(o.dir, 'produce', 'sendfile', async (broker) => {
    const target: CellTarget = {
      port: broker.port,
      pids: [broker.proc.pid!],
      async createTopic(topic) {
        const admin = await Connection.connect({ host: '127.0.0.1', port: broker.port, clientId: 'bench-produce-admin' });
        try {
          await admin.request(ApiKey.CreateTopics, 0, { topics: [{ name: topic, partitions: o.partitions }] });
        } finally {
          await admin.close();
        }
      },
    };
    return { machine: machineInfo(), config, runs: await measure(async () => target) };
  });
}

/** Markdown table: one row per (producers, acks[, replication factor]), one column per record size. */
export function produceTable(report: ProduceReport): string {
  const sizes = report.config.recordBytes;
  const factors = report.config.replicationFactors;
  const rfHead = factors ? ' replication factor |' : '';
  const head = `| producers | acks |${rfHead} ${sizes.map((b) => `${b} B records`).join(' | ')} |\n|---|---|${factors ? '---|' : ''}${sizes.map(() => '---').join('|')}|\n`;
  const rows = report.config.producers.flatMap((producers) =>
    report.config.acks.flatMap((acks) =>
      (factors ?? [undefined]).map((rf) => {
        const cells = sizes.map((recordBytes) => {
          const r = report.runs.find((x) => x.recordBytes === recordBytes && x.producers === producers && x.acks === acks && x.replicationFactor === rf);
          return r ? `${r.mbPerSec.toFixed(0)} MB/s, ${(r.recordsPerSec / 1000).toFixed(0)}k rec/s, p99 ${r.ackP99Ms.toFixed(1)} ms, ${r.brokerCpuSecPerGib.toFixed(2)} broker CPU-s/GiB` : '-';
        });
        return `| ${producers} | ${acks} |${rf ? ` ${rf} |` : ''} ${cells.join(' | ')} |\n`;
      }),
    ),
  );
  return head + rows.join('');
}

export async function writeProduceChart(report: ProduceReport, path: string): Promise<void> {
  const points = report.runs.map((r) => ({ ...r, series: `${r.producers} producer${r.producers === 1 ? '' : 's'}, acks=${r.acks}${r.replicationFactor ? `, RF ${r.replicationFactor}` : ''}` }));
  const title = `Produce throughput (linger ${report.config.lingerMs} ms, ${report.config.batchBytes / 1024} KiB batches, ${report.config.sendRecords} records per send())`;
  await writeSvg(recordSizeSpec(points, title, ['mbPerSec', 'MB/s into the broker'], ['recordsPerSec', 'records/s']), path);
}
