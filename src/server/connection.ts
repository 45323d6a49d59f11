// One client connection: frames in, handlers run, responses out in request order.
//
// Requests are dispatched as their frames complete (so a produce pipelined behind a parked fetch
// still appends, and can wake it); responses are handed to the ResponseWriter strictly in request
// order, which keeps them in order on the wire whatever path writes them. At most
// `maxInFlightRequests` requests may wait for their response; past that the socket stops being read
// (TCP backpressure), so a client that pipelines without reading cannot grow the broker's memory.
//
// Idle connections: one that has sent nothing for `maxIdleMs` and awaits no response (a parked
// fetch is a response awaited) is closed, as Kafka's connections.max.idle.ms; this also ends
// clients that send part of a frame and fall silent, whose partial frame is all they hold.
//
// Bad input: a frame over `maxFrameBytes` is answered MESSAGE_TOO_LARGE without being buffered; a
// request with bad content is answered with its error; framing or MessagePack that cannot be parsed
// closes the connection (the stream cannot be trusted past it) with a logged reason.

import type { Socket } from 'node:net';
import type { Logger } from 'pino';
import { isErrorCode, SluiceError } from '../errors.js';
import { ANONYMOUS } from '../auth/access.js';
import type { HandlerContext, HandlerResult, Request } from '../handlers/context.js';
import { HANDLERS } from '../handlers/index.js';
import { decodeRequestMeta, encodeResponse, type RequestHeader } from '../protocol/codec.js';
import { FrameDecoder, FramingError, type FrameEvent } from '../protocol/frame.js';
import { API_VERSIONS, ApiKey, apiByKey, errorBody, type ErrorResponse } from '../protocol/messages.js';

const BEFORE_AUTHENTICATION: ReadonlySet<number> = new Set([ApiKey.ApiVersions, ApiKey.Authenticate]);
import type { ResponseWriter } from '../transfer/response-writer.js';
import type { BrokerMetrics } from './metrics.js';

export interface ConnectionOptions {
  maxFrameBytes: number;
  maxInFlightRequests: number;
  maxIdleMs: number;
}

export type ConnectionServices = Omit<HandlerContext, 'signal' | 'logger' | 'clientHost' | 'session'> & { logger: Logger; metrics: BrokerMetrics };

export class Connection {
  readonly #socket: Socket;
  readonly #writer: ResponseWriter;
  readonly #services: ConnectionServices;
  readonly #ctx: HandlerContext;
  readonly #logger: Logger;
  readonly #decoder: FrameDecoder;
  readonly #maxInFlight: number;
  readonly #abort = new AbortController();
  /** Responses are handed to the writer along this chain, in request order. */
  #tail: Promise<void> = Promise.resolve();
  #inFlight = 0;
  #draining = false;
  #idle: (() => void) | undefined;

