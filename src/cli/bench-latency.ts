// `sluice bench latency`: end-to-end latency under fan-out (bench/latency.ts) with a progress bar
// on stderr, a table on stdout, JSON and an SVG chart.

import { tmpdir } from 'node:os';
import { latencyTable, runLatencyBench, writeLatencyChart, type LatencyBenchOptions } from '../../bench/latency.js';
import { benchProgress, publishReport } from './bench-progress.js';

export type BenchLatencyFlags = Omit<LatencyBenchOptions, 'dir' | 'progress' | 'log'> & {
  quick?: boolean;
  dir?: string;
  json: string;
  chart: string;
};

export async function runBenchLatency(flags: BenchLatencyFlags): Promise<void> {
  const bar = benchProgress('latency');
  const { quick, dir, json, chart, ...options } = flags;
  const report = await runLatencyBench({
    ...options,
    ...(quick === true ? { fanout: [0, 16], seconds: 1, rate: 2000 } : {}),
    dir: dir ?? tmpdir(),
    log: bar.log,
    progress: bar.progress,
  });
  const c = report.config;
  await publishReport(bar, report, { json, chart }, writeLatencyChart, [
    `${c.rate} records/s of ${c.recordBytes} B for ${c.seconds} s, acks=${c.acks}, linger ${c.lingerMs} ms; fan-out fetches of ${c.fanoutFetchBytes} B, minBytes ${c.fanoutMinBytes}, maxWaitMs ${c.fanoutMaxWaitMs}; ${c.path} path`,
    latencyTable(report),
  ]);
}
