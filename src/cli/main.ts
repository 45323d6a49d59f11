#!/usr/bin/env -S node --initial-heap-size=64
// The `sluice` command: parses arguments (commander) and hands off to one module per command.

import { Command, InvalidArgumentError, Option } from 'commander';
import { partitionList } from './parsers.js';
import { DEFAULT_BROKER } from '../client/broker-client.js';
import { UsageError } from './usage-error.js';
import { consumeTopic } from './consume.js';
import { groupsDelete, groupsDeleteOffsets, groupsDescribe, groupsList, groupsResetOffsets } from './groups.js';
import { produceLines } from './produce.js';
import { ENCODINGS } from './record-format.js';
import { topicsAlter, topicsAlterConfig, topicsCreate, topicsDelete, topicsDeleteRecords, topicsDescribe, topicsDescribeProducers, topicsList } from './topics.js';
import { TOPIC_CONFIG_NAMES } from '../log/topic-configs.js';
import { runBroker } from './broker.js';
import { clusterDescribe } from './cluster.js';
import { devCluster } from './dev-cluster.js';
import { addBrokerOptions } from '../app/settings.js';

const program = new Command('sluice').description('Sluice: a Kafka-style append-only log broker').version('0.1.0');
// Usage errors exit 2 (set before the subcommands are added: they inherit it); help exits 0.
program.exitOverride((err) => process.exit(err.exitCode === 0 ? 0 : 2));

addBrokerOptions(
  program
    .command('broker')
    .description('run the broker: listen for clients on --host:--port, data in --data')
    .addHelpText('after', '\nPrecedence: flag, then environment variable, then --config file, then default.'),
).action((flags: Record<string, unknown>) => runBroker(flags));

const brokerOption = () => new Option('--broker <host:port>', 'broker address, or several, comma-separated (a bootstrap list)').env('SLUICE_BROKER').default(DEFAULT_BROKER);
const tokenOption = () => new Option('--token <token>', 'authenticate with this token (brokers run with --auth-file)').env('SLUICE_TOKEN');
const integer = (min: number) => (value: string) => {
  const n = Number(value);
  if (!Number.isSafeInteger(n) || n < min) throw new InvalidArgumentError(`expected an integer >= ${min}, got "${value}"`);
  return n;
};

const offsetArg = (value: string) => {
  if (!/^-?\d+$/.test(value) || BigInt(value) < -1n) throw new InvalidArgumentError(`expected an offset >= -1, got "${value}"`);
  return BigInt(value);
};

const topics = program.command('topics').description('create, list, describe and delete topics');
topics
  .command('create <name>')
  .description('create a topic')
  .option('--partitions <n>', 'partitions (default: the broker\'s --default-partitions)', integer(1))
  .option('--retention-ms <ms>', 'delete segments older than this (-1: never)', integer(-1))
  .option('--retention-bytes <n>', 'keep at most this many bytes per partition (-1: no limit)', integer(-1))
  .option('--segment-bytes <n>', 'segment size', integer(1024))
  .option('--replication-factor <n>', 'replicas of each partition, in a cluster (default: the brokers\' --default-replication-factor, at most the live brokers)', integer(1))
  .option('--min-insync-replicas <n>', 'in-sync replicas an acks=all produce needs, in a cluster (default: the brokers\' --min-insync-replicas)', integer(1))
  .action(cli(topicsCreate));
topics.command('list').description('list topics with partition and record counts').addOption(outputOption()).action(cli(topicsList));
topics.command('describe <name>').description('settings of a topic and its partitions with their offsets').addOption(outputOption()).action(cli(topicsDescribe));
topics.command('delete <name>').description('delete a topic and its data').addOption(outputOption()).action(cli(topicsDelete));
topics.command('alter <name>').description('add partitions to a topic (Kafka\'s CreatePartitions; never fewer)').option('--partitions <n>', 'the new partition count', integer(1)).action(cli(topicsAlter));
topics
  .command('alter-config <name>')
  .description(`change a topic's settings while it runs (${Object.keys(TOPIC_CONFIG_NAMES).join(', ')})`)
  .option('--set <key=value>', 'set a setting (repeatable)', (v: string, list: string[] = []) => [...list, v])
  .option('--delete <key>', "return a setting to the broker's default (repeatable)", (v: string, list: string[] = []) => [...list, v])
  .option('--dry-run', 'check the change without making it')
  .action(cli(topicsAlterConfig));
