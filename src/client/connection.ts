// One TCP connection to a Sluice broker, speaking the frame protocol: requests go out with rising
// correlation ids and may be pipelined; responses arrive in request order and are matched to their
// requests (a mismatch means the stream is broken, and the connection fails). Requests that get no
// response (produce with acks=0) use `send`. Push frames (a subscription's data, unasked for) go to
// the subscription's listener, installed as its Subscribe response is read so that no push that
// follows can miss it. A request unanswered for `requestTimeoutMs` (beyond what it may wait at the
// broker: a long poll's maxWaitMs, a join's timeouts, an acks=all produce's replication) fails the connection with
// REQUEST_TIMED_OUT, as Kafka's clients do (request.timeout.ms): responses come in order, so
// nothing behind it can arrive either, and a broker cut off by the network (no reset, no close)
// would otherwise hold its callers until TCP gives up, minutes later. The typed producer,
// consumer, admin and subscription build on this.

import { connect, type Socket } from 'node:net';
import { SluiceError, isErrorCode } from '../errors.js';
import { decodeBrokerMeta, encodeRequest } from '../protocol/codec.js';
import { FrameDecoder, FramingError } from '../protocol/frame.js';
import { ApiKey, type ErrorResponse } from '../protocol/messages.js';

export interface ConnectionOptions {
  host: string;
  port: number;
  clientId?: string;
  connectTimeoutMs?: number;
  /** A request's answer may take this long beyond what it asks the broker to wait (default 30 s; 0: forever). */
  requestTimeoutMs?: number;
}

export const DEFAULT_REQUEST_TIMEOUT_MS = 30_000;
/** How long a broker holds an acks=all produce for its replicas by default (its --replication-timeout-ms). */
const REPLICATION_WAIT_MS = 30_000;

export interface Response {
  body: unknown;
  /** Raw bytes after the meta (record batches for fetch). */
  data: Buffer;
}

interface Waiting {
  correlationId: number;
  apiKey: number;
  /** performance.now() past which the connection is given up. */
  deadlineMs: number;
  resolve(response: Response): void;
  reject(err: Error): void;
  /** Runs as the response is read, before any frame after it. */
  onResponse?: (response: Response) => void;
}

/** Where one subscription's pushes go. */
export interface PushListener {
  push(body: unknown, data: Buffer): void;
  /** The connection failed: no more pushes will come. */
  fail(err: Error): void;
}

export class Connection {
  readonly clientId: string | null;
  readonly #socket: Socket;
  readonly #decoder = new FrameDecoder(0xffff_ffff);
  readonly #waiting: Waiting[] = [];
  readonly #listeners = new Map<number, PushListener>();
  #nextCorrelationId = 1;
  #failure: Error | undefined;
  readonly #requestTimeoutMs: number;
  /** Runs while requests wait: fails the connection once the oldest unanswered one is past its deadline. */
  #watchdog: NodeJS.Timeout | undefined;

