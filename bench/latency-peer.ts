// End-to-end latency under fan-out, Sluice beside Apache Kafka (`sluice bench latency --peer
// kafka`): the same clients against both brokers' Kafka ports, the brokers alternating per cell.
// A producer offers `rate` records/s to one partition (every `lingerMs`, at least 1 ms, the records
// due then go out as one batch, Produce v3, stamped with their send time); a measuring consumer in a
// worker thread (Fetch v4 long polls) times each record to its receipt; meanwhile N native consumers
// (crates/loadgen fetch_load, Kafka Fetch v4 long polls) tail the same partition. A cell counts only
// when the measuring consumer got every record in order and every fan-out consumer reached the end
// with CRC-checked batches.

import { native } from '../src/native.js';
import { encodeRecordBatch } from '../src/protocol/record-batch.js';
import { kafkaFetchTemplate } from './broker-fanout.js';
import { writeSvg } from './chart.js';
import { KafkaBenchClient, KafkaRequestError, retryKafka } from './kafka-requests.js';
import { withSluiceAndKafka } from './kafka-peer.js';
import { DRAIN_TIMEOUT_MS, latencySpec, medianRun, stampedValue, startMeasuringConsumer, timeStream, type LatencyBenchOptions, type LatencyRun } from './latency.js';
import type { LatencyPeerWorkerConfig } from './latency-peer-worker.js';
import { machineInfo, type MachineInfo } from '../test/harness/machine.js';


export type LatencyPeerOptions = Omit<LatencyBenchOptions, 'path'> & { peerVersion: string };

export interface LatencyPeerReport {
  machine: MachineInfo;
  config: Omit<LatencyPeerOptions, 'progress' | 'log' | 'dir'>;
  peer: { name: string; version: string };
  runs: Array<LatencyRun & { broker: 'sluice' | 'kafka' }>;
}

/** Offers `rate` records/s for `seconds`, one batch per tick; returns the seconds it took. */
async function offer(client: KafkaBenchClient, topic: string, o: LatencyPeerOptions, total: number): Promise<number> {
  const acks = o.acks === 'all' ? -1 : 1;
  const tickMs = Math.max(1, o.lingerMs);
  const t0 = performance.now();
  const inFlight: Array<Promise<void>> = [];
  let sent = 0;
  while (sent < total) {
    const due = Math.min(total, Math.floor(((performance.now() - t0) / 1000) * o.rate));
    if (due > sent) {
      const records = [];
      for (; sent < due; sent++) records.push({ value: stampedValue(sent, o.recordBytes) });
      inFlight.push(
        client.produce(topic, [0], encodeRecordBatch(records), acks).then(([code]) => {
          if (code !== 0) throw new KafkaRequestError(code!, `produce to ${topic}`);
        }),
      );
    }
    await new Promise((resolve) => setTimeout(resolve, tickMs));
  }
  await Promise.all(inFlight);
  return (performance.now() - t0) / 1000;
}

async function runCell(port: number, pid: number, topic: string, fanout: number, o: LatencyPeerOptions): Promise<LatencyRun> {
  const total = Math.round(o.rate * o.seconds);
  const client = await KafkaBenchClient.connect(port);
  try {
    await retryKafka(30_000, () => client.createTopic(topic, 1));
    // Wait for the new topic's leader: a fetch at 0 answers once the partition is served.
    await retryKafka(30_000, () => client.fetch(topic, 0, 0n, 0, 0, 1024));
    const t = kafkaFetchTemplate(0, o.fanoutFetchBytes, topic, { maxWaitMs: o.fanoutMaxWaitMs, minBytes: o.fanoutMinBytes });
    const load = fanout > 0 ? new native.NativeFetchLoad('127.0.0.1', port, fanout, t.frame, t.correlationAt, t.offsetAt, 0n, BigInt(total), 1, t.headBytes) : undefined;
    const measuring = startMeasuringConsumer('./latency-peer-worker.js', { port, topic, records: total, maxWaitMs: o.maxWaitMs, timeoutMs: DRAIN_TIMEOUT_MS } satisfies LatencyPeerWorkerConfig);
    await measuring.ready;
    return await timeStream({ pid, fanout, total, rate: o.rate, measuring, load, offer: () => offer(client, topic, o, total) });
  } finally {
    await client.close();
  }
}

