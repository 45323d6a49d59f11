// `sluice bench fanout`: the broker fan-out benchmark (bench/broker-fanout.ts) with a progress bar
// on stderr, a table on stdout, JSON and an SVG chart.

import { tmpdir } from 'node:os';
import { SingleBar, Presets } from 'cli-progress';
import { brokerFanoutTable, runBrokerFanout, writeBrokerFanoutChart, type BrokerFanoutOptions } from '../../bench/broker-fanout.js';
import { writeJson } from '../../bench/util.js';

/** The benchmark's options as flags: `--seconds` is its `minSeconds`; output files and `--quick` added. */
export type BenchFanoutFlags = Omit<BrokerFanoutOptions, 'minSeconds' | 'dir' | 'progress' | 'log'> & {
  seconds: number;
  quick?: boolean;
  dir?: string;
  json: string;
  chart: string;
};

export async function runBenchFanout(flags: BenchFanoutFlags): Promise<void> {
  const quick = flags.quick === true;
  const bar = new SingleBar({ format: 'fanout [{bar}] {value}/{total} cells | {label}', stream: process.stderr, hideCursor: true, noTTYOutput: false }, Presets.shades_classic);
  let started = false;
  const report = await runBrokerFanout({
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
    log: (line) => {
      if (!started) process.stderr.write(`${line}\n`);
    },
    progress: (done, total, label) => {
      if (!started) bar.start(total, 0, { label });
      started = true;
      bar.update(done, { label });
    },
  });
  bar.stop();
  writeJson(flags.json, report);
  await writeBrokerFanoutChart(report, flags.chart);
  const m = report.machine;
  console.log(`${m.cpuModel}, ${m.cores} cores, ${m.memoryGiB} GiB, Linux ${m.kernel}, Node ${m.node}`);
  console.log(`topic: ${(report.config.topicBytes / 2 ** 30).toFixed(2)} GiB in ${report.config.partitions} partition(s), preloaded at ${report.preload.mbPerSec.toFixed(0)} MB/s`);
  console.log(brokerFanoutTable(report));
  console.log(`JSON: ${flags.json}\nchart: ${flags.chart}`);
}
