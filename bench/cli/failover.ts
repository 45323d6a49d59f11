// `sluice bench failover`: leader SIGKILL to the first acks=all acknowledgement on the new leader
// (bench/failover.ts), with a progress bar on stderr, a table on stdout, JSON and an SVG chart.

import { tmpdir } from 'node:os';
import { failoverTable, runFailoverBench, writeFailoverChart, type FailoverBenchOptions } from '../failover.js';
import { benchProgress, publishReport, reportFiles, type ReportFlags } from './progress.js';

export type BenchFailoverFlags = Omit<FailoverBenchOptions, 'dir' | 'progress' | 'log'> & { quick?: boolean; dir?: string } & ReportFlags;

export async function runBenchFailover(flags: BenchFailoverFlags): Promise<void> {
  const bar = benchProgress('failover');
  const { quick, dir, json, chart, publish, ...options } = flags;
  const files = reportFiles('failover', { json, chart, publish });
  const report = await runFailoverBench({ ...options, ...(quick ? { trials: 1 } : {}), dir: dir ?? tmpdir(), log: bar.log, progress: bar.progress });
  await publishReport(bar, report, files, writeFailoverChart, [
    `3 brokers and etcd, an RF 3 topic with min.insync.replicas 2, session timeout ${report.config.sessionTimeoutMs} ms; ${report.acknowledgedBatches} acknowledged batches verified in order, once`,
    failoverTable(report),
  ]);
}
