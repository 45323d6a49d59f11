// `sluice bench ...`: the benchmark commands and their options. The product's CLI loads this
// module only when asked (src/cli/main.ts), so the broker and the clients never carry it.

import { Command, InvalidArgumentError, Option } from 'commander';
import { choiceList, countList, nonNegativeNumber, numberList, positiveNumber } from '../../src/cli/parsers.js';
import { FETCH_PATHS, type FetchPath } from '../../src/transfer/engine.js';
import { FANOUT_PEERS, FANOUT_PROTOCOLS, type FanoutProtocol } from '../broker-fanout.js';
import { DEFAULT_KAFKA_VERSION } from '../kafka-peer.js';
import { CONSUME_MODES, type ConsumeMode } from '../latency.js';
import { FANOUT_PATHS, type FanoutPath } from '../transfer-fanout.js';
import { KAFKA_FETCH_VERSIONS, type KafkaFetchVersion } from '../../test/harness/request-templates.js';
import { runBenchAppend } from './append.js';
import { runBenchFanout } from './fanout.js';
import { runBenchLatency } from './latency.js';
import { runBenchProduce } from './produce.js';
import { runBenchFailover } from './failover.js';
import type { BenchAcks } from '../produce.js';
import { runBenchTransfer } from './transfer.js';

const protocolList = choiceList<FanoutProtocol>(FANOUT_PROTOCOLS, 'protocol');
const fetchPathList = choiceList<FetchPath>(FETCH_PATHS, 'fetch path');
const consumeModeList = choiceList<ConsumeMode>(CONSUME_MODES, 'consume mode');
const kafkaFetchVersions = (value: string): KafkaFetchVersion[] =>
  value.split(',').map((part) => {
    const v = Number(part);
    if (!(KAFKA_FETCH_VERSIONS as readonly number[]).includes(v)) throw new InvalidArgumentError(`expected ${KAFKA_FETCH_VERSIONS.join(', ')} (or several, comma-separated), got "${value}"`);
    return v as KafkaFetchVersion;
  });

const bench = new Command('sluice bench').description('benchmarks that write JSON and print a table');
bench.exitOverride((err) => process.exit(err.exitCode === 0 ? 0 : 2));

/** The options every broker benchmark shares: where the broker's data lives and where the report goes. */
/** Where a benchmark writes: a fresh temp dir unless told (`--json`, `--chart`), `--publish` for the README's files. */
function reportOptions(command: Command, chart = true): Command {
  command
    .option('--dir <dir>', "where the benchmark's broker or logs keep their data (removed after)")
    .option('--json <file>', 'write the report here (default: a fresh temp dir, printed)');
  if (chart) command.option('--chart <file>', 'write the chart here (default: beside the JSON)');
  return command
    .option('--publish', "write the published results the README shows (bench/results/<name>.json and .svg)")
    .hook('preAction', (cmd) => {
      const o = cmd.opts<{ publish?: boolean; quick?: boolean; json?: string; chart?: string }>();
      if (o.publish && o.quick) cmd.error('error: --quick runs are smoke tests; they are not published (drop --publish or --quick)', { exitCode: 2 });
      if (o.publish && (o.json || o.chart)) cmd.error('error: --publish names its own files; drop --json/--chart', { exitCode: 2 });
    });
}
reportOptions(bench.command('append'), false)
  .description('append throughput: batch sizes x (page cache, fsync each, group commit)')
  .option('--seconds <s>', 'time per case', positiveNumber, 2)
  .option('--sizes <bytes,...>', 'batch sizes', numberList, [1024, 16384, 1048576])
  .option('--writers <n>', 'concurrent writers for group commit', positiveNumber, 16)
  .option('--max-mib <n>', 'byte budget per case, MiB', positiveNumber, 1024)
  .action(runBenchAppend);

