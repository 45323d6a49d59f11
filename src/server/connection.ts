// One client connection, whatever its protocol: frames in, requests dispatched, responses out in
// request order. The protocol (Sluice's own, or Kafka's on the Kafka listener) turns bytes into
// frames and each frame into an Exchange: a response promise, or a reason to close.
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
// Framing the protocol cannot trust closes the connection with a logged reason.

import type { Socket } from 'node:net';
import type { Logger } from 'pino';
import { ANONYMOUS } from '../auth/access.js';
import type { BrokerSession, PushChannel } from '../broker/session.js';
import type { Exchange, ProtocolFactory, WireProtocol } from '../doors/door.js';
import type { ResponseWriter } from '../transfer/response-writer.js';
import type { BrokerMetrics } from './metrics.js';

export interface ConnectionOptions {
  maxFrameBytes: number;
  maxInFlightRequests: number;
  maxIdleMs: number;
}

export type ConnectionServices = Omit<BrokerSession, 'signal' | 'logger' | 'clientHost' | 'session' | 'pushes'> & { logger: Logger; metrics: BrokerMetrics };

export class Connection {
  readonly #socket: Socket;
  readonly #writer: ResponseWriter;
  readonly #services: ConnectionServices;
  readonly #logger: Logger;
  readonly #protocol: WireProtocol<unknown>;
  readonly #maxInFlight: number;
  readonly #abort = new AbortController();
  readonly #pushes: PushChannel;
  /** Responses are handed to the writer along this chain, in request order. */
  #tail: Promise<void> = Promise.resolve();
  #inFlight = 0;
  #draining = false;
  #idle: (() => void) | undefined;

  constructor(socket: Socket, writer: ResponseWriter, services: ConnectionServices, options: ConnectionOptions, protocol: ProtocolFactory) {
    this.#socket = socket;
    this.#writer = writer;
    this.#services = services;
    this.#logger = services.logger.child({ remote: `${socket.remoteAddress}:${socket.remotePort}` });
    // With authentication on, a connection is nobody until it authenticates.
    const session = { principal: services.access ? null : ANONYMOUS };
    let lastId = 0;
    this.#pushes = { send: (pieces) => writer.send(pieces), subscriptions: new Map(), nextId: () => (lastId = lastId === 0x7fff_ffff ? 1 : lastId + 1) };
    this.#protocol = protocol({ ...services, logger: this.#logger, clientHost: socket.remoteAddress ?? '', signal: this.#abort.signal, session, pushes: this.#pushes });
    this.#maxInFlight = options.maxInFlightRequests;
    services.metrics.connectionOpened();
    this.#logger.debug('connection open');
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => this.#onData(chunk));
    socket.on('error', (err) => this.#logger.debug({ err: err.message }, 'connection error'));
    // Node's socket timeout counts reads and writes; a timeout while a response is owed (or a
    // subscription is open: the client waits for its pushes) re-arms.
    socket.setTimeout(options.maxIdleMs);
    socket.on('timeout', () => {
      if (this.#inFlight > 0 || this.#pushes.subscriptions.size > 0) {
        socket.setTimeout(options.maxIdleMs);
        return;
      }
      this.#logger.info({ idleMs: options.maxIdleMs, partialFrameBytes: this.#protocol.bufferedBytes }, 'closing idle connection');
      services.metrics.closedIdle();
      socket.destroy();
    });
    socket.on('close', () => {
      this.#abort.abort();
      for (const subscription of this.#pushes.subscriptions.values()) subscription.cancel();
      this.#pushes.subscriptions.clear();
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
    let frames: unknown[];
    try {
      frames = this.#protocol.push(chunk);
    } catch (err) {
      this.#closeForProtocolError('framing', (err as Error).message);
      return;
    }
    for (const frame of frames) {
      if (this.#socket.destroyed) return;
      const startedNs = process.hrtime.bigint();
      const exchange = this.#protocol.dispatch(frame);
      if ('close' in exchange) {
        this.#closeForProtocolError(exchange.close, exchange.detail);
        return;
      }
      this.#respond(exchange, startedNs);
    }
  }

  #respond({ apiName, reply }: Exchange, startedNs: bigint): void {
    this.#inFlight += 1;
    if (this.#inFlight >= this.#maxInFlight) this.#socket.pause();
    const done = (outcome: string, waitedSeconds = 0) => {
      this.#services.metrics.request(apiName, outcome, Number(process.hrtime.bigint() - startedNs) / 1e9, waitedSeconds);
      this.#inFlight -= 1;
      if (this.#inFlight === 0) this.#idle?.();
      if (!this.#draining && this.#inFlight < this.#maxInFlight && this.#socket.isPaused()) this.#socket.resume();
    };
    this.#tail = this.#tail
      .then(() => reply)
      .then((r) => {
        if ('noResponse' in r) {
          done('ok');
          if (r.closeReason) {
            this.#logger.warn({ reason: r.closeReason }, 'closing connection');
            this.#socket.destroy();
          }
          return;
        }
        // Not awaited: the writer keeps order; the chain only has to hand responses over in order.
        this.#writer.send(r.pieces).then(
          () => done(r.outcome, r.waitedSeconds),
          () => done('NETWORK_EXCEPTION', r.waitedSeconds),
        );
        r.queued?.();
      });
  }

  #closeForProtocolError(reason: string, detail: string): void {
    this.#logger.warn({ reason, detail }, 'closing connection: the stream cannot be parsed');
    this.#services.metrics.closedForProtocolError(reason);
    this.#socket.destroy();
  }
}
