// Push subscriptions (Subscribe, Credit, Unsubscribe) against a real broker process: the exact
// bytes and order on the wire, credit never exceeded, a stalled subscriber that holds nobody else,
// ends on topic deletion and on a batch larger than the window, cleanup on disconnect (no fd or
// subscription left), bad input, and the TypeScript Subscription client.
//
// Where a test must know that the broker sent nothing more, it uses the protocol's own barrier: an
// Unsubscribe response follows every push of that subscription on the wire.

import t from 'tap';
import { connect, type Socket } from 'node:net';
import { once } from 'node:events';
import { readdirSync } from 'node:fs';
import { Connection, type PushListener } from '../src/client/connection.js';
import { Producer } from '../src/client/producer.js';
import { Subscription } from '../src/client/subscription.js';
import { decodeBrokerMeta, encodeRequest } from '../src/protocol/codec.js';
import { FrameDecoder } from '../src/protocol/frame.js';
import { ApiKey, type PushBody, type SubscribeResponse } from '../src/protocol/messages.js';
import { decodeRecordBatches, encodeRecordBatch } from '../src/protocol/record-batch.js';
import { call, createTopic, fetch, produce, scrapeWhen, startBroker, type RunningBroker } from './helpers/broker.js';
import { batchOf } from './helpers/tmp.js';

interface Received {
  pushes: PushBody[];
  data: Buffer[];
  bytes: number;
  /** Resolves when `bytes` reaches at least `n`, or a push ends the subscription. */
  until(n: number): Promise<void>;
  ended: Promise<PushBody>;
}

function collector(): { listener: PushListener; received: Received } {
  const waits: Array<{ n: number; resolve(): void }> = [];
  let endWith!: (b: PushBody) => void;
  const received: Received = {
    pushes: [],
    data: [],
    bytes: 0,
    until: (n) => (received.bytes >= n ? Promise.resolve() : new Promise((resolve) => waits.push({ n, resolve }))),
    ended: new Promise((resolve) => (endWith = resolve)),
  };
  const listener: PushListener = {
    push(body, data) {
      const push = body as PushBody;
      received.pushes.push(push);
      received.data.push(data);
      received.bytes += data.length;
      if (push.error) {
        endWith(push);
        for (const w of waits.splice(0)) w.resolve();
      }
      for (const w of waits.filter((w) => received.bytes >= w.n)) {
        waits.splice(waits.indexOf(w), 1);
        w.resolve();
      }
    },
    fail: () => undefined,
  };
  return { listener, received };
}

async function subscribe(c: Connection, body: Record<string, unknown>): Promise<{ id: number; response: SubscribeResponse; received: Received }> {
  const { listener, received } = collector();
  const response = (await c.subscribe(ApiKey.Subscribe, 0, body, listener)).body as SubscribeResponse;
  return { id: response.subscriptionId ?? -1, response, received };
}

/** `count` batches of distinct sizes, produced one request each; returns them as stored (offsets stamped). */
async function fill(c: Connection, topic: string, first: number, count: number): Promise<Buffer[]> {
  const stored: Buffer[] = [];
  for (let i = first; i < first + count; i++) {
    const [r] = await produce(c, [{ topic, partition: 0, batches: batchOf(i, 1 + (i % 5)) }]);
    const [p] = await fetch(c, [{ topic, partition: 0, offset: r!.baseOffset! }]);
    stored.push(p!.records.subarray(0, decodeRecordBatches(p!.records)[0]!.sizeBytes));
  }
  return stored;
}

const sum = (bufs: Buffer[]) => bufs.reduce((n, b) => n + b.length, 0);

async function openFds(broker: RunningBroker): Promise<number> {
  return readdirSync(`/proc/${broker.proc.pid}/fd`).length;
}