export async function runLatencyPeer(o: LatencyPeerOptions): Promise<LatencyPeerReport> {
  let done = 0;
  return withSluiceAndKafka(o.dir, o.peerVersion, o.log ?? (() => undefined), async (targets, peer) => {
    // An unmeasured warm-up cell per broker first: the JVM's JIT compiles the hot paths (Kafka's
    // first cells otherwise pay for it) and both brokers have served a stream before.
    for (const t of targets) await runCell(t.port, t.pid, 'latency-warm-up', 0, { ...o, seconds: Math.min(2, o.seconds) });
    // The brokers alternate within each fan-out and round.
    const rounds = Math.max(1, o.repeat);
    const all = new Map<string, LatencyPeerReport['runs']>();
    for (let round = 0; round < rounds; round++) {
      for (const fanout of o.fanout) {
        for (const t of targets) {
          const run = { broker: t.broker, ...(await runCell(t.port, t.pid, `latency-${fanout}-${round}`, fanout, o)) };
          all.set(`${t.broker} ${fanout}`, [...(all.get(`${t.broker} ${fanout}`) ?? []), run]);
          o.progress?.(++done, o.fanout.length * targets.length * rounds, `${t.broker} fan-out ${fanout}`);
          o.log?.(`bench latency: ${t.broker} fan-out ${fanout}: p50 ${run.p50Ms.toFixed(2)} ms, p99 ${run.p99Ms.toFixed(2)} ms`);
        }
      }
    }
    const runs = o.fanout.flatMap((fanout) => targets.map((t) => medianRun(all.get(`${t.broker} ${fanout}`)!)));
    const { progress: _p, log: _l, dir: _d, ...config } = o;
    return { machine: machineInfo(), config, peer: { name: 'Apache Kafka', version: peer.version }, runs };
  }, o.brokerArgs);
}

export function latencyPeerTable(report: LatencyPeerReport): string {
  const head = '| fan-out consumers | p50 ms Sluice / Kafka | p99 ms Sluice / Kafka (median run) | every run\'s p99 ms Sluice / Kafka | p99.9 ms Sluice / Kafka | records/s achieved Sluice / Kafka | broker CPU (cores) Sluice / Kafka |\n|---|---|---|---|---|---|---|\n';
  const rows = report.config.fanout.map((fanout) => {
    const s = report.runs.find((r) => r.broker === 'sluice' && r.fanout === fanout)!;
    const k = report.runs.find((r) => r.broker === 'kafka' && r.fanout === fanout)!;
    const pair = (a: number, b: number, d = 2) => `${a.toFixed(d)} / ${b.toFixed(d)}`;
    const runs = (r: LatencyRun) => r.p99RunsMs?.map((v) => v.toFixed(0)).join(', ') ?? '-';
    return `| ${fanout} | ${pair(s.p50Ms, k.p50Ms)} | ${pair(s.p99Ms, k.p99Ms)} | ${runs(s)} / ${runs(k)} | ${pair(s.p999Ms, k.p999Ms)} | ${pair(s.achievedPerSec, k.achievedPerSec, 0)} | ${pair(s.brokerCores, k.brokerCores)} |\n`;
  });
  return head + rows.join('');
}

export async function writeLatencyPeerChart(report: LatencyPeerReport, path: string): Promise<void> {
  const name = `${report.peer.name} ${report.peer.version}`;
  const points = report.runs.flatMap((r) => [
    { fanout: r.fanout, series: `${r.broker === 'sluice' ? 'Sluice' : name} p50`, ms: r.p50Ms },
    { fanout: r.fanout, series: `${r.broker === 'sluice' ? 'Sluice' : name} p99`, ms: r.p99Ms },
  ]);
  const c = report.config;
  await writeSvg(latencySpec(points, `End-to-end latency, Sluice vs ${name}: ${c.rate} records/s of ${c.recordBytes} B, acks=${c.acks}, N consumers tailing (same clients)`, true), path);
}
