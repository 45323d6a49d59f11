// What a handler of Sluice's protocol is: a decoded request (header, MessagePack body, raw data)
// in, a response body and the log slices that follow it out. Handlers are thin: they decode, call
// the broker API (../../../broker/) and encode.

import type { BrokerSession } from '../../../broker/session.js';
import type { RequestHeader } from '../../../protocol/codec.js';
import type { LogSlice } from '../../../broker/data.js';

export interface Request {
  header: RequestHeader;
  body: unknown;
  /** Raw bytes after the meta (record batches for produce). */
  data: Buffer;
}

export type HandlerResult =
  /** A response: its MessagePack body and the record batches that follow it; `afterResponse` runs once the response is queued on the socket (a subscription's pushes must follow it); `waitedSeconds`: how long it was parked (long poll), kept out of its processing time. */
  | { body: unknown; data?: readonly LogSlice[]; afterResponse?: () => void; waitedSeconds?: number }
  /** No response (acks=0); `closeReason` closes the connection so the client learns of a failure. */
  | { noResponse: true; closeReason?: string };

export type Handler = (ctx: BrokerSession, request: Request) => HandlerResult | Promise<HandlerResult>;