  private constructor(socket: Socket, clientId: string | null, requestTimeoutMs: number) {
    this.#socket = socket;
    this.clientId = clientId;
    this.#requestTimeoutMs = requestTimeoutMs;
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => this.#onData(chunk));
    socket.on('error', (err) => this.#fail(new SluiceError('NETWORK_EXCEPTION', err.message, { cause: err })));
    socket.on('close', () => this.#fail(new SluiceError('NETWORK_EXCEPTION', 'the broker closed the connection')));
  }

  static connect(options: ConnectionOptions): Promise<Connection> {
    return new Promise((resolve, reject) => {
      const socket = connect({ host: options.host, port: options.port });
      const timer = setTimeout(() => {
        socket.destroy();
        reject(new SluiceError('NETWORK_EXCEPTION', `connecting to ${options.host}:${options.port} timed out`));
      }, options.connectTimeoutMs ?? 10_000);
      socket.once('connect', () => {
        clearTimeout(timer);
        socket.removeAllListeners('error');
        resolve(new Connection(socket, options.clientId ?? null, options.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS));
      });
      socket.once('error', (err) => {
        clearTimeout(timer);
        reject(new SluiceError('NETWORK_EXCEPTION', `cannot connect to ${options.host}:${options.port}: ${err.message}`, { cause: err }));
      });
    });
  }

  get closed(): boolean {
    return this.#failure !== undefined;
  }

  /** Sends a request and resolves with its response (whose body may be an error response). */
  request(apiKey: number, apiVersion: number, body: unknown, data: readonly Uint8Array[] = []): Promise<Response> {
    return new Promise((resolve, reject) => {
      if (this.#failure) return reject(this.#failure);
      const correlationId = this.#write(apiKey, apiVersion, body, data);
      this.#wait({ correlationId, apiKey, deadlineMs: this.#deadline(body), resolve, reject });
    });
  }

  /**
   * Sends a Subscribe request; when its response names a subscription id, `listener` gets that
   * subscription's pushes from the next frame on, until `stopListening`.
   */
  subscribe(apiKey: number, apiVersion: number, body: unknown, listener: PushListener): Promise<Response> {
    return new Promise((resolve, reject) => {
      if (this.#failure) return reject(this.#failure);
      const correlationId = this.#write(apiKey, apiVersion, body, []);
      const onResponse = (r: Response) => {
        const id = (r.body as { subscriptionId?: unknown } | null)?.subscriptionId;
        if (typeof id === 'number') this.#listeners.set(id, listener);
      };
      this.#wait({ correlationId, apiKey, deadlineMs: this.#deadline(body), resolve, reject, onResponse });
    });
  }

  /** Pushes for `subscriptionId` are dropped from now on (they may still cross an Unsubscribe). */
  stopListening(subscriptionId: number): void {
    this.#listeners.delete(subscriptionId);
  }

  /** Sends a request that gets no response (produce with acks=0). */
  send(apiKey: number, apiVersion: number, body: unknown, data: readonly Uint8Array[] = []): void {
    if (this.#failure) throw this.#failure;
    this.#write(apiKey, apiVersion, body, data);
  }

  /** Closes the connection; requests still waiting fail with NETWORK_EXCEPTION. */
  close(): Promise<void> {
    return new Promise((resolve) => {
      if (this.#socket.destroyed) return resolve();
      this.#socket.once('close', () => resolve());
      this.#socket.end();
    });
  }

  /**
   * When a request sent now is given up: the timeout, after what the request may wait at the broker
   * by design: a long poll its maxWaitMs; a join the longer of its rebalance and session timeouts;
   * an acks=all produce the broker's replication wait (its --replication-timeout-ms, 30 s by
   * default), which would otherwise race the client's own timeout.
   */
  #deadline(body: unknown): number {
    if (this.#requestTimeoutMs <= 0) return Number.POSITIVE_INFINITY;
    const b = body as { maxWaitMs?: unknown; rebalanceTimeoutMs?: unknown; sessionTimeoutMs?: unknown; acks?: unknown } | null;
    const waits = [b?.maxWaitMs, b?.rebalanceTimeoutMs, b?.sessionTimeoutMs, b?.acks === -1 ? REPLICATION_WAIT_MS : 0];
    return performance.now() + Math.max(0, ...waits.map((v) => (typeof v === 'number' && Number.isFinite(v) ? v : 0))) + this.#requestTimeoutMs;
  }

  #wait(w: Waiting): void {
    this.#waiting.push(w);
    if (this.#watchdog || !Number.isFinite(w.deadlineMs)) return;
    this.#watchdog = setInterval(() => this.#checkDeadlines(), Math.min(1_000, Math.max(10, this.#requestTimeoutMs / 4)));
    this.#watchdog.unref();
  }

  #checkDeadlines(): void {
    if (this.#waiting.length === 0) {
      clearInterval(this.#watchdog);
      this.#watchdog = undefined;
      return;
    }
    const now = performance.now();
    const late = this.#waiting.find((w) => w.deadlineMs <= now);
    if (!late) return;
    this.#fail(new SluiceError('REQUEST_TIMED_OUT', `no answer to request ${late.correlationId} (api ${late.apiKey}) within ${this.#requestTimeoutMs} ms of its wait: the connection is closed`));
    this.#socket.destroy();
  }

  #write(apiKey: number, apiVersion: number, body: unknown, data: readonly Uint8Array[]): number {
    const correlationId = this.#nextCorrelationId;
    this.#nextCorrelationId = correlationId === 0x7fff_ffff ? 1 : correlationId + 1;
    const dataBytes = data.reduce((n, d) => n + d.length, 0);
    this.#socket.cork();
    this.#socket.write(encodeRequest({ apiKey, apiVersion, correlationId, clientId: this.clientId }, body, dataBytes));
    for (const d of data) this.#socket.write(d);
    this.#socket.uncork();
    return correlationId;
  }

  #onData(chunk: Buffer): void {
    try {
      for (const event of this.#decoder.push(chunk)) {
        if (event.kind !== 'frame') throw new FramingError('oversize response');
        const meta = decodeBrokerMeta(event.meta);
        if (meta.kind === 'push') {
          const id = (meta.body as { subscriptionId?: unknown } | null)?.subscriptionId;
          if (typeof id !== 'number') throw new FramingError('a push frame without a subscriptionId');
          this.#listeners.get(id)?.push(meta.body, event.data);
          continue;
        }
        const waiting = this.#waiting.shift();
        if (!waiting || waiting.correlationId !== meta.correlationId) {
          throw new FramingError(`response for correlation id ${meta.correlationId}, expected ${waiting?.correlationId ?? 'none'}`);
        }
        const response = { body: meta.body, data: event.data };
        waiting.onResponse?.(response);
        waiting.resolve(response);
      }
    } catch (err) {
      this.#fail(new SluiceError('NETWORK_EXCEPTION', `the broker's response cannot be parsed: ${(err as Error).message}`));
      this.#socket.destroy();
    }
  }

  #fail(err: Error): void {
    this.#failure ??= err;
    clearInterval(this.#watchdog);
    this.#watchdog = undefined;
    for (const w of this.#waiting.splice(0)) w.reject(this.#failure);
    for (const l of this.#listeners.values()) l.fail(this.#failure);
    this.#listeners.clear();
  }
}

/** The SluiceError of an error response (`{ error: { code, message } }`), or undefined. */
export function responseError(body: unknown): SluiceError | undefined {
  const error = (body as Partial<ErrorResponse> | null)?.error;
  if (!error) return undefined;
  return new SluiceError(isErrorCode(error.code) ? error.code : 'UNKNOWN_SERVER_ERROR', error.message);
}

/** Authenticates a fresh connection with `token`; closes it and throws the broker's error when refused. */
export async function authenticate(c: Connection, token: string): Promise<Connection> {
  const response = await c.request(ApiKey.Authenticate, 0, { mechanism: 'token', token });
  const err = responseError(response.body);
  if (err) {
    await c.close();
    throw err;
  }
  return c;
}
