// One producer's records reach a partition in send() order, also when send() calls arrive while
// the topic's partition count is still being looked up. The race is made deterministic with a real
// TCP proxy between the producer and a real broker that holds the broker's answers back: the first
// is released, the test waits until the producer's first Produce request passes the proxy (the
// count is cached by then), calls send() again, and only then releases the rest. The same after a
// retriable error (a lost response or request), which clears the cached count: calls made while it
// is looked up again, and one made once it is known, reach the partition in send() order, each once.

import t from 'tap';
import { Producer } from '../src/client/producer.js';
import { ApiKey } from '../src/protocol/messages.js';
import { createTopic, fetch, startBroker } from './helpers/broker.js';
import { decodeRecordBatches } from '../src/protocol/record-batch.js';
import { sluiceProxy } from './helpers/proxy.js';

t.test('send() calls made while the partition count is looked up keep their order against later calls', async (t) => {
  const broker = await startBroker(t);
  const c = await broker.connect();
  await createTopic(c, 'ordered', 1);
  const proxy = await sluiceProxy(t, broker.port, { onResponse: () => 'hold' });
  const producer = new Producer({ broker: `127.0.0.1:${proxy.port}`, acks: 1, lingerMs: 0 });
  t.teardown(() => producer.close());
  const records = (name: string) => Array.from({ length: 20 }, (_, i) => ({ value: `${name}-${i}` }));
  const sent: Array<Promise<unknown>> = [];
  sent.push(producer.send('ordered', records('A')));
  sent.push(producer.send('ordered', records('B')));
  await proxy.requests(ApiKey.Metadata);
  // The first Metadata answer goes back; the producer sends A (at least) once it has the count.
  await proxy.releaseOne();
  await proxy.requests(ApiKey.Produce);
  // Now the count is cached: a call made now must still queue behind B.
  sent.push(producer.send('ordered', records('C')));
  proxy.releaseAll();
  await Promise.all(sent);
  const [p] = await fetch(c, [{ topic: 'ordered', partition: 0, offset: 0n, maxBytes: 1 << 20 }]);
  const values = decodeRecordBatches(p!.records).flatMap((b) => b.records.map((r) => r.value!.toString()));
  t.same(values, [...records('A'), ...records('B'), ...records('C')].map((r) => r.value), 'A, B, C in send() order');
});

t.test('flush() waits for calls still waiting for their partition count', async (t) => {
  const broker = await startBroker(t);
  const c = await broker.connect();
  await createTopic(c, 'flushed', 1);
  const producer = new Producer({ broker: `127.0.0.1:${broker.port}`, acks: 1, lingerMs: 60_000 });
  t.teardown(() => producer.close());
  const pending = producer.send('flushed', { value: 'x' });
  await producer.flush();
  const [p] = await fetch(c, [{ topic: 'flushed', partition: 0, offset: 0n }]);
  t.equal(p!.highWatermark, 1n, 'the record was written when flush() returned');
  t.equal((await pending)[0]!.offset, 0n);
});

for (const lost of ['response', 'request'] as const) {
  t.test(`after a retriable error (a lost ${lost}), send() calls made while the count is looked up again keep send() order`, async (t) => {
    const broker = await startBroker(t);
    const c = await broker.connect();
    await createTopic(c, 'again', 1);
    // The first Produce is lost (its response: the broker wrote it; or its request: it did not);
    // the second Metadata request (the count asked for again after that error) is held.
    const proxy = await sluiceProxy(t, broker.port, {
      onRequest: (apiKey, n) => (lost === 'request' && apiKey === ApiKey.Produce && n === 1 ? 'cut' : 'pass'),
      onResponse: (apiKey, n) => (lost === 'response' && apiKey === ApiKey.Produce && n === 1 ? 'cut' : apiKey === ApiKey.Metadata && n >= 2 ? 'hold' : 'pass'),
    });
    // Idempotent (acks all, the default): a retry of a batch the broker has is answered as a duplicate.
    const producer = new Producer({ broker: `127.0.0.1:${proxy.port}`, lingerMs: 0, retryBackoffMs: 1 });
    t.teardown(() => producer.close());
    const records = (name: string) => Array.from({ length: 20 }, (_, i) => ({ value: `${name}-${i}` }));
    const sent: Array<Promise<Array<{ offset: bigint | null }>>> = [];
    sent.push(producer.send('again', records('A')));
    // The retriable error cleared the cached count: the retry asks for it again, and that answer is held.
    await proxy.requests(ApiKey.Metadata, 2);
    const producesBefore = proxy.requestCount(ApiKey.Produce);
    sent.push(producer.send('again', records('B')));
    sent.push(producer.send('again', records('C')));
    proxy.releaseAll();
    // The next Produce (A's retry, or B and C) has gone out: the count is cached again. D comes last.
    await proxy.requests(ApiKey.Produce, producesBefore + 1);
    sent.push(producer.send('again', records('D')));
    const results = await Promise.all(sent);
    const [p] = await fetch(c, [{ topic: 'again', partition: 0, offset: 0n, maxBytes: 1 << 20 }]);
    const values = decodeRecordBatches(p!.records).flatMap((b) => b.records.map((r) => r.value!.toString()));
    t.same(values, [...records('A'), ...records('B'), ...records('C'), ...records('D')].map((r) => r.value), 'A, B, C, D in send() order, each once');
    t.same(results.flat().map((r) => r.offset), Array.from({ length: 80 }, (_, i) => BigInt(i)), 'each record acknowledged with its offset');
  });
}
