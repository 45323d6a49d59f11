// `sluice bench append`: runs the append benchmark and prints its table.

import { tmpdir } from 'node:os';
import { appendTable, defaultAppendOptions, runAppendBench } from '../append.js';
import { reportFiles } from './progress.js';

export interface BenchAppendFlags {
  seconds: number;
  sizes: number[];
  writers: number;
  maxMib: number;
  dir?: string;
  json?: string;
  publish?: boolean;
}

export async function runBenchAppend(flags: BenchAppendFlags): Promise<void> {
  const { json } = reportFiles('append', flags);
  const report = await runAppendBench({
    ...defaultAppendOptions,
    seconds: flags.seconds,
    sizes: flags.sizes,
    writers: flags.writers,
    maxBytesPerCase: flags.maxMib * 2 ** 20,
    dir: flags.dir ?? tmpdir(),
    json,
    log: (line) => process.stderr.write(line + '\n'),
  });
  const m = report.machine;
  console.log(`${m.cpuModel}, ${m.cores} cores, ${m.memoryGiB} GiB, Linux ${m.kernel}, Node ${m.node}`);
  console.log(appendTable(report));
  console.log(`\nJSON: ${json}`);
}
