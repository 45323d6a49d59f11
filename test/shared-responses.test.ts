// Shared responses: the fetches that read the same slice of a partition (tailing consumers woken by
// one append) are answered with a body encoded once; only the correlation id differs. These tests
// hold the shared bytes to the generic encoder's, byte for byte, through both doors, and check that
// an append in between is never answered from a stale body.

import t from 'tap';
import { connect } from 'node:net';
import { once } from 'node:events';
import { KafkaApi } from '../src/doors/kafka/apis.js';
import type { KafkaWriter } from '../src/protocol/kafka-wire.js';
import { encodeResponse, encodeResponsePacked, PackedBody, decodeResponseMeta, encodeRequest } from '../src/protocol/codec.js';
import { FrameDecoder } from '../src/protocol/frame.js';
import { ApiKey, type FetchResponse } from '../src/protocol/messages.js';
import { createTopic, produce, startBroker } from './helpers/broker.js';
import { RawKafka, produceBody } from './helpers/kafka-wire.js';
import { batchOf } from './helpers/tmp.js';

t.test('a packed body gives the generic encoder\'s bytes for any correlation id', async (t) => {
  const bodies: unknown[] = [
    { partitions: [{ topic: 'a', partition: 0, highWatermark: 5n, logStartOffset: 0n, bytes: 100 }] },
    { partitions: [{ topic: 'x'.repeat(200), partition: 7, highWatermark: 2n ** 62n, logStartOffset: 2n ** 40n, bytes: 0x7fff_ffff }] },
    {},
  ];
  for (const body of bodies) {
    const packed = new PackedBody(body);
    for (const id of [0, 1, 127, 128, 255, 65_536, 0x7fff_ffff, -1, -33, -0x8000_0000]) {
      t.same(encodeResponsePacked(id, packed, 42), encodeResponse(id, body, 42), `correlation id ${id}`);
    }
  }
});

/** A raw Sluice connection: writes request frames, reads whole frames back. */
async function rawSluice(port: number) {
  const socket = connect(port, '127.0.0.1');
  await once(socket, 'connect');
  const decoder = new FrameDecoder(1 << 30);
  const frames: Buffer[] = [];
  let wake: (() => void) | undefined;
  let pending = Buffer.alloc(0);
  socket.on('data', (chunk: Buffer) => {
    pending = Buffer.concat([pending, chunk]);
    for (const e of decoder.push(chunk)) {
      if (e.kind !== 'frame') continue;
      const bytes = 8 + e.meta.length + e.data.length;
      frames.push(pending.subarray(0, bytes));
      pending = pending.subarray(bytes);
    }
    wake?.();
  });
  return {
    socket,
    async fetch(correlationId: number, topic: string, offset: bigint): Promise<Buffer> {
      socket.write(encodeRequest({ apiKey: ApiKey.Fetch, apiVersion: 0, correlationId, clientId: 'raw' }, { maxWaitMs: 0, partitions: [{ topic, partition: 0, offset }] }));
      while (frames.length === 0) await new Promise<void>((resolve) => (wake = resolve));
      return frames.shift()!;
    },
  };
}

t.test("Sluice's door: fetches of the same slice get the same body, the generic encoder's bytes, and never a stale one", async (t) => {
  const broker = await startBroker(t);
  const c = await broker.connect();
  await createTopic(c, 'shared');
  const one = batchOf(1, 3);
  await produce(c, [{ topic: 'shared', partition: 0, batches: one }]);
  const a = await rawSluice(broker.port);
  const b = await rawSluice(broker.port);
  t.teardown(() => {
    a.socket.destroy();
    b.socket.destroy();
  });
  const expected = (id: number, hw: bigint, data: Buffer) => {
    const body: FetchResponse = { partitions: [{ topic: 'shared', partition: 0, highWatermark: hw, logStartOffset: 0n, bytes: data.length }] };
    return Buffer.concat([encodeResponse(id, body, data.length), data]);
  };
  const fa = await a.fetch(11, 'shared', 0n);
  const fb = await b.fetch(2_000_000, 'shared', 0n);
  t.same(fa, expected(11, 3n, fa.subarray(fa.length - one.length)), 'the first fetch: the generic bytes');
  t.same(fb, expected(2_000_000, 3n, fa.subarray(fa.length - one.length)), 'the second, from the shared body: the same bytes but its correlation id');
  const two = batchOf(2, 2);
  await produce(c, [{ topic: 'shared', partition: 0, batches: two }]);
  const fc = await a.fetch(12, 'shared', 0n);
  const meta = decodeResponseMeta(fc.subarray(8, 8 + fc.readUInt32BE(4)));
  t.same((meta.body as FetchResponse).partitions[0]!.highWatermark, 5n, 'after an append: the new high watermark');
  t.equal((meta.body as FetchResponse).partitions[0]!.bytes, one.length + two.length, 'and both batches');
});

t.test("Kafka's door: the same for Fetch v4", async (t) => {
  const broker = await startBroker(t, { kafka: true });
  const a = await RawKafka.connect(broker.kafkaPort!);
  const b = await RawKafka.connect(broker.kafkaPort!);
  t.teardown(() => {
    a.close();
    b.close();
  });
  const c = await broker.connect();
  await createTopic(c, 'shared');
  await a.request(KafkaApi.Produce, 3, produceBody('shared', 0, batchOf(1, 3), 1));
  const fetchV4 = (w: KafkaWriter) =>
    w.int32(-1).int32(0).int32(1).int32(1 << 20).int8(0).int32(1).string('shared').int32(1).int32(0).int64(0n).int32(1 << 20);
  const ia = a.send(KafkaApi.Fetch, 4, fetchV4);
  const fa = await a.nextFrame();
  b.send(KafkaApi.Fetch, 4, fetchV4);
  b.send(KafkaApi.Fetch, 4, fetchV4);
  const fb = await b.nextFrame();
  const fb2 = await b.nextFrame();
  t.equal(fa.readInt32BE(0), ia);
  t.same(fb.subarray(4), fa.subarray(4), 'everything after the correlation id is the same');
  t.same(fb2.subarray(4), fa.subarray(4));
  t.not(fb.readInt32BE(0), fb2.readInt32BE(0), 'each with its own correlation id');
  await a.request(KafkaApi.Produce, 3, produceBody('shared', 0, batchOf(2, 2), 1));
  a.send(KafkaApi.Fetch, 4, fetchV4);
  const fc = await a.nextFrame();
  t.ok(fc.length > fa.length, 'after an append the answer carries both batches, not the shared body of one');
  // topic array(1) "shared", partitions(1), partition 0, error 0, then the high watermark.
  const hwAt = 4 + 4 + 4 + 2 + 'shared'.length + 4 + 4 + 2;
  t.equal(fc.readBigInt64BE(hwAt), 5n);
  t.equal(fa.readBigInt64BE(hwAt), 3n);
});
