#!/usr/bin/env node
// The `sluice` command: parses arguments (commander) and hands off to one module per command.

import { Command, InvalidArgumentError, Option } from 'commander';
import { DEFAULT_BROKER } from '../client/broker-client.js';
import { UsageError } from './usage-error.js';
import { consumeTopic } from './consume.js';
import { groupsDelete, groupsDeleteOffsets, groupsDescribe, groupsList, groupsResetOffsets } from './groups.js';
import { produceLines } from './produce.js';
import { ENCODINGS } from './record-format.js';
import { topicsAlter, topicsAlterConfig, topicsCreate, topicsDelete, topicsDescribe, topicsList } from './topics.js';
import { TOPIC_CONFIG_NAMES } from '../log/topic-configs.js';
import { runBroker } from './broker.js';
import { runBenchAppend } from './bench-append.js';
import { runBenchTransfer } from './bench-transfer.js';
import { runBenchFanout } from './bench-fanout.js';
import { FANOUT_PEERS, FANOUT_PROTOCOLS, type FanoutProtocol } from '../../bench/broker-fanout.js';
import { DEFAULT_KAFKA_VERSION } from '../../bench/kafka-peer.js';
import { runBenchProduce } from './bench-produce.js';
import { runBenchLatency } from './bench-latency.js';
import { CONSUME_MODES, type ConsumeMode } from '../../bench/latency.js';
import { FANOUT_PATHS, type FanoutPath } from '../../bench/transfer-fanout.js';
import { FETCH_PATHS, type FetchPath } from '../transfer/engine.js';
import { addBrokerOptions } from '../app/settings.js';

export function positiveNumber(value: string): number {
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0) throw new InvalidArgumentError(`expected a positive number, got "${value}"`);
  return n;
}

export function nonNegativeNumber(value: string): number {
  const n = Number(value);
  if (!Number.isFinite(n) || n < 0) throw new InvalidArgumentError(`expected a number >= 0, got "${value}"`);
  return n;
}

export function numberList(value: string): number[] {
  return value.split(',').map((v) => positiveNumber(v.trim()));
}

/** A parser for a comma-separated list of `choices`. */
function choiceList<T extends string>(choices: readonly T[], what: string): (value: string) => T[] {
  return (value) =>
    value.split(',').map((v) => {
      const p = v.trim();
      if (!(choices as readonly string[]).includes(p)) throw new InvalidArgumentError(`unknown ${what} "${p}" (expected ${choices.join(', ')})`);
      return p as T;
    });
}

const protocolList = choiceList<FanoutProtocol>(FANOUT_PROTOCOLS, 'protocol');
const fetchPathList = choiceList<FetchPath>(FETCH_PATHS, 'fetch path');
const consumeModeList = choiceList<ConsumeMode>(CONSUME_MODES, 'consume mode');

function partitionList(value: string): number[] {
  return value.split(',').map((v) => {
    const n = Number(v.trim());
    if (!Number.isSafeInteger(n) || n < 0) throw new InvalidArgumentError(`expected partition numbers, got "${value}"`);
    return n;
  });
}

function countList(value: string): number[] {
  return value.split(',').map((v) => {
    const n = nonNegativeNumber(v.trim());
    if (!Number.isInteger(n)) throw new InvalidArgumentError(`expected a whole number, got "${v}"`);
    return n;
  });
}

const program = new Command('sluice').description('Sluice: a Kafka-style append-only log broker').version('0.1.0');
// Usage errors exit 2 (set before the subcommands are added: they inherit it); help exits 0.
program.exitOverride((err) => process.exit(err.exitCode === 0 ? 0 : 2));

addBrokerOptions(
  program
    .command('broker')
    .description('run the broker: listen for clients on --host:--port, data in --data')
    .addHelpText('after', '\nPrecedence: flag, then environment variable, then --config file, then default.'),
).action((flags: Record<string, unknown>) => runBroker(flags));

const brokerOption = () => new Option('--broker <host:port>', 'broker address').env('SLUICE_BROKER').default(DEFAULT_BROKER);
const tokenOption = () => new Option('--token <token>', 'authenticate with this token (brokers run with --auth-file)').env('SLUICE_TOKEN');
const integer = (min: number) => (value: string) => {
  const n = Number(value);
  if (!Number.isSafeInteger(n) || n < min) throw new InvalidArgumentError(`expected an integer >= ${min}, got "${value}"`);
  return n;
};