reportOptions(bench.command('fanout'))
  .description('broker fan-out: a broker per fetch path, N native consumers reading the whole topic with Fetch requests, beside the raw sendfile limit')
  .option('--protocol <p,...>', `front doors to fetch through (${FANOUT_PROTOCOLS.join(', ')}); Sluice's own is always measured beside the others`, protocolList, ['sluice'])
  .option('--gib <n>', 'data to preload, GiB', positiveNumber, 1)
  .addOption(new Option('--peer <broker>', `another broker measured beside Sluice in the same run, with identical Kafka consumers (${FANOUT_PEERS.join(', ')}: Apache Kafka from Maven Central, KRaft, stock settings)`).choices([...FANOUT_PEERS]))
  .option('--peer-version <v>', 'the peer\'s version', DEFAULT_KAFKA_VERSION)
  .option('--partitions <n,...>', 'partition counts (a topic each)', numberList, [1])
  .option('--record-bytes <n>', 'bytes per record', positiveNumber, 1024)
  .option('--batch-bytes <n>', 'bytes per produced batch', positiveNumber, 65536)
  .option('--paths <p,...>', `fetch paths (${FETCH_PATHS.join(', ')})`, fetchPathList, [...FETCH_PATHS])
  .option('--consumers <n,...>', 'consumer counts', numberList, [1, 4, 16, 64, 256])
  .option('--fetch-bytes <n>', 'maxBytes per fetch', positiveNumber, 1048576)
  .option('--kafka-fetch-version <v,...>', `the Fetch versions Kafka-protocol consumers send (${KAFKA_FETCH_VERSIONS.join(', ')}; several: a cell each, alternating; the peer gets the first)`, kafkaFetchVersions, [4])
  .option('--repeat <n>', 'runs per cell (the median is reported, with min and max)', positiveNumber, 3)
  .option('--seconds <s>', 'each cell reads whole passes for at least this long', positiveNumber, 3)
  .option('--no-raw', 'skip the raw sendfile limit')
  .option('--broker-args <flags>', "extra flags for Sluice's broker, e.g. '--sender-threads 2'", (v: string) => v.split(/\s+/).filter(Boolean), [])
  .option('--quick', 'a smoke run in well under a minute: 64 MiB, 1 and 16 consumers, one short run per cell (correctness only)')
  .action(runBenchFanout);

reportOptions(bench.command('produce'))
  .description('produce throughput: TypeScript producers (one per worker thread) x record sizes x acks, into a broker process')
  .option('--record-bytes <n,...>', 'record sizes', numberList, [100, 1024, 16384])
  .option('--producers <n,...>', 'concurrent producers', numberList, [1, 8])
  .option('--acks <a,...>', "acks levels: 1, all (an idempotent producer, the default), all-no-idempotence (the same acks without producer ids and sequences)", produceAcksList, [1, 'all'])
  .option('--partitions <n>', 'partitions of each topic', positiveNumber, 1)
  .option('--linger-ms <ms>', "producers' lingerMs", nonNegativeNumber, 5)
  .option('--batch-bytes <n>', "producers' batchBytes", positiveNumber, 65536)
  .option('--send-records <n>', 'records per send() call', positiveNumber, 100)
  .addOption(new Option('--peer <broker>', `measure Apache Kafka beside Sluice instead: one Kafka-protocol producer of ready-made batches against both brokers' Kafka ports (${FANOUT_PEERS.join(', ')})`).choices([...FANOUT_PEERS]))
  .option('--peer-version <v>', "the peer's version", DEFAULT_KAFKA_VERSION)
  .option('--in-flight <n>', 'with --peer: requests in flight on the producer connection', positiveNumber, 5)
  .option('--buffer-bytes <n>', 'unacknowledged bytes a producer may hold (as buffer.memory)', positiveNumber, 32 * 1024 * 1024)
  .option('--replication-factor <n,...>', 'measure in a cluster of 3 brokers and etcd instead: each topic with this many replicas (a cell each; min.insync.replicas 2 where there are 2 or more), producers sending to its leader, broker CPU for the whole cluster', numberList)
  .option('--seconds <s>', 'producing time per cell', positiveNumber, 3)
  .option('--repeat <n>', 'runs per cell (the median is reported, with min and max)', positiveNumber, 3)
  .option('--quick', 'a smoke run: 1 KiB records, 1 and 2 producers, half a second per cell (correctness only)')
  .action(runBenchProduce);

reportOptions(bench.command('failover'))
  .description('failover time: in a cluster of 3 brokers and etcd, kill the leader of an RF 3 topic under acks=all writes; time from the kill to the first acknowledgement by the new leader, per trial')
  .option('--trials <n>', 'leader kills (the killed broker rejoins the ISR before the next)', positiveNumber, 5)
  .option('--session-timeout-ms <ms>', "the brokers' --broker-session-timeout-ms", positiveNumber, 3000)
  .option('--poll-ms <ms>', "how often the writer asks the survivors' Metadata for the leader", positiveNumber, 20)
  .option('--quick', 'a smoke run: one trial (correctness only)')
  .action(runBenchFailover);

