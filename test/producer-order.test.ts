// One producer's records reach a partition in send() order, also when send() calls arrive while
// the topic's partition count is still being looked up. The race is made deterministic with a real
// TCP proxy between the producer and a real broker that holds the broker's answers back: the first
// is released, the test waits until the producer's first Produce request passes the proxy (the
// count is cached by then), calls send() again, and only then releases the rest. The same after a
// retriable error (a lost response or request), which clears the cached count: calls made while it
// is looked up again, and one made once it is known, reach the partition in send() order, each once.

import t from 'tap';
import { once } from 'node:events';
import { createServer, connect, type Socket } from 'node:net';
import { Producer } from '../src/client/producer.js';
import { decodeRequestMeta, decodeResponseMeta } from '../src/protocol/codec.js';
import { FrameDecoder } from '../src/protocol/frame.js';
import { ApiKey } from '../src/protocol/messages.js';
import { createTopic, fetch, startBroker } from './helpers/broker.js';
import { decodeRecordBatches } from '../src/protocol/record-batch.js';
import { frameCutter } from './helpers/proxy.js';

/** A proxy to `port` that forwards requests at once, notes their API keys, and holds responses until released. */
async function holdingProxy(t: Parameters<typeof startBroker>[0], port: number) {
  const seen: number[] = [];
  let seenWake: (() => void) | undefined;
  const held: Buffer[] = [];
  let passThrough = false;
  let client: Socket | undefined;
  const server = createServer((c) => {
    client = c;
    const upstream = connect(port, '127.0.0.1');
    const requests = new FrameDecoder(1 << 30);
    c.on('data', (chunk: Buffer) => {
      upstream.write(chunk);
      for (const e of requests.push(chunk)) if (e.kind === 'frame') seen.push(decodeRequestMeta(e.meta).header.apiKey);
      seenWake?.();
    });
    // Responses are cut into whole frames so they can be released one at a time.
    upstream.on(
      'data',
      frameCutter((frame) => {
        if (passThrough) c.write(frame);
        else held.push(frame);
      }),
    );
    c.on('close', () => upstream.destroy());
    upstream.on('close', () => c.destroy());
    c.on('error', () => undefined);
    upstream.on('error', () => undefined);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  t.teardown(() => {
    client?.destroy();
    server.close();
  });
  return {
    port: (server.address() as { port: number }).port,
    /** Resolves once a request with `apiKey` has passed, `count` of them in all. */
    async requests(apiKey: number, count = 1): Promise<void> {
      while (seen.filter((k) => k === apiKey).length < count) await new Promise<void>((resolve) => (seenWake = resolve));
    },
    /** Releases the oldest held response; resolves once there was one to release. */
    async releaseOne(): Promise<void> {
      while (held.length === 0) await new Promise((resolve) => setTimeout(resolve, 1));
      client!.write(held.shift()!);
    },
    releaseAll(): void {
      passThrough = true;
      for (const f of held.splice(0)) client!.write(f);
    },
  };
}

t.test('send() calls made while the partition count is looked up keep their order against later calls', async (t) => {
  const broker = await startBroker(t);
  const c = await broker.connect();
  await createTopic(c, 'ordered', 1);
  const proxy = await holdingProxy(t, broker.port);
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

type Verdict = 'pass' | 'hold' | 'cut';

/**
 * A proxy to `port` that cuts both directions into frames and asks, per frame, what to do with it:
 * `onRequest(apiKey, n)` ('pass', or 'cut': the request is dropped and both connections close, so
 * the broker never sees it) and `onResponse(apiKey, n)` of the request it answers ('pass', 'hold'
 * until release(), or 'cut': dropped after the broker acted on the request, both connections
 * closed); n counts that API's frames over the proxy's life, from 1.
 */
async function faultProxy(
  t: Parameters<typeof startBroker>[0],
  port: number,
  onRequest: (apiKey: number, n: number) => 'pass' | 'cut',
  onResponse: (apiKey: number, n: number) => Verdict,
) {
  const requests = new Map<number, number>();
  const responses = new Map<number, number>();
  const held: Array<{ client: Socket; frame: Buffer }> = [];
  let wake: (() => void) | undefined;
  let passThrough = false;
  const sockets = new Set<Socket>();
  const server = createServer((client) => {
    const upstream = connect(port, '127.0.0.1');
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
      s.on('error', () => undefined);
    }
    const apiKeys = new Map<number, number>();
    const cut = () => {
      client.destroy();
      upstream.destroy();
    };
    client.on(
      'data',
      frameCutter((frame) => {
        const { apiKey, correlationId } = decodeRequestMeta(frame.subarray(8, 8 + frame.readUInt32BE(4))).header;
        const n = (requests.get(apiKey) ?? 0) + 1;
        requests.set(apiKey, n);
        wake?.();
        if (onRequest(apiKey, n) === 'cut') return cut();
        apiKeys.set(correlationId, apiKey);
        upstream.write(frame);
      }),
    );
    upstream.on(
      'data',
      frameCutter((frame) => {
        const { correlationId } = decodeResponseMeta(frame.subarray(8, 8 + frame.readUInt32BE(4)));
        const apiKey = apiKeys.get(correlationId)!;
        const n = (responses.get(apiKey) ?? 0) + 1;
        responses.set(apiKey, n);
        const verdict = passThrough ? 'pass' : onResponse(apiKey, n);
        if (verdict === 'cut') return cut();
        if (verdict === 'hold') held.push({ client, frame });
        else client.write(frame);
      }),
    );
    client.on('close', () => upstream.destroy());
    upstream.on('close', () => client.destroy());
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  t.teardown(() => {
    for (const s of sockets) s.destroy();
    server.close();
  });
  return {
    port: (server.address() as { port: number }).port,
    /** Resolves once `count` requests with `apiKey` have reached the proxy. */
    async requests(apiKey: number, count: number): Promise<void> {
      while ((requests.get(apiKey) ?? 0) < count) await new Promise<void>((resolve) => (wake = resolve));
    },
    requestCount: (apiKey: number) => requests.get(apiKey) ?? 0,
    /** Sends what was held and lets everything through from now on. */
    releaseAll(): void {
      passThrough = true;
      for (const h of held.splice(0)) h.client.write(h.frame);
    },
  };
}

for (const lost of ['response', 'request'] as const) {
  t.test(`after a retriable error (a lost ${lost}), send() calls made while the count is looked up again keep send() order`, async (t) => {
    const broker = await startBroker(t);
    const c = await broker.connect();
    await createTopic(c, 'again', 1);
    // The first Produce is lost (its response: the broker wrote it; or its request: it did not);
    // the second Metadata request (the count asked for again after that error) is held.
    const proxy = await faultProxy(
      t,
      broker.port,
      (apiKey, n) => (lost === 'request' && apiKey === ApiKey.Produce && n === 1 ? 'cut' : 'pass'),
      (apiKey, n) => (lost === 'response' && apiKey === ApiKey.Produce && n === 1 ? 'cut' : apiKey === ApiKey.Metadata && n >= 2 ? 'hold' : 'pass'),
    );
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
