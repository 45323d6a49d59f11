// Short runs of the load scenarios (bench/load.ts; `npm run load` runs them at full size):
// hundreds of connections, most silent, with long-polling consumers and producers, end with no
// error, no connection dropped and the broker's file descriptors back where they started; readers
// beside a consumer that never reads all reach the end.

import t from 'tap';
import { runConnectionsLoad, runStalledLoad } from './harness/load.js';
import { tmpDir } from './helpers/tmp.js';

t.test('300 connections (60 long polls, 5 producers, the rest silent): no errors, no fd left behind', async (t) => {
  const r = await runConnectionsLoad({ dir: tmpDir(t), connections: 300, consumers: 60, producers: 5, seconds: 4, recordsPerSec: 500 });
  t.equal(r.connections, 300);
  t.equal(r.droppedConnections, 0, 'no silent connection was closed (the idle limit is 10 minutes)');
  t.equal(r.producerErrors, 0, 'every send was acknowledged');
  t.ok(r.recordsAcked > 500, `${r.recordsAcked} records acknowledged, p99 ${r.produceP99Ms.toFixed(1)} ms`);
  t.same(r.consumerErrors, [], 'no consumer failed');
  t.ok(r.consumedBytes > 0, 'the long polls delivered what was produced');
  t.ok(r.fds.during >= r.fds.before + 300, `the broker held the connections (${r.fds.during} fds at the peak)`);
  t.equal(r.fds.after, r.fds.before, `and released every descriptor after they went (${r.fds.before} before, ${r.fds.after} after)`);
});

t.test('readers beside a consumer that never reads all reach the end', async (t) => {
  const r = await runStalledLoad({ dir: tmpDir(t), readers: 7, topicMiB: 16, rounds: 1 });
  t.equal(r.withGibPerSec.length, 1, 'the readers finished beside the stalled consumer');
  t.ok(r.withGibPerSec[0]! > 0 && r.withoutGibPerSec[0]! > 0, `readers moved data with and without it (ratio ${r.ratio.toFixed(2)})`);
});
