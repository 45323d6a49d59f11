// `npm run fuzz -- --inputs N`: the wire fuzzer (test/harness/wire-fuzz.ts) against a fresh broker, with
// a progress line per 10,000 inputs and a JSON report; exits 1 on any failure. (`npm run fuzz`
// first runs the Rust validator fuzz with SLUICE_FUZZ_INPUTS=1000000.)

import { tmpdir } from 'node:os';
import { Command } from 'commander';
import { fuzzBroker } from './wire-fuzz.js';
import { integerOption } from './util.js';

const o = new Command('fuzz')
  .description('send mutated and random requests to a fresh broker, one connection each, and check every answer it owes')
  .option('--inputs <n>', 'inputs to send', integerOption(0), 1_000_000)
  .option('--seed <n>', 'seed of the mutations', integerOption(0))
  .option('--concurrency <n>', 'connections at a time', integerOption(0), 16)
  .option('--dir <dir>', 'where the broker data dir goes', tmpdir())
  .parse()
  .opts<{ inputs: number; seed?: number; concurrency: number; dir: string }>();

const seed = o.seed ?? Math.floor(Math.random() * 2 ** 31);
const report = await fuzzBroker(o.dir, {
  inputs: o.inputs,
  seed,
  concurrency: o.concurrency,
  onProgress: (done) => {
    if (done % 10_000 === 0) console.log(`${done} inputs`);
  },
});
console.log(JSON.stringify(report, null, 2));
if (report.failures.length > 0 || report.indexProblems.length > 0) process.exitCode = 1;