  constructor(socket: Socket, writer: ResponseWriter, services: ConnectionServices, options: ConnectionOptions) {
    this.#socket = socket;
    this.#writer = writer;
    this.#services = services;
    this.#logger = services.logger.child({ remote: `${socket.remoteAddress}:${socket.remotePort}` });
    // With authentication on, a connection is nobody until it authenticates.
    const session = { principal: services.access ? null : ANONYMOUS };
    this.#ctx = { ...services, logger: this.#logger, clientHost: socket.remoteAddress ?? '', signal: this.#abort.signal, session };
    this.#decoder = new FrameDecoder(options.maxFrameBytes);
    this.#maxInFlight = options.maxInFlightRequests;
    services.metrics.connectionOpened();
    this.#logger.debug('connection open');
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => this.#onData(chunk));
    socket.on('error', (err) => this.#logger.debug({ err: err.message }, 'connection error'));
    // Node's socket timeout counts reads and writes; a timeout while a response is owed re-arms.
    socket.setTimeout(options.maxIdleMs);
    socket.on('timeout', () => {
      if (this.#inFlight > 0) {
        socket.setTimeout(options.maxIdleMs);
        return;
      }
      this.#logger.info({ idleMs: options.maxIdleMs, partialFrameBytes: this.#decoder.bufferedBytes }, 'closing idle connection');
      services.metrics.closedIdle();
      socket.destroy();
    });
    socket.on('close', () => {
      this.#abort.abort();
      services.metrics.connectionClosed();
      this.#logger.debug({ inFlight: this.#inFlight }, 'connection closed');
      this.#idle?.();
    });
  }

  get closed(): boolean {
    return this.#socket.destroyed;
  }

  /** Stops reading, waits for every response already owed to be written, then ends the connection. */
  async drain(): Promise<void> {
    this.#draining = true;
    this.#socket.pause();
    if (this.#inFlight > 0 && !this.#socket.destroyed) await new Promise<void>((resolve) => (this.#idle = resolve));
    this.#socket.end();
  }

  destroy(): void {
    this.#socket.destroy();
  }

  #onData(chunk: Buffer): void {
    if (this.#draining) return;
    let events: FrameEvent[];
    try {
      events = this.#decoder.push(chunk);
    } catch (err) {
      this.#closeForProtocolError('framing', (err as Error).message);
      return;
    }
    for (const event of events) {
      if (this.#socket.destroyed) return;
      this.#dispatch(event);
    }
  }

  #dispatch(event: FrameEvent): void {
    const startedNs = process.hrtime.bigint();
    let header: RequestHeader;
    let body: unknown;
    try {
      ({ header, body } = decodeRequestMeta(event.meta));
    } catch (err) {
      if (!(err instanceof FramingError)) throw err;
      this.#closeForProtocolError('meta', err.message);
      return;
    }
    const api = apiByKey(header.apiKey);
    const apiName = api?.name ?? `unknown(${header.apiKey})`;
    let result: Promise<HandlerResult>;
    if (event.kind === 'oversize') {
      result = Promise.resolve(
        failure(new SluiceError('MESSAGE_TOO_LARGE', `the request is ${event.frameBytes} bytes, over the broker's limit of ${this.#decoder.maxFrameBytes} (maxFrameBytes); nothing was read or written`)),
      );
    } else if (!api) {
      result = Promise.resolve(unsupported(`unknown API key ${header.apiKey}`));
    } else if (header.apiVersion < api.minVersion || header.apiVersion > api.maxVersion) {
      result = Promise.resolve(unsupported(`${api.name} v${header.apiVersion} is not supported (versions ${api.minVersion}-${api.maxVersion})`));
    } else if (this.#ctx.session.principal === null && !BEFORE_AUTHENTICATION.has(header.apiKey)) {
      result = Promise.resolve(failure(new SluiceError('ILLEGAL_SASL_STATE', `authenticate before ${api.name} (only ApiVersions and Authenticate are allowed before)`)));
    } else {
      result = this.#run({ header, body, data: event.data });
    }
    this.#respond(header, apiName, startedNs, result);
  }

  /** Runs the handler now (side effects in arrival order); errors become error responses. */
  #run(request: Request): Promise<HandlerResult> {
    const handler = HANDLERS.get(request.header.apiKey)!;
    try {
      return Promise.resolve(handler(this.#ctx, request)).catch((err: unknown) => this.#failure(err, request.header));
    } catch (err) {
      return Promise.resolve(this.#failure(err, request.header));
    }
  }

  #failure(err: unknown, header: RequestHeader): HandlerResult {
    if (err instanceof SluiceError) return failure(err);
    this.#logger.error({ err, apiKey: header.apiKey, correlationId: header.correlationId }, 'handler failed unexpectedly');
    return failure(new SluiceError('UNKNOWN_SERVER_ERROR', err instanceof Error ? err.message : String(err)));
  }

  #respond(header: RequestHeader, apiName: string, startedNs: bigint, result: Promise<HandlerResult>): void {
    this.#inFlight += 1;
    if (this.#inFlight >= this.#maxInFlight) this.#socket.pause();
    const done = (outcome: string) => {
      this.#services.metrics.request(apiName, outcome, Number(process.hrtime.bigint() - startedNs) / 1e9);
      this.#inFlight -= 1;
      if (this.#inFlight === 0) this.#idle?.();
      if (!this.#draining && this.#inFlight < this.#maxInFlight && this.#socket.isPaused()) this.#socket.resume();
    };
    this.#tail = this.#tail
      .then(() => result)
      .then((r) => {
        if ('noResponse' in r) {
          done('ok');
          if (r.closeReason) {
            this.#logger.warn({ reason: r.closeReason }, 'closing connection');
            this.#socket.destroy();
          }
          return;
        }
        const slices = r.data ?? [];
        const dataBytes = slices.reduce((n, s) => n + s.bytes, 0);
        const head = encodeResponse(header.correlationId, r.body, dataBytes);
        const outcome = errorCodeOf(r.body) ?? 'ok';
        // Not awaited: the writer keeps order; the chain only has to hand responses over in order.
        this.#writer.send(slices.length === 0 ? [head] : [head, ...slices]).then(
          () => done(outcome),
          () => done('NETWORK_EXCEPTION'),
        );
      });
  }

  #closeForProtocolError(reason: string, detail: string): void {
    this.#logger.warn({ reason, detail }, 'closing connection: the stream cannot be parsed');
    this.#services.metrics.closedForProtocolError(reason);
    this.#socket.destroy();
  }
}

function failure(err: SluiceError): HandlerResult {
  const body: ErrorResponse = { error: errorBody(err) };
  return { body };
}

function unsupported(message: string): HandlerResult {
  return { body: { error: errorBody(new SluiceError('UNSUPPORTED_VERSION', message)), apis: API_VERSIONS } };
}

function errorCodeOf(body: unknown): string | undefined {
  const code = (body as Partial<ErrorResponse> | null)?.error?.code;
  return code !== undefined && isErrorCode(code) ? code : undefined;
}
