// The golden vectors in protocol/vectors/: each file's frame bytes decode to its meaning, and
// encoding its meaning gives exactly those bytes. A client written from PROTOCOL.md can check
// itself against the same files.

import t from 'tap';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { decodeBrokerMeta, decodeRequestMeta, decodeResponseMeta, encodePush, encodeRequest, encodeResponse } from '../src/protocol/codec.js';
import { FrameDecoder } from '../src/protocol/frame.js';
import { decodeRecordBatches } from '../src/protocol/record-batch.js';
import { VECTOR_CASES, fromJson, toJson, type VectorCase } from './helpers/vectors.js';

const dir = fileURLToPath(new URL('../protocol/vectors/', import.meta.url));

interface VectorFile {
  name: string;
  description: string;
  kind: VectorCase['kind'];
  header: VectorCase['header'];
  body: unknown;
  dataHex: string;
  frameHex: string;
}

function encode(c: Pick<VectorCase, 'kind' | 'header' | 'body' | 'data'>): Buffer {
  const head =
    c.kind === 'request'
      ? encodeRequest(c.header as Parameters<typeof encodeRequest>[0], c.body, c.data.length)
      : c.kind === 'push'
        ? encodePush(c.body, c.data.length)
        : encodeResponse((c.header as { correlationId: number }).correlationId, c.body, c.data.length);
  return Buffer.concat([head, c.data]);
}

if (process.env.SLUICE_WRITE_VECTORS === '1') {
  for (const c of VECTOR_CASES) {
    const file: VectorFile = { name: c.name, description: c.description, kind: c.kind, header: c.header, body: c.body, dataHex: c.data.toString('hex'), frameHex: encode(c).toString('hex') };
    writeFileSync(`${dir}${c.name}.json`, `${toJson(file)}\n`);
  }
}

const files = readdirSync(dir).filter((f) => f.endsWith('.json'));

t.test('every case has a vector file and every file a case', async (t) => {
  t.same(files.map((f) => f.replace(/\.json$/, '')).sort(), VECTOR_CASES.map((c) => c.name).sort());
});

for (const f of files) {
  t.test(f, async (t) => {
    const v = fromJson(readFileSync(`${dir}${f}`, 'utf8')) as VectorFile;
    const frame = Buffer.from(v.frameHex, 'hex');
    const data = Buffer.from(v.dataHex, 'hex');

    const events = new FrameDecoder(1 << 20).push(frame);
    t.equal(events.length, 1, 'one whole frame');
    const event = events[0]!;
    if (event.kind !== 'frame') throw new Error('oversize');
    t.same(event.data, data, 'data follows the meta, raw');
    if (v.kind === 'request') {
      const decoded = decodeRequestMeta(event.meta);
      t.same(decoded.header, v.header);
      t.same(decoded.body, v.body);
    } else if (v.kind === 'push') {
      t.same(decodeBrokerMeta(event.meta), { kind: 'push', body: v.body }, 'a push: meta [nil, body]');
      t.throws(() => decodeResponseMeta(event.meta), 'a push is not a response');
    } else {
      const decoded = decodeResponseMeta(event.meta);
      t.equal(decoded.correlationId, (v.header as { correlationId: number }).correlationId);
      t.same(decoded.body, v.body);
    }
    t.equal(encode({ kind: v.kind, header: v.header, body: v.body, data }).toString('hex'), v.frameHex, 'encoding the meaning gives the same bytes');
    if (data.length > 0) t.ok(decodeRecordBatches(data).length > 0, 'the data is record batches');
  });
}