t.test('exact bytes and order on the wire: the response first, then pushes of whole batches from the offset on', async (t) => {
  const broker = await startBroker(t);
  const c = await broker.connect();
  await createTopic(c, 'wire');
  const before = await fill(c, 'wire', 0, 5);

  // A raw socket, read frame by frame: nothing the client library could reorder or hide.
  const socket = connect({ host: '127.0.0.1', port: broker.port });
  t.teardown(() => socket.destroy());
  await once(socket, 'connect');
  const frames: Array<{ meta: ReturnType<typeof decodeBrokerMeta>; data: Buffer }> = [];
  const decoder = new FrameDecoder(1 << 30);
  let wake: (() => void) | undefined;
  socket.on('data', (chunk: Buffer) => {
    for (const e of decoder.push(chunk)) if (e.kind === 'frame') frames.push({ meta: decodeBrokerMeta(e.meta), data: e.data });
    wake?.();
  });
  const frameCount = async (n: number) => {
    while (frames.length < n) await new Promise<void>((resolve) => (wake = resolve));
  };
  // Batch i holds 1 + i % 5 records: offset 4 lies inside the third batch (offsets 3-5), so the data starts with that whole batch.
  socket.write(encodeRequest({ apiKey: ApiKey.Subscribe, apiVersion: 0, correlationId: 7, clientId: 'raw' }, { topic: 'wire', partition: 0, offset: 4n, windowBytes: 1 << 20 }));
  await frameCount(2);
  const first = frames[0]!;
  t.equal(first.meta.kind, 'response', 'the Subscribe response comes first');
  t.same(first.meta.kind === 'response' && first.meta.correlationId, 7);
  const subscribed = (first.meta as { body: SubscribeResponse }).body;
  t.equal(subscribed.subscriptionId, 1);
  t.equal(subscribed.highWatermark, BigInt(before.map((b) => decodeRecordBatches(b)[0]!.records.length).reduce((a, b) => a + b, 0)));

  const after = await fill(c, 'wire', 5, 4);
  const expected = Buffer.concat([...before.slice(2), ...after]);
  const got = () => frames.slice(1).reduce((n, f) => n + f.data.length, 0);
  while (got() < expected.length) await frameCount(frames.length + 1);
  const pushes = frames.slice(1);
  for (const p of pushes) {
    t.equal(p.meta.kind, 'push');
    const body = p.meta.body as PushBody;
    t.equal(body.subscriptionId, 1);
    t.equal(body.bytes, p.data.length, 'bytes names the data that follows');
    const last = decodeRecordBatches(p.data).at(-1)!;
    t.equal(body.nextOffset, last.baseOffset + BigInt(last.lastOffsetDelta) + 1n, 'nextOffset is after the last batch');
  }
  t.ok(Buffer.concat(pushes.map((p) => p.data)).equals(expected), 'the pushes carry the log byte for byte, in order');
});

t.test('credit is never exceeded: exactly the batches that fit, then exactly what each grant allows', async (t) => {
  const broker = await startBroker(t);
  const c = await broker.connect();
  await createTopic(c, 'credit');
  const stored = await fill(c, 'credit', 0, 20);
  const prefix = (n: number) => sum(stored.slice(0, n));
  // A window a little under 4 batches: 3 fit; the 4th must wait for credit.
  const window = prefix(4) - 1;
  const s = await subscribe(c, { topic: 'credit', partition: 0, offset: 0n, windowBytes: window });
  await s.received.until(prefix(3));
  // Grant back exactly what 3 batches took, plus one byte: batches 4..6 fit (prefix(6) <= window + grant), the 7th does not.
  const grant = prefix(3) + 1;
  let fit = 3;
  while (fit < stored.length && prefix(fit + 1) <= window + grant) fit++;
  c.send(ApiKey.Credit, 0, { subscriptionId: s.id, bytes: grant });
  await s.received.until(prefix(fit));
  await call(c, ApiKey.Unsubscribe, { subscriptionId: s.id });
  t.equal(s.received.bytes, prefix(fit), `exactly ${fit} batches (${prefix(fit)} bytes) within ${window + grant} bytes of credit`);
  t.ok(Buffer.concat(s.received.data).equals(Buffer.concat(stored.slice(0, fit))));
  // Before the grant the pushes stayed within the window; after it, within window + grant.
  const beforeGrant = s.received.data.findIndex((_, i) => sum(s.received.data.slice(0, i + 1)) >= prefix(3));
  t.equal(sum(s.received.data.slice(0, beforeGrant + 1)), prefix(3), 'the pushes before the grant carried exactly the 3 batches that fit');
  t.ok(prefix(3) <= window && prefix(fit) <= window + grant);
  // After Unsubscribe nothing more comes, whatever is appended.
  await fill(c, 'credit', 20, 2);
  await call(c, ApiKey.Metadata, { topics: ['credit'] });
  t.equal(s.received.bytes, prefix(fit), 'no push after the Unsubscribe response');
});

