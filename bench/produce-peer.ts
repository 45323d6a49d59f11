// Produce into Sluice and into Apache Kafka side by side (`sluice bench produce --peer kafka`): the
// same producer against both brokers' Kafka ports, alternating within each repeat, so the figures
// compare the brokers' append paths and not two client libraries. The producer is as cheap as a
// producer can be: ready-made RecordBatch v2 bytes (`batchBytes` of `recordBytes` records, one batch
// per partition per request, Produce v3 as every Kafka client sends it), `inFlight` requests
// pipelined on one connection (Kafka's max.in.flight.requests.per.connection default is 5).
//
// A cell counts only when the topic's end offsets add up to the records acknowledged. Per cell:
// records/s, MB/s, broker CPU-s per GiB (/proc), p50/p99 from request to acknowledgement.
//
// acks=all differs in what it promises: Sluice fsyncs before it answers (group commit); Kafka
// with one replica answers once the leader has the batch in its page cache (it never fsyncs by
// default). The table says so beside the figures.

import { encodeRecordBatch } from '../src/protocol/record-batch.js';
import { processCpuSeconds } from '../test/harness/broker-process.js';
import { recordSizeSpec, writeSvg } from './chart.js';
import { KafkaBenchClient, KafkaRequestError, retryKafka } from './kafka-requests.js';
import { withSluiceAndKafka } from './kafka-peer.js';
import { machineInfo, type MachineInfo } from '../test/harness/machine.js';
import { percentile, summarize } from '../test/harness/util.js';

export interface ProducePeerOptions {
  recordBytes: number[];
  acks: Array<1 | 'all'>;
  partitions: number;
  batchBytes: number;
  inFlight: number;
  seconds: number;
  repeat: number;
  peerVersion: string;
  dir: string;
  progress?: (done: number, total: number, label: string) => void;
  log?: (line: string) => void;
}

const FIGURES = ['recordsPerSec', 'mbPerSec', 'brokerCpuSecPerGib', 'ackP50Ms', 'ackP99Ms'] as const;
type Figures = Record<(typeof FIGURES)[number], number>;

export interface ProducePeerRun {
  broker: 'sluice' | 'kafka';
  recordBytes: number;
  acks: 1 | 'all';
  mid: Figures;
  min: Figures;
  max: Figures;
  records: number;
}

export interface ProducePeerReport {
  machine: MachineInfo;
  config: Omit<ProducePeerOptions, 'progress' | 'log' | 'dir'>;
  peer: { name: string; version: string };
  runs: ProducePeerRun[];
}

/** One cell: produce for `seconds` into a fresh topic on the broker at `port`, then check what it holds. */
async function runCell(port: number, pid: number, topic: string, recordBytes: number, acks: 1 | 'all', o: ProducePeerOptions): Promise<Figures & { records: number }> {
  const perBatch = Math.max(1, Math.floor(o.batchBytes / (recordBytes + 12)));
  const batch = encodeRecordBatch(Array.from({ length: perBatch }, () => ({ value: Buffer.alloc(recordBytes, 0x62) })));
  const client = await KafkaBenchClient.connect(port);
  try {
    await retryKafka(30_000, () => client.createTopic(topic, o.partitions));
    const partitions = Array.from({ length: o.partitions }, (_, p) => p);
    const acksCode = acks === 'all' ? -1 : 1;
    const send = async () => {
      const t0 = performance.now();
      const codes = await client.produce(topic, partitions, batch, acksCode);
      const bad = codes.find((c) => c !== 0);
      if (bad !== undefined) throw new KafkaRequestError(bad, `produce to ${topic}`);
      return performance.now() - t0;
    };
    // The first request waits for the new topic's leaders (a fresh Kafka topic takes a moment).
    await retryKafka(30_000, send);
    const latencies: number[] = [];
    let acked = 0;
    const cpu0 = processCpuSeconds(pid);
    const t0 = performance.now();
    const end = t0 + o.seconds * 1000;
    const lane = async () => {
      while (performance.now() < end) {
        latencies.push(await send());
        acked++;
      }
    };
    await Promise.all(Array.from({ length: o.inFlight }, lane));
    const seconds = (performance.now() - t0) / 1000;
    const cpu = processCpuSeconds(pid) - cpu0;
    const ends = await client.endOffsets(topic, o.partitions);
    const stored = ends.reduce((a, b) => a + b, 0n);
    const records = acked * perBatch * o.partitions;
    // The warm-up request is in the log too.
    if (stored !== BigInt(records + perBatch * o.partitions)) throw new Error(`verify: ${records} records acknowledged after the first request, ${topic} holds ${stored}`);
    const bytes = acked * batch.length * o.partitions;
    latencies.sort((a, b) => a - b);
    return { recordsPerSec: records / seconds, mbPerSec: bytes / seconds / 1e6, brokerCpuSecPerGib: cpu / (bytes / 2 ** 30), ackP50Ms: percentile(latencies, 50), ackP99Ms: percentile(latencies, 99), records };
  } finally {
    await client.close();
  }
}

