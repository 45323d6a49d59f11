// The `node` fetch path: what a broker written in pure Node does to serve a fetch. It reads each
// file range into a fresh Buffer with `fs.read` (on libuv's pool) and `socket.write`s it, waiting
// for 'drain' whenever the socket's buffer is full, so at most one chunk plus the socket's
// high-water mark is held per connection. It exists to be measured against the native paths.

import { close, read } from 'node:fs';
import type { Socket } from 'node:net';
import { promisify } from 'node:util';
import { SluiceError } from '../errors.js';
import { nativeCall } from '../native.js';
import type { ResponsePiece } from './fetch-paths.js';

const readAsync = promisify(read);
const closeAsync = promisify(close);

export interface NodePathCounters {
  nodeBytes: number;
  nodeReads: number;
}

/** Writes `pieces` to `socket` in order; resolves with the bytes written once the last is queued. */
export async function sendWithNode(
  socket: Socket,
  pieces: readonly ResponsePiece[],
  chunkBytes: number,
  counters: NodePathCounters,
): Promise<number> {
  let sent = 0;
  for (const piece of pieces) {
    if (piece instanceof Uint8Array) {
      if (piece.length > 0) await write(socket, piece);
      sent += piece.length;
      continue;
    }
    const ranges = piece.ranges;
    // Duplicates of the slice's open files: a segment deleted by retention stays readable.
    const fds = nativeCall(() => piece.handle.dupFileDescriptors());
    try {
      for (const [i, range] of ranges.entries()) {
        const fd = fds[i]!;
        for (let done = 0; done < range.bytes; ) {
          const want = Math.min(chunkBytes, range.bytes - done);
          const buf = Buffer.allocUnsafe(want);
          const { bytesRead } = await readAsync(fd, buf, 0, want, range.position + done);
          if (bytesRead === 0) {
            throw new SluiceError('KAFKA_STORAGE_ERROR', `${range.path} is shorter than the range being sent`);
          }
          counters.nodeReads += 1;
          await write(socket, bytesRead === want ? buf : buf.subarray(0, bytesRead));
          counters.nodeBytes += bytesRead;
          done += bytesRead;
          sent += bytesRead;
        }
      }
    } finally {
      await Promise.all(fds.map((fd) => closeAsync(fd).catch(() => undefined)));
    }
  }
  return sent;
}

/** `socket.write`, then wait for 'drain' if the socket's buffer is over its high-water mark. */
function write(socket: Socket, data: Uint8Array): Promise<void> {
  if (socket.destroyed) return Promise.reject(closedError());
  if (socket.write(data)) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const done = (err?: Error) => {
      socket.off('drain', onDrain);
      socket.off('close', onClose);
      if (err) reject(err);
      else resolve();
    };
    const onDrain = () => done();
    const onClose = () => done(closedError());
    socket.on('drain', onDrain);
    socket.on('close', onClose);
  });
}

export function closedError(): SluiceError {
  return new SluiceError('NETWORK_EXCEPTION', 'the connection closed before the response was written');
}