const topics = program.command('topics').description('create, list, describe and delete topics');
topics
  .command('create <name>')
  .description('create a topic')
  .option('--partitions <n>', 'partitions (default: the broker\'s --default-partitions)', integer(1))
  .option('--retention-ms <ms>', 'delete segments older than this (-1: never)', integer(-1))
  .option('--retention-bytes <n>', 'keep at most this many bytes per partition (-1: no limit)', integer(-1))
  .option('--segment-bytes <n>', 'segment size', integer(1024))
  .action(cli(topicsCreate));
topics.command('list').description('list topics with partition and record counts').addOption(outputOption()).action(cli(topicsList));
topics.command('describe <name>').description('settings of a topic and its partitions with their offsets').addOption(outputOption()).action(cli(topicsDescribe));
topics.command('delete <name>').description('delete a topic and its data').action(cli(topicsDelete));
topics.command('alter <name>').description('add partitions to a topic (Kafka\'s CreatePartitions; never fewer)').option('--partitions <n>', 'the new partition count', integer(1)).action(cli(topicsAlter));
topics
  .command('alter-config <name>')
  .description(`change a topic's settings while it runs (${Object.keys(TOPIC_CONFIG_NAMES).join(', ')})`)
  .option('--set <key=value>', 'set a setting (repeatable)', (v: string, list: string[] = []) => [...list, v])
  .option('--delete <key>', "return a setting to the broker's default (repeatable)", (v: string, list: string[] = []) => [...list, v])
  .option('--dry-run', 'check the change without making it')
  .action(cli(topicsAlterConfig));

program
  .command('produce <topic>')
  .description('produce one record per line (or --delimiter) of stdin, byte for byte; exits 0 once every record is acknowledged')
  .option('--key <key>', 'the key of every record')
  .option('--key-separator <sep>', 'split each record at the first SEP into key and value (\\t, \\n, \\0 allowed)')
  .option('--delimiter <d>', 'what ends a record on stdin (\\n, \\t, \\0 allowed)', '\\n')
  .option('-H, --header <key=value>', 'a header on every record (repeatable)', (v: string, list: string[] = []) => [...list, v])
  .option('--empty-as-null', 'an empty value is sent as null (a tombstone)')
  .addOption(new Option('--encoding <e>', 'how keys and values are spelled on stdin').choices([...ENCODINGS]).default('text'))
  .option('--partition <p>', 'send every record to this partition', integer(0))
  .addOption(new Option('--acks <acks>', 'acknowledgement level').choices(['0', '1', 'all', '-1']).default('all'))
  .action(cli(produceLines));

program
  .command('consume <topic>')
  .description('print records byte for byte: one value (or JSON object, or --format template) per record')
  .option('--group <group>', 'consume as a member of this consumer group (committed offsets, shared partitions)')
  .option('--from-beginning', 'start at the beginning when there is no committed offset (default: only new records)')
  .option('--partition <p>', 'read only this partition', integer(0))
  .option('-o, --offset <spec>', 'where to start: beginning, end, N, -N (N before the end), @TIMESTAMP_MS, or committed (the default with --group)')
  .option('--from-timestamp <ms>', 'start at the first batch at or after this time (ms since the epoch)', integer(0))
  .option('-e, --exit-at-end', 'exit once every partition read is at the end it had when the run began (kcat -e)')
  .option('--max-messages <n>', 'exit after this many records', integer(1))
  .option('--timeout-ms <ms>', 'exit after this long without a record', integer(1))
  .option('-f, --format <format>', 'value (the value per line), json (topic, partition, offset, timestamp, key, value, headers), or a template: %t topic, %p partition, %o offset, %T timestamp, %k key, %s value, %h headers, %K/%S key/value length, \\n \\t', 'value')
  .addOption(new Option('--encoding <e>', 'how keys and values are spelled in json output').choices([...ENCODINGS]).default('text'))
  .action(cli(consumeTopic));

