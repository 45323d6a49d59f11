// The seeded slice of the fuzzers in CI (`npm run fuzz` runs a million of each): mutated and
// random requests, each on its own connection, must each get every response the broker owes or a
// closed connection; the broker stays up with bounded memory; the topic holds only whole,
// CRC-valid batches with consistent indexes. (The Rust validator fuzz runs in `cargo test`.)

import t from 'tap';
import { corpus, expectationFor, fuzzBroker } from './harness/wire-fuzz.js';
import { tmpDir } from './helpers/tmp.js';

t.test('the oracle knows what the broker owes', async (t) => {
  const [apiVersions, metadata] = corpus();
  t.same(expectationFor(Buffer.concat([apiVersions!, metadata!]), 1 << 20), { responses: 2, closes: 'no', mayPark: false }, 'two pipelined requests: two responses');
  t.same(expectationFor(apiVersions!.subarray(0, 10), 1 << 20), { responses: 0, closes: 'no', mayPark: false }, 'a partial frame: nothing yet');
  t.equal(expectationFor(Buffer.from([0, 0, 0, 1, 0, 0, 0, 9]), 1 << 20).closes, 'yes', 'sizes that do not add up: a close');
});

t.test('5,000 fuzzed requests: every one answered or its connection closed, the broker intact', async (t) => {
  const report = await fuzzBroker(tmpDir(t), { inputs: 5000, seed: 20261121 });
  t.same(report.failures, [], 'every input got what it was owed');
  t.equal(report.inputs, 5000);
  t.ok(report.closed > 500 && report.answered > 500, `both outcomes are exercised (${report.answered} answered, ${report.closed} closed, ${report.parked} parked)`);
  t.ok(report.errorResponses > 100, `${report.errorResponses} error responses`);
  t.ok(report.peakRssMiB < 400, `broker RSS peaked at ${report.peakRssMiB.toFixed(0)} MiB (from ${report.startRssMiB.toFixed(0)})`);
  t.same(report.indexProblems, [], `the topic's ${report.batchesWritten} batches are whole, CRC-valid and indexed consistently`);
});
