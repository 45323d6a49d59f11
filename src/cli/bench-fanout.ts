// `sluice bench fanout`: the broker fan-out benchmark (bench/broker-fanout.ts) with a progress bar
// on stderr, a table on stdout, JSON and an SVG chart.

import { tmpdir } from 'node:os';
import { brokerFanoutTable, runBrokerFanout, writeBrokerFanoutChart, type BrokerFanoutOptions } from '../../bench/broker-fanout.js';
import { benchProgress, publishReport } from './bench-progress.js';

/** The benchmark's options as flags: `--seconds` is its `minSeconds`, `--protocol` its `protocols`; output files and `--quick` added. */
export type BenchFanoutFlags = Omit<BrokerFanoutOptions, 'minSeconds' | 'dir' | 'progress' | 'log' | 'protocols'> & {
  /** `--protocol`: the front doors besides Sluice's own. */
  protocol: BrokerFanoutOptions['protocols'];
  seconds: number;
  quick?: boolean;
  dir?: string;
  json: string;
  chart: string;
};

export async function runBenchFanout(flags: BenchFanoutFlags): Promise<void> {
  const quick = flags.quick === true;
  const bar = benchProgress('fanout');
  const report = await runBrokerFanout({
    protocols: flags.protocol,
    gib: quick ? 1 / 16 : flags.gib,
    partitions: flags.partitions,
    recordBytes: flags.recordBytes,
    batchBytes: flags.batchBytes,
    paths: flags.paths,
    consumers: quick ? [1, 16] : flags.consumers,
    fetchBytes: flags.fetchBytes,
    repeat: quick ? 1 : flags.repeat,
    minSeconds: quick ? 0 : flags.seconds,
    raw: flags.raw,
    dir: flags.dir ?? tmpdir(),
    log: bar.log,
    progress: bar.progress,
  });
  await publishReport(bar, report, flags, writeBrokerFanoutChart, [
    `topic: ${(report.config.topicBytes / 2 ** 30).toFixed(2)} GiB in ${report.config.partitions} partition(s), preloaded at ${report.preload.mbPerSec.toFixed(0)} MB/s`,
    brokerFanoutTable(report),
  ]);
}
