// `sluice bench produce`: produce throughput (bench/produce.ts) with a progress bar on stderr, a
// table on stdout, JSON and an SVG chart.

import { tmpdir } from 'node:os';
import { produceTable, runProduceBench, writeProduceChart, type ProduceBenchOptions } from '../../bench/produce.js';
import { benchProgress, publishReport } from './bench-progress.js';

export type BenchProduceFlags = Omit<ProduceBenchOptions, 'dir' | 'progress' | 'log'> & {
  quick?: boolean;
  dir?: string;
  json: string;
  chart: string;
};

export async function runBenchProduce(flags: BenchProduceFlags): Promise<void> {
  const quick = flags.quick === true;
  const bar = benchProgress('produce');
  const { quick: _q, dir, json, chart, ...options } = flags;
  const report = await runProduceBench({
    ...options,
    ...(quick ? { recordBytes: [1024], producers: [1, 2], seconds: 0.5, repeat: 1 } : {}),
    dir: dir ?? tmpdir(),
    log: bar.log,
    progress: bar.progress,
  });
  const c = report.config;
  await publishReport(bar, report, { json, chart }, writeProduceChart, [
    `linger ${c.lingerMs} ms, batches of ${c.batchBytes} B, ${c.sendRecords} records per send(), ${c.partitions} partition(s)`,
    produceTable(report),
  ]);
}
