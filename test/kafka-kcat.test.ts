// kcat (librdkafka), unmodified, against a real broker process's Kafka listener: `-P` produce
// (acks all and 1), `-C -e` from the beginning to the end, `-C -o s@<ms>` by timestamp, and
// `-G group topic` as a balanced consumer whose commits Sluice's own admin then reads. kcat comes
// from the Debian package that .ci/run installs.

import t from 'tap';
import { execFile } from 'node:child_process';
import { Admin } from '../src/client/admin.js';
import { decodeRecordBatches } from '../src/protocol/record-batch.js';
import { createTopic, fetch, fetchAllBatches, startBroker } from './helpers/broker.js';

/** Runs kcat; resolves with its stdout (rejects, with its stderr, when it fails). */
function kcat(args: string[], input = ''): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = execFile('kcat', args, { timeout: 60_000 }, (err, stdout, stderr) => (err ? reject(new Error(`kcat ${args.join(' ')}: ${err.message} ${stderr}`)) : resolve(stdout)));
    child.stdin!.end(input);
  });
}

t.test('kcat -P, -C -e, -C -o s@<ms> and -G against the Kafka listener', async (t) => {
  const broker = await startBroker(t, { kafka: true });
  const b = `127.0.0.1:${broker.kafkaPort}`;
  const c = await broker.connect();
  await createTopic(c, 'lines', 1);

  await kcat(['-b', b, '-P', '-t', 'lines', '-K', ':', '-H', 'source=kcat'], 'k1:first\nk2:second\n');
  await kcat(['-b', b, '-P', '-t', 'lines', '-X', 'acks=1'], 'third\n');
  const [p] = await fetch(c, [{ topic: 'lines', partition: 0, offset: 0n, maxBytes: 1 << 20 }]);
  const records = decodeRecordBatches(p!.records).flatMap((batch) => batch.records);
  t.same(
    records.map((r) => [r.key?.toString() ?? null, r.value!.toString(), r.headers.map((h) => `${h.key}=${h.value}`).join()]),
    [['k1', 'first', 'source=kcat'], ['k2', 'second', 'source=kcat'], [null, 'third', '']],
    'kcat -P (acks all, then acks 1): what a Sluice fetch reads, keys and headers included',
  );

  const all = await kcat(['-b', b, '-C', '-t', 'lines', '-e', '-f', '%o %k %s\n']);
  t.equal(all, '0 k1 first\n1 k2 second\n2  third\n', 'kcat -C -e: from the beginning to the end, then exits (the high watermark says where the end is)');

  // By time: the batch written after `since` and nothing before it.
  await new Promise((r) => setTimeout(r, 20));
  const since = Date.now();
  await new Promise((r) => setTimeout(r, 20));
  await kcat(['-b', b, '-P', '-t', 'lines'], 'fourth\nfifth\n');
  const fromTime = await kcat(['-b', b, '-C', '-t', 'lines', '-o', `s@${since}`, '-e', '-f', '%o %s\n']);
  t.equal(fromTime, '3 fourth\n4 fifth\n', 'kcat -C -o s@<ms>: ListOffsets by timestamp');

  // A balanced consumer in a group: it joins, consumes from the earliest offset, and commits.
  const grouped = await kcat(['-b', b, '-G', 'kcat-group', 'lines', '-c', '5', '-f', '%o %s\n', '-X', 'auto.offset.reset=earliest', '-X', 'auto.commit.interval.ms=100']);
  t.equal(grouped, '0 first\n1 second\n2 third\n3 fourth\n4 fifth\n', 'kcat -G group: every record once');
  const admin = new Admin({ broker: `127.0.0.1:${broker.port}` });
  t.teardown(() => admin.close());
  const group = await admin.describeGroup('kcat-group');
  t.same(group.partitions.map((x) => [x.topic, x.partition, x.committedOffset, x.lag]), [['lines', 0, 5n, 0n]], 'its commit (on close) is what Sluice\'s admin reads');
});

t.test('kcat with enable.idempotence=true (and zstd): librdkafka gets a producer id, every line is written once, in order', async (t) => {
  const broker = await startBroker(t, { kafka: true });
  const b = `127.0.0.1:${broker.kafkaPort}`;
  const c = await broker.connect();
  await createTopic(c, 'idem', 1);
  const lines = Array.from({ length: 500 }, (_, i) => `line-${i}`);
  for (const codec of [['-z', 'zstd'], []]) {
    await kcat(['-b', b, '-P', '-t', 'idem', '-X', 'enable.idempotence=true', ...codec, '-X', 'linger.ms=5'], lines.map((l) => `${l}\n`).join(''));
  }
  const batches = await fetchAllBatches(c, 'idem');
  const values = batches.flatMap((batch) => batch.records.map((r) => r.value!.toString()));
  t.same(values, [...lines, ...lines], 'both runs, each line once, in order');
  const producers = [...new Set(batches.map((batch) => batch.producerId))];
  t.equal(producers.length, 2, 'each kcat run is its own idempotent producer');
  t.ok(producers.every((id) => id >= 0n), 'with an id from InitProducerId');
  t.same([...new Set(batches.map((batch) => batch.attributes & 7))], [4, 0], 'zstd batches (Produce v7+), then uncompressed ones, kept as sent');
  // Each producer's sequences start at 0 and run without a gap through its batches.
  for (const id of producers) {
    const own = batches.filter((batch) => batch.producerId === id);
    t.same(own.map((batch) => batch.baseSequence), own.map((_, i) => own.slice(0, i).reduce((n, x) => n + x.records.length, 0)), `producer ${id}: sequences 0, then each batch's after the last`);
  }
});