reportOptions(bench.command('latency'))
  .description('end-to-end latency (send() to receipt) of a fixed-rate stream while N other consumers tail the same partition')
  .option('--rate <n>', 'records per second offered', positiveNumber, 10_000)
  .option('--record-bytes <n>', 'bytes per record (the first 12 carry the send time and a sequence number)', positiveNumber, 1024)
  .option('--seconds <s>', 'producing time per cell', positiveNumber, 5)
  .option('--fanout <n,...>', 'fan-out consumer counts (0 for none)', countList, [0, 16, 256])
  .option('--repeat <n>', 'runs per cell, modes alternating; the median run by p99 is reported, with every run\'s p99', positiveNumber, 1)
  .option('--consume <m,...>', `how the consumers read, a cell each (${CONSUME_MODES.join(', ')}: long-poll fetches, or push subscriptions whose window is --fanout-fetch-bytes)`, consumeModeList, [...CONSUME_MODES])
  .option('--acks <a>', 'acks (1 or all)', (v) => acksList(v)[0]!, 1)
  .option('--linger-ms <ms>', "the producer's lingerMs", nonNegativeNumber, 0)
  .option('--max-wait-ms <ms>', "the measuring consumer's maxWaitMs", nonNegativeNumber, 500)
  .option('--fanout-fetch-bytes <n>', "fan-out consumers' maxBytes per fetch", positiveNumber, 1048576)
  .option('--fanout-min-bytes <n>', "fan-out consumers' minBytes", positiveNumber, 1)
  .option('--fanout-max-wait-ms <ms>', "fan-out consumers' maxWaitMs", nonNegativeNumber, 500)
  .option('--path <p>', `the broker's fetch path (${FETCH_PATHS.join(', ')})`, (v) => fetchPathList(v)[0]!, 'sendfile')
  .option('--broker-args <flags>', "extra flags for Sluice's broker, e.g. '--sender-threads 2'", (v: string) => v.split(/\s+/).filter(Boolean), [])
  .addOption(new Option('--peer <broker>', `measure Apache Kafka beside Sluice instead: the same Kafka-protocol producer, measuring consumer and fan-out consumers against both brokers' Kafka ports (${FANOUT_PEERS.join(', ')})`).choices([...FANOUT_PEERS]))
  .option('--peer-version <v>', "the peer's version", DEFAULT_KAFKA_VERSION)
  .option('--quick', 'a smoke run: 2,000 records/s for 1 s, fan-out 0 and 16 (correctness only)')
  .action(runBenchLatency);

reportOptions(bench.command('transfer'), false)
  .description('transfer-level fan-out: N consumers read one log from the page cache through the transfer engine alone (no broker, no protocol), per fetch path, beside a raw sendfile baseline and the io_uring splice experiment (raw-uring)')
  .option('--log-mib <n>', 'size of the log, MiB', positiveNumber, 1024)
  .option('--consumers <n,...>', 'consumer counts', numberList, [1, 4, 16, 64])
  .option('--paths <p,...>', `paths (${FANOUT_PATHS.join(', ')})`, pathList, [...FANOUT_PATHS])
  .option('--seconds <s>', 'measured time per cell', positiveNumber, 3)
  .option('--repeat <n>', 'runs of the main grid, paths alternating; each cell reports its median run', positiveNumber, 1)
  .option('--slice-kib <n>', 'bytes per fetch, KiB', positiveNumber, 1024)
  .option('--no-sweep', 'skip the call size x send buffer sweep')
  .action(runBenchTransfer);

/** `bench produce` also takes all-no-idempotence: acks all from a producer with idempotence off, to measure what idempotence costs. */
function produceAcksList(value: string): BenchAcks[] {
  return value.split(',').map((v) => (v.trim() === 'all-no-idempotence' ? 'all-no-idempotence' : acksList(v)[0]!));
}

function acksList(value: string): Array<1 | 'all'> {
  return value.split(',').map((v) => {
    const a = v.trim();
    if (a === '1') return 1;
    if (a === 'all' || a === '-1') return 'all';
    throw new InvalidArgumentError(`acks must be 1 or all, got "${a}"`);
  });
}

function pathList(value: string): FanoutPath[] {
  return value.split(',').map((v) => {
    const p = v.trim();
    if (!(FANOUT_PATHS as readonly string[]).includes(p)) throw new InvalidArgumentError(`unknown path "${p}"`);
    return p as FanoutPath;
  });
}

/** Runs `sluice bench <argv...>`. */
export async function runBenchCli(argv: readonly string[]): Promise<void> {
  await bench.parseAsync([...argv], { from: 'user' });
}
