// `sluice bench fanout`: the broker fan-out benchmark (bench/broker-fanout.ts) with a progress bar
// on stderr, a table on stdout, JSON and an SVG chart.

import { tmpdir } from 'node:os';
import { brokerFanoutTable, peerComparisonTable, runBrokerFanout, writeBrokerFanoutChart, type BrokerFanoutOptions } from '../broker-fanout.js';
import { benchProgress, publishReport, reportFiles, type ReportFlags } from './progress.js';

/** The benchmark's options as flags: `--seconds` is its `minSeconds`, `--protocol` its `protocols`; output files and `--quick` added. */
export type BenchFanoutFlags = Omit<BrokerFanoutOptions, 'minSeconds' | 'dir' | 'progress' | 'log' | 'protocols' | 'peer' | 'kafkaFetchVersions'> & {
  /** `--kafka-fetch-version v,...`. */
  kafkaFetchVersion: BrokerFanoutOptions['kafkaFetchVersions'];
  /** `--protocol`: the front doors besides Sluice's own. */
  protocol: BrokerFanoutOptions['protocols'];
  /** `--peer kafka`: Apache Kafka measured beside Sluice. */
  peer?: NonNullable<BrokerFanoutOptions['peer']>;
  seconds: number;
  quick?: boolean;
  dir?: string;
} & ReportFlags;

export async function runBenchFanout(flags: BenchFanoutFlags): Promise<void> {
  const quick = flags.quick === true;
  const bar = benchProgress('fanout');
  const report = await runBrokerFanout({
    protocols: flags.protocol,
    peer: flags.peer ?? null,
    peerVersion: flags.peerVersion,
    gib: quick ? 1 / 16 : flags.gib,
    partitions: flags.partitions,
    recordBytes: flags.recordBytes,
    batchBytes: flags.batchBytes,
    paths: flags.paths,
    consumers: quick ? [1, 16] : flags.consumers,
    fetchBytes: flags.fetchBytes,
    kafkaFetchVersions: flags.kafkaFetchVersion,
    repeat: quick ? 1 : flags.repeat,
    minSeconds: quick ? 0 : flags.seconds,
    raw: flags.raw,
    brokerArgs: flags.brokerArgs,
    dir: flags.dir ?? tmpdir(),
    log: bar.log,
    progress: bar.progress,
  });
  const published = flags.peer ? 'fanout-kafka-peer' : flags.protocol.includes('kafka') ? 'fanout-kafka' : 'fanout';
  await publishReport(bar, report, reportFiles(published, flags), writeBrokerFanoutChart, [
    ...report.config.topics.map((t) => `topic ${t.name}: ${(t.bytes / 2 ** 30).toFixed(2)} GiB in ${t.partitions} partition(s)`),
    `preloaded at ${report.preload.mbPerSec.toFixed(0)} MB/s${report.peer ? `; ${report.peer.name} ${report.peer.version} at ${report.peer.preload.mbPerSec.toFixed(0)} MB/s, answering ${report.peer.startSeconds.toFixed(1)} s after its start` : ''}`,
    brokerFanoutTable(report),
    ...(report.peer ? [`Sluice vs ${report.peer.name} ${report.peer.version} (identical Kafka Fetch v${report.config.kafkaFetchVersions[0]} consumers; Sluice through its Kafka listener):`, peerComparisonTable(report)] : []),
  ]);
}
