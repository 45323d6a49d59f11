// What a door is: a protocol on one connection (framing, codec, handlers) as the server drives it.
// The server (server/connection.ts) feeds it bytes and writes its replies in request order; the
// composition root (app/broker.ts) picks a door per listener. Doors import this contract and the
// broker API (../broker/), never the server and never each other.

import type { BrokerSession } from '../broker/session.js';
import type { ResponsePiece } from '../transfer/response-writer.js';

export type { ResponsePiece };

export type Reply =
  /** Bytes and log slices, written in order; `outcome` labels the request metric (an error code or `ok`); `queued` runs once they are queued on the socket; `waitedSeconds` of a long poll are measured apart from processing. */
  | { pieces: readonly ResponsePiece[]; outcome: string; queued?: () => void; waitedSeconds?: number }
  /** No response (acks=0); `closeReason` closes the connection so the client learns of a failure. */
  | { noResponse: true; closeReason?: string };

/** A dispatched request: the API's name (for metrics) and its reply to come. */
export interface Exchange {
  apiName: string;
  reply: Promise<Reply>;
}

/** A frame that ends the connection (the stream past it cannot be trusted, or the request is not allowed). */
export interface Refusal {
  close: string;
  detail: string;
}

export interface WireProtocol<F> {
  /** Bytes held for a frame not yet complete. */
  readonly bufferedBytes: number;
  /** Takes the next chunk; returns the frames it completed. Throws when the framing cannot be trusted. */
  push(chunk: Buffer): F[];
  /** Starts handling one frame (its side effects happen in arrival order). */
  dispatch(frame: F): Exchange | Refusal;
}

/** Builds a connection's protocol once its handler context exists. */
export type ProtocolFactory = (ctx: BrokerSession) => WireProtocol<unknown>;

