// One connection's responses, written in the order they were sent. A response is a list of pieces:
// bytes (headers, framing) and log slices (file ranges). Responses without file ranges are written
// by Node; responses with file ranges go through the chosen fetch path. While a native job is in
// flight no JS write touches the socket, and a native job starts only after every earlier JS write
// has reached the kernel, so bytes never interleave. A failed transfer leaves the peer with a
// partial response, so it destroys the socket and fails the responses queued behind it.

import type { Socket } from 'node:net';
import { SluiceError } from '../errors.js';
import { native } from '../native.js';
import type { LogSlice } from '../storage/partition-log.js';
import type { NativeSlice, NativeTransferJob } from '../native.js';
import type { FetchPath, ResponsePiece } from './fetch-paths.js';
import { closedError, sendWithNode, type NodePathCounters } from './node-path.js';

export type { ResponsePiece };

/** What a writer needs of the transfer engine (engine.ts's TransferEngine, which makes the writers). */
export interface WriterEngine {
  register(socket: Socket): number | undefined;
  unregister(conn: number): void;
  submit(conn: number, path: Exclude<FetchPath, 'node'>, job: NativeTransferJob): Promise<number>;
  submitSlice(conn: number, path: Exclude<FetchPath, 'node'>, head: Uint8Array, slice: NativeSlice, tail: Uint8Array): Promise<number>;
  readonly nodeChunkBytes: number;
  readonly nodeCounters: NodePathCounters;
}

interface Item {
  pieces: readonly ResponsePiece[];
  resolve(bytes: number): void;
  reject(err: Error): void;
}

export class ResponseWriter {
  readonly #engine: WriterEngine;
  readonly #socket: Socket;
  #path: FetchPath;
  #conn: number | undefined;
  readonly #queue: Item[] = [];
  /** A file-range response is being written; later responses wait. */
  #busy = false;
  /** Settles when every JS write so far has been handed to the kernel. */
  #jsWritten: Promise<void> = Promise.resolve();
  #failed: Error | undefined;

  constructor(engine: WriterEngine, socket: Socket, path: FetchPath) {
    this.#engine = engine;
    this.#socket = socket;
    this.#path = path;
    socket.once('close', () => this.close());
  }

  /** The path in use (`node` when the socket exposes no fd to the native engine). */
  get fetchPath(): FetchPath {
    return this.#path;
  }

  /** Queues a response; resolves with its byte count once written (for native paths: sent to the kernel). */
  send(pieces: readonly ResponsePiece[]): Promise<number> {
    return new Promise((resolve, reject) => {
      this.#queue.push({ pieces, resolve, reject });
      this.#pump();
    });
  }

  /** Fails queued responses and cancels native jobs; called on the socket's 'close'. */
  close(): void {
    this.#fail(closedError());
    if (this.#conn !== undefined) {
      this.#engine.unregister(this.#conn);
      this.#conn = undefined;
    }
  }

  #pump(): void {
    while (!this.#busy && this.#queue.length > 0) {
      const item = this.#queue.shift()!;
      if (this.#failed) {
        item.reject(this.#failed);
      } else if (item.pieces.every((p) => p instanceof Uint8Array)) {
        this.#writeJs(item);
      } else {
        this.#busy = true;
        this.#transfer(item.pieces).then(
          (bytes) => item.resolve(bytes),
          (err: Error) => {
            item.reject(err);
            this.#fail(err);
            this.#socket.destroy();
          },
        ).finally(() => {
          this.#busy = false;
          this.#pump();
        });
      }
    }
  }

  #writeJs(item: Item): void {
    if (this.#socket.destroyed) {
      item.reject(closedError());
      return;
    }
    const pieces = item.pieces as readonly Uint8Array[];
    const bytes = pieces.reduce((n, p) => n + p.length, 0);
    this.#jsWritten = new Promise((resolve) => {
      this.#socket.cork();
      pieces.forEach((p, i) => {
        if (i < pieces.length - 1) this.#socket.write(p);
        else
          this.#socket.write(p, (err) => {
            resolve();
            if (err) item.reject(closedError());
            else item.resolve(bytes);
          });
      });
      this.#socket.uncork();
    });
  }

  async #transfer(pieces: readonly ResponsePiece[]): Promise<number> {
    const path = this.#path;
    if (path === 'node') {
      return sendWithNode(this.#socket, pieces, this.#engine.nodeChunkBytes, this.#engine.nodeCounters);
    }
    await this.#jsWritten;
    if (this.#socket.destroyed) throw closedError();
    this.#conn ??= this.#engine.register(this.#socket);
    if (this.#conn === undefined) {
      this.#path = 'node';
      return this.#transfer(pieces);
    }
    // The commonest response (one partition's records between header bytes) goes in one napi call.
    const slices = pieces.filter((p) => !(p instanceof Uint8Array));
    if (slices.length === 1) {
      const at = pieces.indexOf(slices[0]!);
      const bytes = (list: readonly ResponsePiece[]) => (list.length === 1 ? (list[0] as Uint8Array) : Buffer.concat(list as Uint8Array[]));
      return this.#engine.submitSlice(this.#conn, path, bytes(pieces.slice(0, at)), (slices[0] as LogSlice).handle, bytes(pieces.slice(at + 1)));
    }
    const job = new native.NativeTransferJob();
    for (const p of pieces) {
      if (p instanceof Uint8Array) job.addBytes(p);
      else job.addSlice(p.handle);
    }
    return this.#engine.submit(this.#conn, path, job);
  }

  #fail(err: Error): void {
    this.#failed ??= err instanceof SluiceError ? err : new SluiceError('NETWORK_EXCEPTION', err.message, { cause: err });
    for (const item of this.#queue.splice(0)) item.reject(this.#failed);
  }
}
