// The transfer engine over real loopback sockets: 64 consumers get the exact bytes of a
// multi-segment log on every fetch path, and the sendfile path moves them without a user-space copy.

import t from 'tap';
import type { Socket } from 'node:net';
import { FETCH_PATHS, TransferEngine } from '../src/transfer/engine.js';
import { Consumer, knownLog, listen, serveLog } from './helpers/transfer.js';
import { tmpDir } from './helpers/tmp.js';

const CONSUMERS = 64;

t.test('64 concurrent consumers receive the exact log on every path', async (t) => {
  const known = await knownLog(tmpDir(t), 3 * 1024 * 1024);
  t.ok(known.log.segmentBaseOffsets().length >= 3, 'the log spans several segments');
  const engine = new TransferEngine();
  t.teardown(() => engine.close());
  for (const path of FETCH_PATHS) {
    const before = engine.counters();
    const served: Array<Promise<number>> = [];
    const { server, port } = await listen((socket: Socket) => {
      served.push(serveLog(socket, engine.writer(socket, path), known.log, 256 * 1024));
    });
    const consumers = Array.from({ length: CONSUMERS }, () => new Consumer(port));
    const results = await Promise.all(consumers.map((c) => c.done));
    const sent = await Promise.all(served);
    server.close();
    const frames = results[0]!.frames;
    const wrong = results.filter((r) => r.payloadBytes !== known.bytes || r.crc !== known.crc || r.frames !== frames);
    t.equal(wrong.length, 0, `${path}: every consumer got the log's bytes (crc ${known.crc})`);
    t.equal(sent.reduce((a, b) => a + b, 0), results.reduce((a, r) => a + r.bytes, 0), `${path}: bytes sent = bytes received`);
    const after = engine.counters();
    const moved = {
      sendfile: after.sendfileBytes - before.sendfileBytes,
      mmap: after.mmapBytes - before.mmapBytes,
      copy: after.copyBytes - before.copyBytes,
      node: after.nodeBytes - before.nodeBytes,
    };
    const payload = CONSUMERS * known.bytes;
    t.same(moved, { sendfile: 0, mmap: 0, copy: 0, node: 0, [path]: payload }, `${path}: only this path moved data`);
    if (path === 'sendfile') {
      t.equal(after.copiedBytes - before.copiedBytes, 0, 'sendfile: no byte was copied through user space');
      t.equal(after.nodeReads - before.nodeReads, 0, 'sendfile: no fs.read happened');
      t.equal(after.headerBytes - before.headerBytes, CONSUMERS * frames * 4, 'sendfile: only the frame headers were written from buffers');
    }
    if (path === 'copy') t.equal(after.copiedBytes - before.copiedBytes, payload, 'copy: every byte went through a buffer');
    t.equal(after.jobsInFlight, 0, `${path}: no job left in flight`);
  }
  await known.log.close();
});