topics
  .command('delete-records <name>')
  .description("delete a partition's records below an offset (its log start moves there; Kafka's DeleteRecords)")
  .requiredOption('--partition <n>', 'the partition', integer(0))
  .requiredOption('--offset <offset>', 'the new log start (-1: the high watermark, deleting everything)', offsetArg)
  .action(cli(topicsDeleteRecords));
topics
  .command('describe-producers <name>')
  .description("the idempotent producers each partition knows: id, epoch, last sequence, last write (Kafka's DescribeProducers)")
  .option('--partition <n>', 'only this partition', integer(0))
  .addOption(outputOption())
  .action(cli(topicsDescribeProducers));

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
  .option('--timeout-ms <ms>', 'exit after this long without a record (with --group: while it has partitions, not while it joins)', integer(1))
  .option('-f, --format <format>', 'value (the value per line), json (topic, partition, offset, timestamp, key, value, headers), or a template: %t topic, %p partition, %o offset, %T timestamp, %k key, %s value, %h headers, %K/%S key/value length, \\n \\t', 'value')
  .addOption(new Option('--encoding <e>', 'how keys and values are spelled in json output').choices([...ENCODINGS]).default('text'))
  .action(cli(consumeTopic));

const groups = program.command('groups').description('list and describe consumer groups');
groups.command('list').description('list consumer groups and their states').addOption(outputOption()).action(cli(groupsList));
groups.command('describe <group>').description('members, assignments, committed offsets, high watermarks and lag per partition').addOption(outputOption()).action(cli(groupsDescribe));
groups.command('delete <group>').description('delete a group without members: its committed offsets and generation').action(cli(groupsDelete));
groups
  .command('delete-offsets <group>')
  .description("delete a group's committed offsets of a topic (while the group has members, only of topics they do not subscribe to)")
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

const clusterCommand = program.command('cluster').description('a cluster of brokers coordinated through etcd');
clusterCommand
  .command('describe')
  .description('brokers (alive, controller) and per partition: leader, leader epoch, replicas, in-sync replicas, high watermark, log end per replica')
  .addOption(outputOption())
  .action(cli(clusterDescribe));

program
  .command('dev')
  .description('tools for development')
  .command('cluster')
  .description('a local cluster: etcd and N brokers on free loopback ports (Ctrl-C stops it)')
  .option('--brokers <n>', 'how many brokers', integer(1), 3)
  .option('--data <dir>', 'where etcd and the brokers keep their data', './data-cluster')
  .option('--cluster-name <name>', 'the cluster\'s name in etcd', 'sluice')
  .option('--broker-args <flags>', 'extra `sluice broker` flags for every broker (space-separated)')
  .action(cli(devCluster));

/** `--output table|json` for the list, describe and delete commands (JSON for scripts: 64-bit integers as strings). */
function outputOption(): Option {
  return new Option('--output <format>', 'table (for people) or json (for scripts; 64-bit integers as strings)').choices(['table', 'json']).default('table');
}

// Every client command takes where the broker is and how to authenticate.
const clientCommands = [...topics.commands, ...program.commands.filter((c) => ['produce', 'consume'].includes(c.name())), ...groups.commands, ...clusterCommand.commands];
for (const c of clientCommands) c.addOption(brokerOption()).addOption(tokenOption());

// Benchmarks are not part of the product: `sluice bench ...` loads them from the bench package
// (bench/ in a clone, compiled beside dist/src) only when asked, by a path known at run time.
program
  .command('bench')
  .description('benchmarks that write JSON and print a table (from a clone: `sluice bench --help`)')
  .helpOption(false)
  .allowUnknownOption()
  .allowExcessArguments()
  .argument('[args...]')
  .action(async () => {
    const entry = new URL('../../bench/cli/commands.js', import.meta.url);
    let commands: { runBenchCli(argv: readonly string[]): Promise<void> };
    try {
      commands = (await import(entry.href)) as typeof commands;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ERR_MODULE_NOT_FOUND') throw err;
      process.stderr.write('sluice: usage: the benchmarks are not built here: in a clone of the repository, npm run build:tools (npm test and npm run bench do it)\n');
      process.exit(2);
    }
    await commands.runBenchCli(process.argv.slice(process.argv.indexOf('bench') + 1));
  });

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
