// Helpers for transfer tests: a log of known bytes, a server that streams it to every connection
// as length-prefixed frames through a ResponseWriter, and consumers that read, parse and checksum
// what arrives. Real sockets on 127.0.0.1, port 0.

import { once } from 'node:events';
import { readdirSync } from 'node:fs';
import { connect, createServer, type Server, type Socket } from 'node:net';
import type { Clock } from '../../src/clock.js';
import { crc32c } from '../../src/native.js';
import { PartitionLog, type LogOptions } from '../../src/storage/partition-log.js';
import type { ResponseWriter } from '../../src/transfer/response-writer.js';
import { batchOf } from './tmp.js';

export interface KnownLog {
  log: PartitionLog;
  bytes: number;
  crc: number;
}

/** A log of at least `totalBytes` in batches of 200 records, across small segments. */
export async function knownLog(dir: string, totalBytes: number, options: LogOptions = {}, clock?: Clock): Promise<KnownLog> {
  const log = await PartitionLog.open(dir, { segmentBytes: 1024 * 1024, ...options }, clock);
  let bytes = 0;
  for (let i = 0; bytes < totalBytes; i++) {
    const batch = batchOf(i, 200);
    log.append(batch);
    bytes += batch.length;
  }
  const whole = log.read(0n, Number.MAX_SAFE_INTEGER).data;
  if (whole.length !== bytes) throw new Error(`log holds ${whole.length} bytes, appended ${bytes}`);
  return { log, bytes, crc: crc32c(whole) };
}

export function frameHeader(payloadBytes: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(payloadBytes);
  return b;
}

/** Streams the whole log from offset 0 to `writer` as frames of at most `sliceBytes`, then ends. */
export async function serveLog(socket: Socket, writer: ResponseWriter, log: PartitionLog, sliceBytes: number): Promise<number> {
  let offset = 0n;
  const sends: Array<Promise<number>> = [];
  while (offset < log.highWatermark) {
    const slice = log.slice(offset, sliceBytes);
    sends.push(writer.send([frameHeader(slice.bytes), slice]));
    offset = slice.nextOffset;
  }
  const sent = (await Promise.all(sends)).reduce((a, b) => a + b, 0);
  socket.end();
  return sent;
}

export async function listen(onSocket: (socket: Socket) => void): Promise<{ server: Server; port: number }> {
  const server = createServer((socket) => {
    // A peer that resets shows up as the writer's failure; the socket's own 'error' adds nothing.
    socket.on('error', () => undefined);
    onSocket(socket);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('no port');
  return { server, port: address.port };
}

export interface Consumed {
  bytes: number;
  payloadBytes: number;
  frames: number;
  crc: number;
}

/** A consumer: connects, reads to the end, parses frames and checksums their payloads as they come. */
export class Consumer {
  readonly socket: Socket;
  received = 0;
  readonly done: Promise<Consumed>;

  constructor(port: number) {
    this.socket = connect(port, '127.0.0.1');
    let header = Buffer.alloc(0);
    let left = 0;
    const out: Consumed = { bytes: 0, payloadBytes: 0, frames: 0, crc: 0 };
    this.socket.on('data', (chunk: Buffer) => {
      this.received += chunk.length;
      out.bytes += chunk.length;
      let at = 0;
      while (at < chunk.length) {
        if (left === 0) {
          const take = Math.min(4 - header.length, chunk.length - at);
          header = Buffer.concat([header, chunk.subarray(at, at + take)]);
          at += take;
          if (header.length === 4) {
            left = header.readUInt32BE(0);
            header = Buffer.alloc(0);
            out.frames += 1;
          }
        } else {
          const take = Math.min(left, chunk.length - at);
          out.crc = crc32c(chunk.subarray(at, at + take), out.crc);
          out.payloadBytes += take;
          left -= take;
          at += take;
        }
      }
    });
    this.done = new Promise((resolve, reject) => {
      this.socket.on('error', reject);
      this.socket.on('end', () => {
        if (left !== 0 || header.length !== 0) reject(new Error('stream ended inside a frame'));
        else resolve(out);
      });
    });
  }
}

export function openFdCount(): number {
  return readdirSync('/proc/self/fd').length;
}

/**
 * The open fd count once it has stopped changing: sockets finish closing, and a garbage collection
 * drops unreferenced slices, which hold their segment files open (tap runs node with --expose-gc).
 */
export async function settledFdCount(): Promise<number> {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (!gc) throw new Error('run with --expose-gc');
  gc();
  let last = openFdCount();
  for (let stable = 0; stable < 5; ) {
    await new Promise((r) => setTimeout(r, 40));
    gc();
    const now = openFdCount();
    stable = now === last ? stable + 1 : 0;
    last = now;
  }
  return last;
}

export async function until(what: string, check: () => boolean, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}
