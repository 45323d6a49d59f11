// The transfer engine as the broker sees it: one native engine (sender threads, see
// crates/transfer) plus the pure-Node fetch path, behind one API. It hands out a ResponseWriter per
// socket, turns native completions into settled promises, and merges the counters of all paths.

import type { Socket } from 'node:net';
import { isErrorCode, SluiceError } from '../errors.js';
import { native, nativeAsync, nativeCall, type NativeSlice, type NativeTransferEngine, type NativeTransferJob } from '../native.js';
import type { TransferCounters as NativeCounters, TransferOptions as NativeOptions } from '../native.js';
import { FETCH_PATHS, isFetchPath, type FetchPath } from './fetch-paths.js';
import type { NodePathCounters } from './node-path.js';
import { ResponseWriter } from './response-writer.js';

export { FETCH_PATHS, isFetchPath, type FetchPath };

export interface TransferEngineOptions extends NativeOptions {
  /** The path writers use unless told otherwise (default `sendfile`). */
  fetchPath?: FetchPath;
  /** Bytes per `fs.read` on the `node` path (default 1 MiB). */
  nodeChunkBytes?: number;
}

export interface TransferCounters extends NativeCounters, NodePathCounters {}

interface Pending {
  resolve(bytes: number): void;
  reject(err: Error): void;
}

export class TransferEngine {
  readonly fetchPath: FetchPath;
  readonly nodeChunkBytes: number;
  readonly #native: NativeTransferEngine;
  readonly #pending = new Map<number, Pending>();
  readonly #node: NodePathCounters = { nodeBytes: 0, nodeReads: 0 };
  #closed: Promise<void> | undefined;

  constructor(options: TransferEngineOptions = {}) {
    const { fetchPath = 'sendfile', nodeChunkBytes = 1024 * 1024, ...nativeOptions } = options;
    if (!isFetchPath(fetchPath)) {
      throw new SluiceError('INVALID_CONFIG', `fetchPath must be one of ${FETCH_PATHS.join(', ')}, got ${String(fetchPath)}`);
    }
    if (!Number.isSafeInteger(nodeChunkBytes) || nodeChunkBytes < 1) {
      throw new SluiceError('INVALID_CONFIG', `nodeChunkBytes must be a positive integer, got ${nodeChunkBytes}`);
    }
    this.fetchPath = fetchPath;
    this.nodeChunkBytes = nodeChunkBytes;
    this.#native = nativeCall(() => new native.NativeTransferEngine(nativeOptions, (done) => this.#onComplete(done)));
  }

  /** The ordered writer for `socket`. Every response on that socket must go through it. */
  writer(socket: Socket, fetchPath: FetchPath = this.fetchPath): ResponseWriter {
    return new ResponseWriter(this, socket, fetchPath);
  }

  /** Counters of every path: bytes per path, calls, jobs, waits. Cheap; safe to poll. */
  counters(): TransferCounters {
    return { ...this.#native.counters(), ...this.#node };
  }

  /** Cancels every native job (their promises reject with TRANSFER_CANCELLED) and stops the threads. */
  close(): Promise<void> {
    this.#closed ??= nativeAsync(this.#native.close());
    return this.#closed;
  }

  /** @internal Registers a socket fd with the native engine; undefined when it has no fd. */
  register(socket: Socket): number | undefined {
    const fd = (socket as unknown as { _handle?: { fd?: number } })._handle?.fd;
    if (typeof fd !== 'number' || fd < 0) return undefined;
    return nativeCall(() => this.#native.register(fd));
  }

  /** @internal */
  unregister(conn: number): void {
    this.#native.unregister(conn);
  }

  /** @internal Queues a native job; resolves with the bytes written. */
  submit(conn: number, path: Exclude<FetchPath, 'node'>, job: NativeTransferJob): Promise<number> {
    const id = nativeCall(() => this.#native.submit(conn, path, job));
    return new Promise((resolve, reject) => this.#pending.set(id, { resolve, reject }));
  }

  /** @internal Queues `head`, the slice's file ranges and `tail` as one native job (one napi call); resolves with the bytes written. */
  submitSlice(conn: number, path: Exclude<FetchPath, 'node'>, head: Uint8Array, slice: NativeSlice, tail: Uint8Array): Promise<number> {
    const id = nativeCall(() => this.#native.submitSlice(conn, path, head, slice, tail));
    return new Promise((resolve, reject) => this.#pending.set(id, { resolve, reject }));
  }

  /** @internal */
  get nodeCounters(): NodePathCounters {
    return this.#node;
  }

  #onComplete(done: Array<{ jobId: number; bytesSent: number; code?: string | null; message?: string | null }>): void {
    for (const c of done) {
      const p = this.#pending.get(c.jobId);
      if (!p) continue;
      this.#pending.delete(c.jobId);
      if (c.code == null) p.resolve(c.bytesSent);
      else {
        const code = isErrorCode(c.code) ? c.code : 'UNKNOWN_SERVER_ERROR';
        p.reject(new SluiceError(code, `${c.message ?? c.code} (after ${c.bytesSent} bytes)`));
      }
    }
  }
}
