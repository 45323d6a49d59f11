// `sluice bench produce`: produce throughput (bench/produce.ts) with a progress bar on stderr, a
// table on stdout, JSON and an SVG chart.

import { tmpdir } from 'node:os';
import { machineLine } from '../../bench/machine.js';
import { produceTable, runProduceBench, writeProduceChart, type ProduceBenchOptions } from '../../bench/produce.js';
import { writeJson } from '../../bench/util.js';
import { benchProgress } from './bench-progress.js';

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
  bar.stop();
  writeJson(json, report);
  await writeProduceChart(report, chart);
  console.log(machineLine(report.machine));
  console.log(`linger ${report.config.lingerMs} ms, batches of ${report.config.batchBytes} B, ${report.config.sendRecords} records per send(), ${report.config.partitions} partition(s)`);
  console.log(produceTable(report));
  console.log(`JSON: ${json}\nchart: ${chart}`);
}
