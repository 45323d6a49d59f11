// The TypeScript Producer and Consumer against a real broker: acks levels, partitioning, batching,
// assign/seek/pause/resume, start by time, the batch API, and both riding out a broker restart.

import t from 'tap';
import { createServer } from 'node:net';
import { Consumer, type Message } from '../src/client/consumer.js';
import { partitionForKey } from '../src/client/partitioner.js';
import { Producer } from '../src/client/producer.js';
import { Admin } from '../src/client/admin.js';
import { Connection } from '../src/client/connection.js';
import { decodeRecordBatches } from '../src/protocol/record-batch.js';
import { fetch, scrape, startBroker } from './helpers/broker.js';
import { until } from './helpers/transfer.js';
import { tmpDir } from './helpers/tmp.js';

const unhandled: unknown[] = [];
process.on('unhandledRejection', (err) => unhandled.push(err));

async function take(consumer: Consumer, n: number): Promise<Message[]> {
  const out: Message[] = [];
  for await (const m of consumer) {
    out.push(m);
    if (out.length === n) break;
  }
  return out;
}

t.test('producer: offsets at each acks level, key partitioning, explicit partitions, batching', async (t) => {
  const broker = await startBroker(t);
  const admin = new Admin({ broker: `127.0.0.1:${broker.port}` });
  t.teardown(() => admin.close());
  await admin.createTopic('p', { partitions: 5 });
  for (const acks of [1, 'all', 0] as const) {
    const producer = new Producer({ broker: `127.0.0.1:${broker.port}`, acks, lingerMs: 20 });
    const sent = await Promise.all(Array.from({ length: 200 }, (_, i) => producer.send('p', { key: `key-${i}`, value: `v${i}` })));
    await producer.close();
    const flat = sent.flat();
    t.ok(flat.every((r, i) => r.partition === partitionForKey(Buffer.from(`key-${i}`), 5)), `acks ${acks}: murmur2 partitioning`);
    if (acks === 0) t.ok(flat.every((r) => r.offset === null), 'acks 0: no offsets');
    else t.equal(new Set(flat.map((r) => `${r.partition}/${r.offset}`)).size, 200, `acks ${acks}: distinct offsets`);
  }
  const described = await admin.describeTopic('p');
  t.equal(described.partitions.reduce((n, p) => n + p.highWatermark!, 0n), 600n);
  const requests = Number(/^sluice_requests_total\{api="Produce",result="ok"\} (\d+)/m.exec(await scrape(broker))?.[1]);
  t.ok(requests < 100, `400 acknowledged records in ${requests} produce requests (lingerMs batching)`);

  // One send of many records with one request in flight: batches stay near batchBytes.
  const bulk = new Producer({ broker: `127.0.0.1:${broker.port}`, batchBytes: 64 * 1024, maxInFlightRequests: 1, acks: 1 });
  const many = await bulk.send('p', Array.from({ length: 20_000 }, (_, i) => ({ value: Buffer.alloc(1024, i % 256), partition: 4 })));
  t.teardown(() => bulk.close());
  t.same(many.map((m) => m.offset), Array.from({ length: 20_000 }, (_, i) => BigInt(i) + many[0]!.offset!), '20,000 records, consecutive offsets');
  const [big] = await bulk.send('p', { value: Buffer.alloc(100 * 1024, 7), partition: 4 });
  const raw = await Connection.connect({ host: '127.0.0.1', port: broker.port });
  const batches = [];
  for (let offset = many[0]!.offset!; offset <= big!.offset!; ) {
    const [part] = await fetch(raw, [{ topic: 'p', partition: 4, offset, maxBytes: 4 << 20 }], { maxBytes: 4 << 20 });
    const got = decodeRecordBatches(part!.records);
    batches.push(...got);
    offset = got.at(-1)!.baseOffset + BigInt(got.at(-1)!.lastOffsetDelta) + 1n;
  }
  await raw.close();
  const last = batches.pop()!;
  const sizes = batches.map((b) => b.sizeBytes);
  t.ok(sizes.every((n) => n <= 64 * 1024), `no batch over batchBytes (${batches.length} batches, largest ${Math.max(...sizes)} B)`);
  t.ok(sizes.slice(0, -1).every((n) => n > 63 * 1024), "every batch but the bulk send's last was full");
  t.same([last.records.length, last.records[0]!.value!.length], [1, 100 * 1024], 'a record over batchBytes is a batch of its own');
  t.equal(batches.reduce((n, b) => n + b.records.length, 0), 20_000);

  const producer = new Producer({ broker: `127.0.0.1:${broker.port}` });
  t.teardown(() => producer.close());
  const [explicit] = await producer.send('p', { value: 'here', partition: 3 });
  t.equal(explicit?.partition, 3);
  await t.rejects(producer.send('p', { value: 'x', partition: 9 }), { code: 'UNKNOWN_TOPIC_OR_PARTITION' });
  await t.rejects(producer.send('nope', { value: 'x' }), { code: 'UNKNOWN_TOPIC_OR_PARTITION' });
});