t.test('a stalled subscriber (never reads) holds nobody else: another reads 48 MiB to the end', async (t) => {
  const broker = await startBroker(t);
  const c = await broker.connect();
  await createTopic(c, 'stall');
  // The stalled one: a raw socket that subscribes with a huge window and then never reads.
  const stalled: Socket = connect({ host: '127.0.0.1', port: broker.port });
  t.teardown(() => stalled.destroy());
  await once(stalled, 'connect');
  stalled.pause();
  stalled.write(encodeRequest({ apiKey: ApiKey.Subscribe, apiVersion: 0, correlationId: 1, clientId: 'stalled' }, { topic: 'stall', partition: 0, offset: 0n, windowBytes: 1 << 30 }));
  const reader = await broker.connect('reader');
  const live = await subscribe(reader, { topic: 'stall', partition: 0, offset: 0n, windowBytes: 8 << 20 });
  // 48 MiB in 512 KiB batches: far more than both sockets' buffers.
  const records = encodeRecordBatch([{ value: Buffer.alloc(512 * 1024, 7) }]);
  let total = 0;
  const granted = { bytes: 0 };
  for (let i = 0; i < 96; i++) {
    await produce(c, [{ topic: 'stall', partition: 0, batches: records }]);
    total += records.length;
    // The reader grants back what it received, as a consumer would.
    const owed = live.received.bytes - granted.bytes;
    if (owed > 0) {
      reader.send(ApiKey.Credit, 0, { subscriptionId: live.id, bytes: owed });
      granted.bytes += owed;
    }
  }
  while (live.received.bytes < total) {
    await live.received.until(Math.min(total, granted.bytes + (8 << 20)));
    const owed = live.received.bytes - granted.bytes;
    if (owed > 0) {
      reader.send(ApiKey.Credit, 0, { subscriptionId: live.id, bytes: owed });
      granted.bytes += owed;
    }
  }
  t.equal(live.received.bytes, total, 'the live subscriber got everything');
  t.equal(live.received.pushes.at(-1)!.nextOffset, 96n);
  t.notOk(stalled.destroyed, 'the stalled subscriber is still connected (slow is not an error)');
  const metrics = await scrapeWhen(broker, (m) => /sluice_partition_subscriptions\{topic="stall",partition="0"\} 2/.test(m));
  t.match(metrics, /sluice_partition_subscriptions\{topic="stall",partition="0"\} 2/);
});

t.test('subscriptions end with a push naming the cause: topic deleted, batch larger than the window', async (t) => {
  const broker = await startBroker(t);
  const c = await broker.connect();
  await createTopic(c, 'gone');
  await createTopic(c, 'small');
  await fill(c, 'small', 0, 1);
  const gone = await subscribe(c, { topic: 'gone', partition: 0, offset: -1n, windowBytes: 1 << 20 });
  const small = await subscribe(c, { topic: 'small', partition: 0, offset: 0n, windowBytes: 16 });
  const tooLarge = await small.received.ended;
  t.equal(tooLarge.error?.code, 'MESSAGE_TOO_LARGE');
  t.equal(small.received.bytes, 0, 'nothing over the window was sent');
  await call(c, ApiKey.DeleteTopics, { topics: ['gone'] });
  const deleted = await gone.received.ended;
  t.equal(deleted.error?.code, 'UNKNOWN_TOPIC_OR_PARTITION');
  t.equal(deleted.bytes, 0);
  // Unsubscribing from an ended subscription is not an error: it is over either way.
  t.same(await call(c, ApiKey.Unsubscribe, { subscriptionId: gone.id }), {});
});

