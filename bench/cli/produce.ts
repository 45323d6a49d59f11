// `sluice bench produce`: produce throughput (bench/produce.ts) with a progress bar on stderr, a
// table on stdout, JSON and an SVG chart.

import { tmpdir } from 'node:os';
import { CLUSTER_BROKERS, produceTable, runProduceBench, writeProduceChart, type ProduceBenchOptions } from '../produce.js';
import { producePeerTable, runProducePeer, writeProducePeerChart } from '../produce-peer.js';
import { benchProgress, publishReport, reportFiles, type ReportFlags } from './progress.js';

export type BenchProduceFlags = Omit<ProduceBenchOptions, 'dir' | 'progress' | 'log' | 'replicationFactors'> & {
  /** `--replication-factor 1,3`: a cluster run (ProduceBenchOptions.replicationFactors). */
  replicationFactor?: number[];
  /** `--peer kafka`: the same Kafka-protocol producer against Sluice's Kafka listener and Apache Kafka. */
  peer?: 'kafka';
  peerVersion: string;
  inFlight: number;
  quick?: boolean;
  dir?: string;
} & ReportFlags;

export async function runBenchProduce(flags: BenchProduceFlags): Promise<void> {
  const quick = flags.quick === true;
  const bar = benchProgress('produce');
  const { quick: _q, dir, json, chart, publish, peer, peerVersion, inFlight, replicationFactor, ...rest } = flags;
  const options: Omit<ProduceBenchOptions, 'dir' | 'progress' | 'log'> = { ...rest, ...(replicationFactor ? { replicationFactors: replicationFactor } : {}) };
  const files = reportFiles(peer ? 'produce-kafka-peer' : options.replicationFactors ? 'produce-replicated' : 'produce', { json, chart, publish });
  if (peer) {
    const report = await runProducePeer({
      recordBytes: quick ? [1024] : options.recordBytes,
      // The peer's producer sends ready-made batches without producer ids: idempotence is not its to turn off.
      acks: options.acks.map((a) => (a === 1 ? 1 : 'all')).filter((a, i, all) => all.indexOf(a) === i),
      partitions: options.partitions,
      batchBytes: options.batchBytes,
      inFlight,
      seconds: quick ? 0.5 : options.seconds,
      repeat: quick ? 1 : options.repeat,
      peerVersion,
      dir: dir ?? tmpdir(),
      log: bar.log,
      progress: bar.progress,
    });
    await publishReport(bar, report, files, writeProducePeerChart, [
      `Sluice (Kafka listener) vs ${report.peer.name} ${report.peer.version}: ${options.batchBytes} B batches, ${inFlight} requests in flight, ${options.partitions} partition(s)`,
      producePeerTable(report),
    ]);
    return;
  }
  const report = await runProduceBench({
    ...options,
    ...(quick ? { recordBytes: [1024], producers: [1, 2], seconds: 0.5, repeat: 1 } : {}),
    dir: dir ?? tmpdir(),
    log: bar.log,
    progress: bar.progress,
  });
  const c = report.config;
  await publishReport(bar, report, files, writeProduceChart, [
    `linger ${c.lingerMs} ms, batches of ${c.batchBytes} B, ${c.sendRecords} records per send(), ${c.partitions} partition(s)${c.replicationFactors ? `, a cluster of ${CLUSTER_BROKERS} brokers` : ''}`,
    produceTable(report),
  ]);
}
