// The frame decoder on its own: frames split anywhere, several per chunk, oversize frames skipped
// without being held, and framing that cannot be trusted rejected.

import t from 'tap';
import { decodeRequestMeta, encodeRequest } from '../src/protocol/codec.js';
import { FrameDecoder, FramingError, MAX_OVERSIZE_META_BYTES, framePrefix } from '../src/protocol/frame.js';

const request = (correlationId: number, data: Buffer) =>
  Buffer.concat([encodeRequest({ apiKey: 0, apiVersion: 0, correlationId, clientId: 'c' }, { n: correlationId }, data.length), data]);

t.test('frames split at every byte, or many in one chunk, come out whole and in order', async (t) => {
  const frames = [request(1, Buffer.alloc(0)), request(2, Buffer.from('abc')), request(3, Buffer.alloc(70_000, 7))];
  const stream = Buffer.concat(frames);
  for (const chunkBytes of [1, 2, 7, 100, 65_536, stream.length]) {
    const decoder = new FrameDecoder(1 << 20);
    const ids: number[] = [];
    const dataBytes: number[] = [];
    for (let i = 0; i < stream.length; i += chunkBytes) {
      for (const e of decoder.push(stream.subarray(i, i + chunkBytes))) {
        if (e.kind !== 'frame') throw new Error('unexpected oversize');
        ids.push(decodeRequestMeta(e.meta).header.correlationId);
        dataBytes.push(e.data.length);
      }
    }
    t.same(ids, [1, 2, 3], `chunks of ${chunkBytes}`);
    t.same(dataBytes, [0, 3, 70_000]);
    t.ok(decoder.idle);
  }
});

t.test('an oversize frame yields its meta, its data is dropped as it arrives, and the next frame is fine', async (t) => {
  const decoder = new FrameDecoder(1024);
  const big = request(9, Buffer.alloc(100_000, 1));
  const events = [];
  let maxBuffered = 0;
  for (let i = 0; i < big.length; i += 4096) {
    events.push(...decoder.push(big.subarray(i, i + 4096)));
    maxBuffered = Math.max(maxBuffered, decoder.bufferedBytes);
  }
  t.equal(events.length, 1);
  t.equal(events[0]!.kind, 'oversize');
  if (events[0]!.kind === 'oversize') {
    t.equal(events[0]!.frameBytes, big.length - 4);
    t.equal(decodeRequestMeta(events[0]!.meta).header.correlationId, 9);
  }
  t.ok(maxBuffered <= 4096, `never held more than a chunk (${maxBuffered})`);
  const next = decoder.push(request(10, Buffer.from('x')));
  t.equal(next.length, 1);
  t.equal(next[0]!.kind, 'frame');
});

t.test('framing that cannot be trusted is a FramingError', async (t) => {
  const bad = (bytes: Buffer, max = 1024) => () => new FrameDecoder(max).push(bytes);
  t.throws(bad(Buffer.from([0, 0, 0, 4, 0, 0, 0, 0])), FramingError, 'frame too small for a meta');
  t.throws(bad(Buffer.from([0, 0, 0, 10, 0, 0, 0, 0])), FramingError, 'empty meta');
  t.throws(bad(Buffer.from([0, 0, 0, 10, 0, 0, 0, 7])), FramingError, 'meta longer than the frame');
  const hugeMeta = Buffer.alloc(8);
  hugeMeta.writeUInt32BE(10_000_000, 0);
  hugeMeta.writeUInt32BE(MAX_OVERSIZE_META_BYTES + 1, 4);
  t.throws(bad(hugeMeta), /too large to answer/, 'an oversize frame whose meta is too big to read');
  t.same(new FrameDecoder(1024).push(framePrefix(3, 0).subarray(0, 5)), [], 'a partial prefix waits');
  t.throws(() => new FrameDecoder(2), RangeError);
});

t.test('a meta that is not a request header is a FramingError', async (t) => {
  t.throws(() => decodeRequestMeta(Buffer.from([0xc1])), FramingError);
  t.throws(() => decodeRequestMeta(Buffer.from([0x93, 1, 2, 3])), /request meta is not/);
  t.throws(() => decodeRequestMeta(encodeRequest({ apiKey: 1, apiVersion: 0, correlationId: 1, clientId: null }, {}).subarray(8, -1)), FramingError, 'truncated');
});
