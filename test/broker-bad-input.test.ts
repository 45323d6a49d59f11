// Bad input to a real broker: oversize frames are refused unread, unparsable framing closes only
// that connection, bad content gets an error response with a stable code on a connection that
// stays open, and nothing is written for a rejected request.

import t from 'tap';
import { once } from 'node:events';
import { connect, type Socket } from 'node:net';
import { decodeResponseMeta, encodeRequest, packr } from '../src/protocol/codec.js';
import { FrameDecoder, framePrefix } from '../src/protocol/frame.js';
import { ApiKey } from '../src/protocol/messages.js';
import { call, createTopic, fetch, produce, scrape, startBroker, type RunningBroker } from './helpers/broker.js';
import { batchOf } from './helpers/tmp.js';

/** A raw socket that writes whatever it is given and reads frames back. */
class RawClient {
  readonly socket: Socket;
  readonly #decoder = new FrameDecoder(0xffff_ffff);
  readonly #responses: Array<{ correlationId: number; body: Record<string, unknown> }> = [];
  #waiters: Array<() => void> = [];
  closed: Promise<void>;

  constructor(port: number) {
    this.socket = connect({ host: '127.0.0.1', port });
    this.socket.on('error', () => undefined);
    this.closed = once(this.socket, 'close').then(() => undefined);
    this.socket.on('data', (chunk: Buffer) => {
      for (const e of this.#decoder.push(chunk)) {
        if (e.kind === 'frame') this.#responses.push(decodeResponseMeta(e.meta) as { correlationId: number; body: Record<string, unknown> });
      }
      for (const w of this.#waiters.splice(0)) w();
    });
  }

  async next(): Promise<{ correlationId: number; body: Record<string, unknown> }> {
    while (this.#responses.length === 0) await new Promise<void>((r) => this.#waiters.push(r));
    return this.#responses.shift()!;
  }

  request(apiKey: number, correlationId: number, body: unknown, data: Buffer = Buffer.alloc(0), apiVersion = 0): void {
    this.socket.write(encodeRequest({ apiKey, apiVersion, correlationId, clientId: 'raw' }, body, data.length));
    if (data.length > 0) this.socket.write(data);
  }

  async error(apiKey: number, correlationId: number, body: unknown, data?: Buffer, apiVersion?: number): Promise<{ code: string; message: string }> {
    this.request(apiKey, correlationId, body, data, apiVersion);
    const r = await this.next();
    if (r.correlationId !== correlationId) throw new Error(`answer for ${r.correlationId}, expected ${correlationId}`);
    return r.body.error as { code: string; message: string };
  }
}

async function rawClient(broker: RunningBroker): Promise<RawClient> {
  const c = new RawClient(broker.port);
  await once(c.socket, 'connect');
  return c;
}

async function highWatermark(broker: RunningBroker, topic: string): Promise<bigint> {
  const c = await broker.connect();
  const [p] = await fetch(c, [{ topic, partition: 0, offset: 0n, maxBytes: 1 }]);
  return p!.highWatermark;
}

t.test('a frame over --max-frame-bytes is answered MESSAGE_TOO_LARGE without being buffered', async (t) => {
  const broker = await startBroker(t, { args: ['--max-frame-bytes', '65536'] });
  await createTopic(await broker.connect(), 'big', 1);
  const raw = await rawClient(broker);
  const dataBytes = 8 * 1024 * 1024;
  raw.socket.write(encodeRequest({ apiKey: ApiKey.Produce, apiVersion: 0, correlationId: 7, clientId: 'raw' }, { acks: 1, partitions: [{ topic: 'big', partition: 0, bytes: dataBytes }] }, dataBytes));
  const chunk = Buffer.alloc(256 * 1024, 0xab);
  for (let sent = 0; sent < dataBytes; sent += chunk.length) {
    if (!raw.socket.write(chunk)) await once(raw.socket, 'drain');
  }
  const r = await raw.next();
  t.equal(r.correlationId, 7);
  t.equal((r.body.error as { code: string }).code, 'MESSAGE_TOO_LARGE');
  t.match((r.body.error as { message: string }).message, /8388\d+ bytes, over the broker's limit of 65536/);
  // The stream stays in step: the next request on the same connection is answered.
  t.equal(await raw.error(ApiKey.Fetch, 8, { partitions: [{ topic: 'big', partition: 0, offset: 99 }] }).then((e) => e), undefined, 'a good request after it has no top-level error');
  t.equal(await highWatermark(broker, 'big'), 0n, 'nothing was written');
  const rss = Number(/^process_resident_memory_bytes (\d+)/m.exec(await scrape(broker))?.[1]);
  t.ok(rss > 0 && rss < 400 * 1024 * 1024, `broker RSS ${Math.round(rss / 1048576)} MiB`);
});

t.test('unparsable framing or MessagePack closes that connection only', async (t) => {
  const broker = await startBroker(t);
  const good = await broker.connect('bystander');
  await createTopic(good, 'calm', 1);
  const parked = fetch(good, [{ topic: 'calm', partition: 0, offset: 0n }], { maxWaitMs: 20_000, minBytes: 1 });

  const cases: Array<[string, Buffer]> = [
    ['sizes that contradict', Buffer.from([0, 0, 0, 10, 0, 0, 0, 200, 1, 2, 3, 4, 5, 6])],
    ['a frame too short to hold a meta', Buffer.from([0, 0, 0, 4, 0, 0, 0, 0])],
    ['meta that is not MessagePack', Buffer.concat([framePrefix(3, 0), Buffer.from([0xc1, 0xc1, 0xc1])])],
    ['meta that is not a request header', Buffer.concat([framePrefix(packr.pack({ hello: 1 }).length, 0), packr.pack({ hello: 1 })])],
    ['a header with a string api key', Buffer.concat([framePrefix(packr.pack(['x', 0, 1, null, {}]).length, 0), packr.pack(['x', 0, 1, null, {}])])],
    ['HTTP', Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r\n')],
  ];
  for (const [name, bytes] of cases) {
    const raw = await rawClient(broker);
    raw.socket.write(bytes);
    await raw.closed;
    t.pass(`closed: ${name}`);
  }
  // The bystander's parked fetch was not disturbed; it completes on data.
  await produce(await broker.connect(), [{ topic: 'calm', partition: 0, batches: batchOf(1) }]);
  const [p] = await parked;
  t.equal(p!.highWatermark, 1n);
  const text = await scrape(broker);
  t.match(text, /sluice_connections_closed_for_protocol_errors_total\{reason="framing"\} 3/);
  t.match(text, /sluice_connections_closed_for_protocol_errors_total\{reason="meta"\} 3/);
  const closing = broker.lines.filter((l) => typeof l === 'object' && l.msg === 'closing connection: the stream cannot be parsed');
  t.equal(closing.length, 6, 'each closed connection is logged with its reason');
});

t.test('bad content gets an error response and the connection stays open', async (t) => {
  const broker = await startBroker(t);
  const c = await broker.connect();
  await createTopic(c, 'strict', 2);
  await produce(c, [{ topic: 'strict', partition: 0, batches: batchOf(0) }]);
  const raw = await rawClient(broker);
  let id = 100;
  const expectError = async (name: string, code: string, message: RegExp, apiKey: number, body: unknown, data?: Buffer, version?: number) => {
    const err = await raw.error(apiKey, ++id, body, data, version);
    t.equal(err?.code, code, name);
    t.match(err?.message, message, `${name}: ${err?.message}`);
  };
  await expectError('unknown API', 'UNSUPPORTED_VERSION', /unknown API key 99/, 99, {});
  await expectError('unknown version', 'UNSUPPORTED_VERSION', /Fetch v5 is not supported/, ApiKey.Fetch, {}, undefined, 5);
  await expectError('body not a map', 'INVALID_REQUEST', /fetch must be a map/, ApiKey.Fetch, [1, 2]);
  await expectError('offset of the wrong type', 'INVALID_REQUEST', /fetch\.partitions\[0\]\.offset must be a 64-bit integer/, ApiKey.Fetch, {
    partitions: [{ topic: 'strict', partition: 0, offset: 'zero' }],
  });
  await expectError('negative partition', 'INVALID_REQUEST', /partitions\[0\]\.partition must be an integer/, ApiKey.Fetch, { partitions: [{ topic: 'strict', partition: -1, offset: 0 }] });
  await expectError('missing topic', 'INVALID_REQUEST', /listOffsets\.partitions\[0\]\.topic must be a string/, ApiKey.ListOffsets, { partitions: [{ partition: 0, timestamp: -1 }] });
  await expectError('bad acks', 'INVALID_REQUIRED_ACKS', /got 2/, ApiKey.Produce, { acks: 2, partitions: [] });
  const batch = batchOf(5);
  await expectError('declared bytes do not match the data', 'INVALID_REQUEST', /declare 10 bytes of batches but the frame carries/, ApiKey.Produce, { acks: 1, partitions: [{ topic: 'strict', partition: 0, bytes: 10 }] }, batch);
  await expectError('unknown config key', 'INVALID_REQUEST', /config\.retention is not a topic setting/, ApiKey.CreateTopics, { topics: [{ name: 'x', partitions: 1, config: { retention: 5 } }] });

  // Per-partition errors: the good partition is written, the bad ones are not.
  const corrupt = Buffer.from(batchOf(6));
  corrupt[corrupt.length - 1]! ^= 0xff;
  const wrongMagic = Buffer.from(batchOf(7));
  wrongMagic[16] = 1;
  const truncated = batchOf(8).subarray(0, 40);
  const results = await produce(c, [
    { topic: 'strict', partition: 0, batches: corrupt },
    { topic: 'strict', partition: 0, batches: wrongMagic },
    { topic: 'strict', partition: 0, batches: truncated },
    { topic: 'strict', partition: 1, batches: batchOf(9) },
    { topic: 'strict', partition: 0, batches: Buffer.concat([batchOf(10), corrupt]) },
  ]);
  t.same(results.map((r) => r.error?.code ?? 'ok'), ['CORRUPT_MESSAGE', 'CORRUPT_MESSAGE', 'CORRUPT_MESSAGE', 'ok', 'CORRUPT_MESSAGE']);
  t.match(results[0]?.error?.message, /crc/i);
  const [p0, p1] = await fetch(c, [{ topic: 'strict', partition: 0, offset: 0n }, { topic: 'strict', partition: 1, offset: 0n }]);
  t.equal(p0!.highWatermark, 1n, 'no byte of a rejected append is visible (all or nothing, even for the good batch before a bad one)');
  t.equal(p1!.highWatermark, 1n);

  const [out] = await fetch(c, [{ topic: 'strict', partition: 0, offset: 5n }]);
  t.equal(out!.error?.code, 'OFFSET_OUT_OF_RANGE');
  t.equal(out!.highWatermark, 1n, 'the error carries the range so the client can reset');
  const [negative] = await fetch(c, [{ topic: 'strict', partition: 0, offset: -1n }]);
  t.equal(negative!.error?.code, 'OFFSET_OUT_OF_RANGE');

  // After all of that the raw connection still works.
  raw.request(ApiKey.ApiVersions, 999, {});
  const ok = await raw.next();
  t.equal(ok.correlationId, 999);
  t.ok(Array.isArray(ok.body.apis));
});

t.test('an acks=0 produce that fails closes the connection, the only signal such a producer gets', async (t) => {
  const broker = await startBroker(t);
  const c = await broker.connect();
  await createTopic(c, 'quiet', 1);
  const raw = await rawClient(broker);
  const batch = batchOf(1);
  raw.request(ApiKey.Produce, 1, { acks: 0, partitions: [{ topic: 'quiet', partition: 0, bytes: batch.length }] }, batch);
  raw.request(ApiKey.Produce, 2, { acks: 0, partitions: [{ topic: 'missing', partition: 0, bytes: batch.length }] }, batch);
  await raw.closed;
  t.equal(await highWatermark(broker, 'quiet'), 1n);
  t.ok(broker.lines.some((l) => typeof l === 'object' && /acks=0 produce to missing-0 failed: UNKNOWN_TOPIC_OR_PARTITION/.test(String(l.reason))));
});

t.test('topic names cannot reach outside the data directory', async (t) => {
  const broker = await startBroker(t);
  const c = await broker.connect();
  for (const name of ['../up', '/abs', 'a/b', '..', '.', '', 'nul\u0000', 'é']) {
    const r = await call<{ topics: Array<{ error?: { code: string } }> }>(c, ApiKey.CreateTopics, { topics: [{ name, partitions: 1 }] });
    t.equal(r.topics[0]?.error?.code, 'INVALID_TOPIC_EXCEPTION', JSON.stringify(name));
  }
  const [p] = await produce(c, [{ topic: '../up', partition: 0, batches: batchOf(1) }]);
  t.equal(p?.error?.code, 'UNKNOWN_TOPIC_OR_PARTITION');
});

t.test('idle connections close after --connections-max-idle-ms; a parked fetch is not idle', async (t) => {
  const broker = await startBroker(t, { args: ['--connections-max-idle-ms', '300'] });
  await createTopic(await broker.connect(), 'idle');
  // Slowloris: half a frame prefix, then silence.
  const slow = await rawClient(broker);
  slow.socket.write(Buffer.from([0, 0, 1]));
  // Silent from the start.
  const silent = await rawClient(broker);
  // A long poll that outlives the idle limit, answered by its deadline.
  const parked = await rawClient(broker);
  const startedMs = Date.now();
  parked.request(ApiKey.Fetch, 7, { maxWaitMs: 1200, minBytes: 1, maxBytes: 1024, partitions: [{ topic: 'idle', partition: 0, offset: 0n, maxBytes: 1024 }] });
  await Promise.all([slow.closed, silent.closed]);
  const closedAfterMs = Date.now() - startedMs;
  t.ok(closedAfterMs < 1100, `the half-frame and silent connections were closed after ${closedAfterMs} ms, before the parked fetch's deadline`);
  const answer = await parked.next();
  t.equal(answer.correlationId, 7, 'the parked fetch was answered at its deadline, not cut off');
  t.ok(Date.now() - startedMs >= 1150, 'after its maxWaitMs');
  t.equal(parked.socket.destroyed, false, 'and its connection is open until it idles');
  await parked.closed;
  const closes = Number(/^sluice_connections_closed_idle_total (\d+)$/m.exec(await scrape(broker))?.[1]);
  t.ok(closes >= 3, `idle closes counted (${closes}: these three, and the test's idle admin connection)`);
  // The broker is unaffected: a fresh connection works.
  t.equal(await highWatermark(broker, 'idle'), 0n);
});