const groups = program.command('groups').description('list and describe consumer groups');
groups.command('list').description('list consumer groups and their states').addOption(outputOption()).action(cli(groupsList));
groups.command('describe <group>').description('members, assignments, committed offsets, high watermarks and lag per partition').addOption(outputOption()).action(cli(groupsDescribe));
groups.command('delete <group>').description('delete a group without members: its committed offsets and generation').action(cli(groupsDelete));
groups
  .command('delete-offsets <group>')
  .description("delete a group's committed offsets of a topic (the group must have no members)")
  .requiredOption('--topic <topic>', 'the topic')
  .option('--partition <p,...>', 'only these partitions', partitionList)
  .action(cli(groupsDeleteOffsets));
groups
  .command('reset-offsets <group>')
  .description("move a group's committed offsets (the group must have no members); values are clamped to each partition's log")
  .requiredOption('--topic <topic>', 'the topic')
  .option('--partition <p,...>', 'only these partitions', partitionList)
  .option('--to-earliest', 'to the log start')
  .option('--to-latest', 'to the high watermark')
  .option('--to-datetime <iso>', 'to the first batch at or after this time (ISO 8601)')
  .option('--to-offset <n>', 'to this offset')
  .option('--shift-by <n>', 'by N from the committed offset (negative: back)')
  .option('--dry-run', 'show the plan, commit nothing')
  .addOption(outputOption())
  .action(cli(groupsResetOffsets));

/** `--output table|json` for the list and describe commands (JSON for scripts: 64-bit integers as strings). */
function outputOption(): Option {
  return new Option('--output <format>', 'table (for people) or json (for scripts; 64-bit integers as strings)').choices(['table', 'json']).default('table');
}

// Every client command takes where the broker is and how to authenticate.
const clientCommands = [...topics.commands, ...program.commands.filter((c) => ['produce', 'consume'].includes(c.name())), ...groups.commands];
for (const c of clientCommands) c.addOption(brokerOption()).addOption(tokenOption());

const bench = program.command('bench').description('benchmarks that write JSON and print a table');

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
  .option('--acks <a,...>', 'acks levels (1, all)', acksList, [1, 'all'])
  .option('--partitions <n>', 'partitions of each topic', positiveNumber, 1)
  .option('--linger-ms <ms>', "producers' lingerMs", nonNegativeNumber, 5)
  .option('--batch-bytes <n>', "producers' batchBytes", positiveNumber, 65536)
  .option('--send-records <n>', 'records per send() call', positiveNumber, 100)
  .addOption(new Option('--peer <broker>', `measure Apache Kafka beside Sluice instead: one Kafka-protocol producer of ready-made batches against both brokers' Kafka ports (${FANOUT_PEERS.join(', ')})`).choices([...FANOUT_PEERS]))
  .option('--peer-version <v>', "the peer's version", DEFAULT_KAFKA_VERSION)
  .option('--in-flight <n>', 'with --peer: requests in flight on the producer connection', positiveNumber, 5)
  .option('--buffer-bytes <n>', 'unacknowledged bytes a producer may hold (as buffer.memory)', positiveNumber, 32 * 1024 * 1024)
  .option('--seconds <s>', 'producing time per cell', positiveNumber, 3)
  .option('--repeat <n>', 'runs per cell (the median is reported, with min and max)', positiveNumber, 3)
  .option('--quick', 'a smoke run: 1 KiB records, 1 and 2 producers, half a second per cell (correctness only)')
  .action(runBenchProduce);

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

/**
 * Runs a client command; a failure prints `sluice: CODE: message` and exits 1. (Usage errors exit
 * 2, from commander; success exits 0.)
 */
function cli<A extends unknown[]>(fn: (...args: A) => Promise<void>): (...args: A) => Promise<void> {
  return async (...args: A) => {
    try {
      await fn(...args);
    } catch (err) {
      if (err instanceof UsageError) {
        process.stderr.write(`sluice: usage: ${err.message}\n`);
        process.exitCode = 2;
        return;
      }
      const e = err as Error & { code?: string };
      process.stderr.write(`sluice: ${e.code && e.name === 'SluiceError' ? `${e.code}: ` : ''}${e.message}\n`);
      process.exitCode = 1;
    }
  };
}

// A reader that stops reading (`sluice consume ... | head`) is done with us: end quietly, as cat does.
process.stdout.on('error', (err: NodeJS.ErrnoException) => {
  if (err.code === 'EPIPE') process.exit(0);
  throw err;
});

await program.parseAsync();
