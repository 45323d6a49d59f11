#!/usr/bin/env node
// The `sluice` command: parses arguments (commander) and hands off to one module per command.

import { Command, InvalidArgumentError } from 'commander';
import { runBroker } from './broker.js';
import { runBenchAppend } from './bench-append.js';
import { runBenchFanout } from './bench-fanout.js';
import { FANOUT_PATHS, type FanoutPath } from '../../bench/fanout.js';
import { addBrokerOptions } from './broker-settings.js';

export function positiveNumber(value: string): number {
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0) throw new InvalidArgumentError(`expected a positive number, got "${value}"`);
  return n;
}

export function numberList(value: string): number[] {
  return value.split(',').map((v) => positiveNumber(v.trim()));
}

const program = new Command('sluice').description('Sluice: a Kafka-style append-only log broker').version('0.1.0');

addBrokerOptions(
  program
    .command('broker')
    .description('run the broker: listen for clients on --host:--port, data in --data')
    .addHelpText('after', '\nPrecedence: flag, then environment variable, then --config file, then default.'),
).action((flags: Record<string, unknown>) => runBroker(flags));

const bench = program.command('bench').description('benchmarks that write JSON and print a table');
bench
  .command('append')
  .description('append throughput: batch sizes x (page cache, fsync each, group commit)')
  .option('--seconds <s>', 'time per case', positiveNumber, 2)
  .option('--sizes <bytes,...>', 'batch sizes', numberList, [1024, 16384, 1048576])
  .option('--writers <n>', 'concurrent writers for group commit', positiveNumber, 16)
  .option('--max-mib <n>', 'byte budget per case, MiB', positiveNumber, 1024)
  .option('--dir <dir>', 'where the benchmark logs live (removed after)')
  .option('--json <file>', 'write the report here', 'bench/results/append.json')
  .action(runBenchAppend);

bench
  .command('fanout')
  .description('fan-out: N consumers read one log from the page cache, per fetch path, beside a raw sendfile baseline')
  .option('--log-mib <n>', 'size of the log, MiB', positiveNumber, 1024)
  .option('--consumers <n,...>', 'consumer counts', numberList, [1, 4, 16, 64])
  .option('--paths <p,...>', `paths (${FANOUT_PATHS.join(', ')})`, pathList, [...FANOUT_PATHS])
  .option('--seconds <s>', 'measured time per cell', positiveNumber, 3)
  .option('--slice-kib <n>', 'bytes per fetch, KiB', positiveNumber, 1024)
  .option('--no-sweep', 'skip the call size x send buffer sweep')
  .option('--dir <dir>', 'where the benchmark log lives (removed after)')
  .option('--json <file>', 'write the report here', 'bench/results/fanout.json')
  .action(runBenchFanout);

function pathList(value: string): FanoutPath[] {
  return value.split(',').map((v) => {
    const p = v.trim();
    if (!(FANOUT_PATHS as readonly string[]).includes(p)) throw new InvalidArgumentError(`unknown path "${p}"`);
    return p as FanoutPath;
  });
}

await program.parseAsync();