t.test('disconnecting ends every subscription: no subscription, fd or listener left', async (t) => {
  const broker = await startBroker(t);
  const c = await broker.connect();
  await createTopic(c, 'churn');
  await fill(c, 'churn', 0, 3);
  const baseline = await openFds(broker);
  const clients = await Promise.all(Array.from({ length: 20 }, () => Connection.connect({ host: '127.0.0.1', port: broker.port })));
  for (const client of clients) {
    for (let i = 0; i < 3; i++) await subscribe(client, { topic: 'churn', partition: 0, offset: 0n, windowBytes: 1 << 20 });
  }
  await scrapeWhen(broker, (m) => /sluice_partition_subscriptions\{topic="churn",partition="0"\} 60/.test(m));
  await Promise.all(clients.map((client) => client.close()));
  await scrapeWhen(broker, (m) => /sluice_partition_subscriptions\{topic="churn",partition="0"\} 0/.test(m), 10_000);
  let fds = await openFds(broker);
  for (let i = 0; i < 100 && fds > baseline; i++) {
    await new Promise((resolve) => setTimeout(resolve, 50));
    fds = await openFds(broker);
  }
  t.equal(fds, baseline, 'the broker holds the fds it held before');
  // The broker still serves the partition.
  const s = await subscribe(c, { topic: 'churn', partition: 0, offset: 0n, windowBytes: 1 << 20 });
  await s.received.until(1);
  t.ok(s.received.bytes > 0);
});

t.test('bad input: clear errors, the connection and broker stay up; a malformed Credit closes the connection', async (t) => {
  const broker = await startBroker(t);
  const c = await broker.connect();
  await createTopic(c, 'bad');
  const unknown = await subscribe(c, { topic: 'nope', partition: 0, offset: 0n, windowBytes: 1024 });
  t.equal(unknown.response.error?.code, 'UNKNOWN_TOPIC_OR_PARTITION');
  t.equal(unknown.response.subscriptionId, undefined);
  const range = await subscribe(c, { topic: 'bad', partition: 0, offset: 5n, windowBytes: 1024 });
  t.equal(range.response.error?.code, 'OFFSET_OUT_OF_RANGE');
  t.equal(range.response.highWatermark, 0n);
  await t.rejects(call(c, ApiKey.Subscribe, { topic: 'bad', partition: 0, offset: 0n, windowBytes: 0 }), { code: 'INVALID_REQUEST' });
  await t.rejects(call(c, ApiKey.Unsubscribe, {}), { code: 'INVALID_REQUEST' });
  t.same(await call(c, ApiKey.Unsubscribe, { subscriptionId: 99 }), {}, 'an unknown subscription is already over');
  c.send(ApiKey.Credit, 0, { subscriptionId: 99, bytes: 10 });
  t.same(await call(c, ApiKey.Metadata, { topics: ['bad'] }).then((m) => (m as { topics: unknown[] }).topics.length), 1, 'credit for an unknown subscription is dropped; the connection goes on');
  const other = await broker.connect('other');
  other.send(ApiKey.Credit, 0, { subscriptionId: 1, bytes: -5 });
  await t.rejects(other.request(ApiKey.Metadata, 0, {}), { code: 'NETWORK_EXCEPTION' }, 'a malformed Credit closes its connection');
  t.ok(broker.lines.some((l) => typeof l === 'object' && String(l.reason).includes('bad Credit request')), 'and the broker logs why');
  t.same(await call(c, ApiKey.Metadata, { topics: ['bad'] }).then((m) => (m as { topics: unknown[] }).topics.length), 1, 'the broker is up');
});