t.test('consumer: assign, seek, pause and resume, start by time, batches', async (t) => {
  const broker = await startBroker(t);
  const address = `127.0.0.1:${broker.port}`;
  const admin = new Admin({ broker: address });
  t.teardown(() => admin.close());
  await admin.createTopic('c', { partitions: 2 });
  const producer = new Producer({ broker: address });
  t.teardown(() => producer.close());
  const base = Date.now() - 60_000;
  for (let i = 0; i < 20; i++) await producer.send('c', { value: `m${i}`, partition: i % 2, timestampMs: base + i * 1000 });

  const consumer = new Consumer({ broker: address, fromBeginning: true, maxWaitMs: 100 });
  t.teardown(() => consumer.close());
  await consumer.assign([{ topic: 'c', partition: 0 }]);
  const first = await take(consumer, 3);
  t.same(first.map((m) => m.value!.toString()), ['m0', 'm2', 'm4']);
  consumer.seek('c', 0, 8n);
  const afterSeek = await take(consumer, 1);
  t.same(afterSeek.map((m) => [m.offset, m.value!.toString()]), [[8n, 'm16']]);
  consumer.pause([{ topic: 'c', partition: 0 }]);
  await consumer.assign([{ topic: 'c', partition: 0, offset: 0n }, { topic: 'c', partition: 1, offset: 9n }]);
  const whilePaused = await take(consumer, 1);
  t.same(whilePaused.map((m) => [m.partition, m.offset]), [[1, 9n]], 'the paused partition is skipped');
  consumer.resume([{ topic: 'c', partition: 0 }]);
  const resumed = await take(consumer, 1);
  t.same(resumed.map((m) => [m.partition, m.offset]), [[0, 0n]]);

  const byTime = new Consumer({ broker: address, fromTimestampMs: base + 15_500, maxWaitMs: 100 });
  t.teardown(() => byTime.close());
  await byTime.assign([{ topic: 'c', partition: 1 }]);
  const [late] = await take(byTime, 1);
  t.equal(late?.value?.toString(), 'm17', 'the first batch at or after the time');

  const grouped = new Consumer({ broker: address, fromBeginning: true, maxWaitMs: 100, heartbeatIntervalMs: 100 });
  t.teardown(() => grouped.close());
  grouped.subscribe(['c'], { group: 'late-bound' });
  t.equal((await take(grouped, 20)).length, 20, 'subscribe(topics, { group }) joins that group');
  t.throws(() => new Consumer({ broker: address }).subscribe(['c']), { code: 'INVALID_CONFIG' });

  const batcher = new Consumer({ broker: address, fromBeginning: true, maxWaitMs: 100 });
  t.teardown(() => batcher.close());
  await batcher.assign([{ topic: 'c', partition: 0 }, { topic: 'c', partition: 1 }]);
  let total = 0;
  for await (const batch of batcher.batches()) {
    t.ok(batch.messages.every((m) => m.partition === batch.partition), 'one partition per batch');
    total += batch.messages.length;
    if (total >= 20) break;
  }
  t.equal(total, 20);
});

t.test('producer and consumer ride out a broker restart', async (t) => {
  const port = await freePort();
  const data = tmpDir(t);
  const first = await startBroker(t, { dataDir: data, args: ['--port', String(port)] });
  const address = `127.0.0.1:${port}`;
  const admin = new Admin({ broker: address });
  await admin.createTopic('r', { partitions: 1 });
  await admin.close();
  const producer = new Producer({ broker: address, retries: 20, retryBackoffMs: 50 });
  t.teardown(() => producer.close());
  const consumer = new Consumer({ broker: address, fromBeginning: true, maxWaitMs: 100, retryBackoffMs: 50 });
  t.teardown(() => consumer.close());
  await consumer.assign([{ topic: 'r', partition: 0 }]);
  const values: string[] = [];
  const reading = (async () => {
    for await (const m of consumer) {
      values.push(m.value!.toString());
      if (values.length === 20) break;
    }
  })();
  for (let i = 0; i < 10; i++) await producer.send('r', { value: `before ${i}` });
  await until('the first ten', () => values.length === 10);
  t.equal(await first.stop(), 0);
  const sending = Promise.all(Array.from({ length: 10 }, (_, i) => producer.send('r', { value: `after ${i}` })));
  await new Promise((r) => setTimeout(r, 300));
  await startBroker(t, { dataDir: data, args: ['--port', String(port)] });
  await sending;
  await reading;
  t.same(values.slice(10).sort(), Array.from({ length: 10 }, (_, i) => `after ${i}`).sort(), 'sent while the broker was down, delivered after');
});

t.test('no promise of the client was left rejected and unhandled', async (t) => {
  await new Promise((r) => setTimeout(r, 200));
  t.same(unhandled, []);
});

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}
