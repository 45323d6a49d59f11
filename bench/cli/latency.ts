// `sluice bench latency`: end-to-end latency under fan-out (bench/latency.ts) with a progress bar
// on stderr, a table on stdout, JSON and an SVG chart.

import { tmpdir } from 'node:os';
import { latencyTable, runLatencyBench, writeLatencyChart, type LatencyBenchOptions } from '../latency.js';
import { latencyPeerTable, runLatencyPeer, writeLatencyPeerChart } from '../latency-peer.js';
import { benchProgress, publishReport, reportFiles, type ReportFlags } from './progress.js';

export type BenchLatencyFlags = Omit<LatencyBenchOptions, 'dir' | 'progress' | 'log'> & {
  /** `--peer kafka`: the same Kafka-protocol clients against Sluice's Kafka listener and Apache Kafka. */
  peer?: 'kafka';
  peerVersion: string;
  quick?: boolean;
  dir?: string;
} & ReportFlags;

export async function runBenchLatency(flags: BenchLatencyFlags): Promise<void> {
  const bar = benchProgress('latency');
  const { quick, dir, json, chart, publish, peer, peerVersion, ...options } = flags;
  const files = reportFiles(peer ? 'latency-kafka-peer' : 'latency', { json, chart, publish });
  const quickOptions = quick === true ? { fanout: [0, 16], seconds: 1, rate: 2000 } : {};
  if (peer) {
    const { path: _path, ...rest } = options;
    const report = await runLatencyPeer({ ...rest, ...quickOptions, peerVersion, dir: dir ?? tmpdir(), log: bar.log, progress: bar.progress });
    const c = report.config;
    await publishReport(bar, report, files, writeLatencyPeerChart, [
      `Sluice (Kafka listener) vs ${report.peer.name} ${report.peer.version}: ${c.rate} records/s of ${c.recordBytes} B for ${c.seconds} s, acks=${c.acks}, a batch every ${Math.max(1, c.lingerMs)} ms; fan-out Fetch v4 of ${c.fanoutFetchBytes} B, minBytes ${c.fanoutMinBytes}, maxWaitMs ${c.fanoutMaxWaitMs}`,
      latencyPeerTable(report),
    ]);
    return;
  }
  const report = await runLatencyBench({
    ...options,
    ...quickOptions,
    dir: dir ?? tmpdir(),
    log: bar.log,
    progress: bar.progress,
  });
  const c = report.config;
  await publishReport(bar, report, files, writeLatencyChart, [
    `${c.rate} records/s of ${c.recordBytes} B for ${c.seconds} s, acks=${c.acks}, linger ${c.lingerMs} ms; fan-out fetches of ${c.fanoutFetchBytes} B, minBytes ${c.fanoutMinBytes}, maxWaitMs ${c.fanoutMaxWaitMs}; ${c.path} path`,
    latencyTable(report),
  ]);
}
