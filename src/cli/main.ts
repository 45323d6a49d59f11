#!/usr/bin/env node
// The `sluice` command: parses arguments (commander) and hands off to one module per command.

import { Command, InvalidArgumentError } from 'commander';
import { runBroker } from './broker.js';
import { runBenchAppend } from './bench-append.js';

export function positiveNumber(value: string): number {
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0) throw new InvalidArgumentError(`expected a positive number, got "${value}"`);
  return n;
}

export function numberList(value: string): number[] {
  return value.split(',').map((v) => positiveNumber(v.trim()));
}

const program = new Command('sluice').description('Sluice: a Kafka-style append-only log broker').version('0.1.0');

program
  .command('broker')
  .description('open (and recover) every partition log in the data directory')
  .option('--data <dir>', 'data directory', process.env.SLUICE_DATA ?? './data')
  .option('--log-level <level>', 'pino log level', process.env.SLUICE_LOG_LEVEL ?? 'info')
  .action(runBroker);

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

await program.parseAsync();
