// `sluice bench transfer`: runs the transfer-level fan-out benchmark and prints its tables.

import { tmpdir } from 'node:os';
import { defaultFanoutOptions, fanoutTable, runFanoutBench, type FanoutPath } from '../transfer-fanout.js';
import { reportFiles } from './progress.js';

export interface BenchTransferFlags {
  logMib: number;
  consumers: number[];
  paths: FanoutPath[];
  seconds: number;
  repeat: number;
  sliceKib: number;
  sweep: boolean;
  dir?: string;
  json?: string;
  publish?: boolean;
}

export async function runBenchTransfer(flags: BenchTransferFlags): Promise<void> {
  const { json } = reportFiles('transfer-fanout', flags);
  const report = await runFanoutBench({
    ...defaultFanoutOptions,
    logBytes: flags.logMib * 2 ** 20,
    consumers: flags.consumers,
    paths: flags.paths,
    seconds: flags.seconds,
    repeat: flags.repeat,
    sliceBytes: flags.sliceKib * 1024,
    sweep: flags.sweep,
    sweepConsumers: flags.consumers.includes(16) ? 16 : flags.consumers[flags.consumers.length - 1]!,
    dir: flags.dir ?? tmpdir(),
    json,
    log: (line) => process.stderr.write(line + '\n'),
  });
  const m = report.machine;
  console.log(`${m.cpuModel}, ${m.cores} cores, ${m.memoryGiB} GiB, Linux ${m.kernel}, Node ${m.node}`);
  console.log(fanoutTable(report));
  console.log(`\nJSON: ${json}`);
}