t.test('the Subscription client streams a Producer\'s records in order and unsubscribes when the loop ends', async (t) => {
  const broker = await startBroker(t);
  const c = await broker.connect();
  await createTopic(c, 'client');
  const address = `127.0.0.1:${broker.port}`;
  const producer = new Producer({ broker: address, lingerMs: 0 });
  t.teardown(() => producer.close());
  await producer.send('client', Array.from({ length: 10 }, (_, i) => ({ value: `early ${i}` })));
  // A small window makes the client grant credit many times over the run.
  const subscription = await Subscription.open({ broker: address, topic: 'client', offset: 'earliest', windowBytes: 4096 });
  const sending = (async () => {
    for (let i = 0; i < 200; i++) await producer.send('client', [{ value: `late ${i}` }]);
  })();
  const values: string[] = [];
  for await (const push of subscription) {
    for (const batch of push.batches()) for (const r of batch.records) values.push(r.value!.toString());
    if (values.length >= 210) break;
  }
  await sending;
  t.same(values, [...Array.from({ length: 10 }, (_, i) => `early ${i}`), ...Array.from({ length: 200 }, (_, i) => `late ${i}`)]);
  t.equal(subscription.nextOffset, 210n);
  await scrapeWhen(broker, (m) => /sluice_partition_subscriptions\{topic="client",partition="0"\} 0/.test(m));
  const latest = await Subscription.open({ broker: address, topic: 'client', offset: 'latest' });
  t.equal(latest.nextOffset, 210n, "'latest' starts at the high watermark");
  await latest.close();
});

t.test("the Kafka door does not offer Sluice's subscription APIs", async (t) => {
  const { KAFKA_API_VERSIONS } = await import('../src/doors/kafka/apis.js');
  t.notOk(KAFKA_API_VERSIONS.some((a) => a.apiKey >= 1000));
});

t.test('a data push head written field by field means what the generic packer writes', async (t) => {
  const { encodePush, encodePushHead } = await import('../src/protocol/codec.js');
  const cases: Array<[number, bigint, bigint, bigint, number]> = [
    [1, 0n, 0n, 1n, 69],
    [0x7fff_ffff, 2n ** 63n - 1n, 2n ** 40n, 2n ** 53n + 1n, 0x7fff_ffff],
  ];
  for (const [id, hw, lso, next, bytes] of cases) {
    const fast = encodePushHead(id, hw, lso, next, bytes);
    const generic = encodePush({ subscriptionId: id, highWatermark: hw, logStartOffset: lso, nextOffset: next, bytes }, bytes);
    t.equal(fast.readUInt32BE(0) - fast.readUInt32BE(4), generic.readUInt32BE(0) - generic.readUInt32BE(4), 'the prefix counts the same data bytes');
    const meta = (b: Buffer) => decodeBrokerMeta(b.subarray(8, 8 + b.readUInt32BE(4)));
    t.same(meta(fast), meta(generic));
    t.same(meta(fast), { kind: 'push', body: { subscriptionId: id, highWatermark: hw, logStartOffset: lso, nextOffset: next, bytes } });
  }
});

t.test('retention passing a subscriber that waits for credit ends it at once with OFFSET_OUT_OF_RANGE and the new log start', async (t) => {
  const broker = await startBroker(t, { args: ['--retention-check-interval-ms', '50'] });
  const c = await broker.connect();
  await createTopic(c, 'short', 1, { retentionBytes: 4096, segmentBytes: 1024 });
  const first = await fill(c, 'short', 0, 1);
  // A window of one batch: after the first push the subscriber holds no credit and never grants more.
  const s = await subscribe(c, { topic: 'short', partition: 0, offset: 0n, windowBytes: first[0]!.length });
  await s.received.until(first[0]!.length);
  await fill(c, 'short', 1, 60);
  const end = await s.received.ended;
  t.equal(end.error?.code, 'OFFSET_OUT_OF_RANGE');
  t.ok(end.logStartOffset > s.received.pushes[0]!.nextOffset!, `the log now starts at ${end.logStartOffset}, past the subscriber's ${s.received.pushes[0]!.nextOffset}`);
  t.equal(s.received.bytes, first[0]!.length, 'nothing past the credit was sent');
});