export async function runProducePeer(o: ProducePeerOptions): Promise<ProducePeerReport> {
  const total = o.recordBytes.length * o.acks.length * o.repeat * 2;
  let done = 0;
  return withSluiceAndKafka(o.dir, o.peerVersion, o.log ?? (() => undefined), async (targets, peer) => {
    const runs: ProducePeerRun[] = [];
    for (const recordBytes of o.recordBytes) {
      for (const acks of o.acks) {
        const samples = targets.map(() => [] as Array<Figures & { records: number }>);
        for (let r = 0; r < o.repeat; r++) {
          for (const [i, t] of targets.entries()) {
            samples[i]!.push(await runCell(t.port, t.pid, `produce-${recordBytes}b-acks${acks}-${r}`, recordBytes, acks, o));
            o.progress?.(++done, total, `${t.broker} ${recordBytes} B acks=${acks}`);
          }
        }
        for (const [i, t] of targets.entries()) {
          const { mid, min, max } = summarize(samples[i]!, FIGURES);
          runs.push({ broker: t.broker, recordBytes, acks, mid, min, max, records: samples[i]!.reduce((n, s) => n + s.records, 0) });
        }
      }
    }
    const { progress: _p, log: _l, dir: _d, ...config } = o;
    return { machine: machineInfo(), config, peer: { name: 'Apache Kafka', version: peer.version }, runs };
  });
}

/** Markdown: per record size and acks, Sluice / Kafka and the ratio. */
export function producePeerTable(report: ProducePeerReport): string {
  const head = `| record bytes | acks | records/s Sluice / Kafka (ratio) | broker CPU-s per GiB Sluice / Kafka (ratio) | ack p99 ms Sluice / Kafka |\n|---|---|---|---|---|\n`;
  const rows = report.config.recordBytes.flatMap((recordBytes) =>
    report.config.acks.map((acks) => {
      const s = report.runs.find((r) => r.broker === 'sluice' && r.recordBytes === recordBytes && r.acks === acks)!.mid;
      const k = report.runs.find((r) => r.broker === 'kafka' && r.recordBytes === recordBytes && r.acks === acks)!.mid;
      const note = acks === 'all' ? ' (Sluice fsyncs, Kafka does not)' : '';
      return `| ${recordBytes} | ${acks}${note} | ${(s.recordsPerSec / 1000).toFixed(0)}k / ${(k.recordsPerSec / 1000).toFixed(0)}k (${(s.recordsPerSec / k.recordsPerSec).toFixed(2)}) | ${s.brokerCpuSecPerGib.toFixed(2)} / ${k.brokerCpuSecPerGib.toFixed(2)} (${(s.brokerCpuSecPerGib / k.brokerCpuSecPerGib).toFixed(2)}) | ${s.ackP99Ms.toFixed(1)} / ${k.ackP99Ms.toFixed(1)} |\n`;
    }),
  );
  return head + rows.join('');
}

export async function writeProducePeerChart(report: ProducePeerReport, path: string): Promise<void> {
  const points = report.runs.map((r) => ({ ...r.mid, recordBytes: r.recordBytes, series: `${r.broker === 'sluice' ? 'Sluice' : `${report.peer.name} ${report.peer.version}`}, acks=${r.acks}` }));
  const title = `Produce, Sluice vs ${report.peer.name} ${report.peer.version} (same producer, ${report.config.batchBytes / 1024} KiB batches, ${report.config.inFlight} in flight)`;
  await writeSvg(recordSizeSpec(points, title, ['recordsPerSec', 'records/s (higher is better)'], ['brokerCpuSecPerGib', 'broker CPU-s per GiB (lower is better)']), path);
}
