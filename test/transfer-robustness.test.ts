// The transfer engine when consumers misbehave or the log changes underneath: a stalled consumer
// slows no one else, a consumer that vanishes mid-transfer leaks nothing and hurts no one, and a
// segment deleted by retention during a transfer is still sent whole.

import t from 'tap';
import { existsSync } from 'node:fs';
import type { Socket } from 'node:net';
import { ManualClock } from '../src/clock.js';
import { SluiceError } from '../src/errors.js';
import { crc32c } from '../src/native.js';
import { FETCH_PATHS, TransferEngine } from '../src/transfer/engine.js';
import { Consumer, frameHeader, knownLog, listen, serveLog, settledFdCount, until } from './helpers/transfer.js';
import { tmpDir } from './helpers/tmp.js';

t.test('a stalled consumer does not hold up 16 others, and finishes once it reads again', async (t) => {
  // Larger than the stalled consumer's socket buffers, so its transfer really has to wait.
  const known = await knownLog(tmpDir(t), 24 * 1024 * 1024, { segmentBytes: 4 * 1024 * 1024 });
  const engine = new TransferEngine();
  t.teardown(() => engine.close());
  for (const path of FETCH_PATHS) {
    const { server, port } = await listen((socket: Socket) => {
      void serveLog(socket, engine.writer(socket, path), known.log, 1024 * 1024).catch(() => undefined);
    });
    const stalled = new Consumer(port);
    stalled.socket.pause();
    const others = Array.from({ length: 16 }, () => new Consumer(port));
    const results = await Promise.all(others.map((c) => c.done));
    t.ok(results.every((r) => r.crc === known.crc && r.payloadBytes === known.bytes), `${path}: the 16 others got the whole log`);
    t.ok(stalled.received < known.bytes, `${path}: the stalled consumer is still waiting (${stalled.received} bytes in)`);
    if (path !== 'node') t.ok(engine.counters().connectionsWaitingWritable >= 1, `${path}: its job is parked on EPOLLOUT`);
    stalled.socket.resume();
    const late = await stalled.done;
    t.ok(late.crc === known.crc && late.payloadBytes === known.bytes, `${path}: after resuming it got the whole log`);
    server.close();
  }
  t.equal(engine.counters().connectionsWaitingWritable, 0);
  await known.log.close();
});

t.test('a consumer that disconnects mid-transfer leaks no fd and does not disturb the others', async (t) => {
  const known = await knownLog(tmpDir(t), 16 * 1024 * 1024, { segmentBytes: 4 * 1024 * 1024 });
  const engine = new TransferEngine();
  t.teardown(() => engine.close());
  for (const path of FETCH_PATHS) {
    const fdsBefore = await settledFdCount();
    const failures: unknown[] = [];
    const { server, port } = await listen((socket: Socket) => {
      serveLog(socket, engine.writer(socket, path), known.log, 4 * 1024 * 1024).catch((err: unknown) => failures.push(err));
    });
    const quitter = new Consumer(port);
    quitter.done.catch(() => undefined);
    const others = Array.from({ length: 4 }, () => new Consumer(port));
    await until('the quitter to receive a little', () => quitter.received >= 1024 * 1024);
    quitter.socket.resetAndDestroy();
    const results = await Promise.all(others.map((c) => c.done));
    t.ok(results.every((r) => r.crc === known.crc && r.payloadBytes === known.bytes), `${path}: the others got the whole log`);
    await until(`${path}: the server to see the failure`, () => failures.length > 0);
    t.ok(failures.every((e) => e instanceof SluiceError && (e.code === 'NETWORK_EXCEPTION' || e.code === 'TRANSFER_CANCELLED')),
      `${path}: the quitter's responses failed with a network error`);
    server.close();
    t.equal(await settledFdCount(), fdsBefore, `${path}: open fds back to ${fdsBefore}`);
  }
  const c = engine.counters();
  t.equal(c.connections, 0, 'no connection left registered');
  t.equal(c.jobsInFlight, 0, 'no job left in flight');
  await known.log.close();
});

t.test('retention deletes a segment while it is being sent: the transfer completes with the right bytes', async (t) => {
  const clock = new ManualClock(1_700_000_000_000);
  const engine = new TransferEngine();
  t.teardown(() => engine.close());
  for (const path of FETCH_PATHS) {
    const options = { segmentBytes: 4 * 1024 * 1024, retentionMs: 60_000 };
    const known = await knownLog(tmpDir(t), 12 * 1024 * 1024, options, clock);
    const first = known.log.slice(0n, 64 * 1024 * 1024);
    const firstRange = first.ranges[0]!;
    const expectedCrc = crc32c(first.read());
    let writerDone: Promise<number> | undefined;
    const { server, port } = await listen((socket: Socket) => {
      writerDone = engine.writer(socket, path).send([frameHeader(first.bytes), first]).then((n) => {
        socket.end();
        return n;
      });
    });
    const consumer = new Consumer(port);
    consumer.socket.pause();
    await until('the transfer to start', () => writerDone !== undefined);
    clock.advance(30 * 24 * 3600 * 1000);
    const retention = known.log.enforceRetention();
    t.ok(retention.deletedSegments.includes(firstRange.segmentBaseOffset), `${path}: retention deleted the first segment`);
    t.notOk(existsSync(firstRange.path), `${path}: its file is gone from the directory`);
    consumer.socket.resume();
    const got = await consumer.done;
    t.equal(got.payloadBytes, first.bytes, `${path}: every byte arrived`);
    t.equal(got.crc, expectedCrc, `${path}: the bytes are the deleted segment's`);
    t.equal(await writerDone, first.bytes + 4);
    server.close();
    await known.log.close();
  }
});
