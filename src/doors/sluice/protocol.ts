// Sluice's own protocol on a connection: its frames (protocol/frame.ts), the request meta
// (MessagePack), version and authentication checks, the handler table, and responses encoded as a
// MessagePack meta followed by the record batches' log slices.
//
// Bad input: a frame over `maxFrameBytes` is answered MESSAGE_TOO_LARGE without being buffered; a
// request with bad content is answered with its error; a meta that cannot be parsed closes the
// connection (the stream cannot be trusted past it).

import { isErrorCode, SluiceError } from '../../errors.js';
import type { BrokerSession } from '../../broker/session.js';
import type { HandlerResult, Request } from './handlers/handler.js';
import { HANDLERS } from './handlers/index.js';
import { decodeRequestMeta, encodeResponse, encodeResponsePacked, PackedBody, type RequestHeader } from '../../protocol/codec.js';
import { FrameDecoder, FramingError, type FrameEvent } from '../../protocol/frame.js';
import { API_VERSIONS, ApiKey, apiByKey, errorBody, type ErrorResponse } from '../../protocol/messages.js';
import type { Exchange, Refusal, Reply, WireProtocol } from '../door.js';

const BEFORE_AUTHENTICATION: ReadonlySet<number> = new Set([ApiKey.ApiVersions, ApiKey.Authenticate]);

export class SluiceProtocol implements WireProtocol<FrameEvent> {
  readonly #ctx: BrokerSession;
  readonly #decoder: FrameDecoder;

  constructor(ctx: BrokerSession, maxFrameBytes: number) {
    this.#ctx = ctx;
    this.#decoder = new FrameDecoder(maxFrameBytes);
  }

  get bufferedBytes(): number {
    return this.#decoder.bufferedBytes;
  }

  push(chunk: Buffer): FrameEvent[] {
    return this.#decoder.push(chunk);
  }

  dispatch(event: FrameEvent): Exchange | Refusal {
    let header: RequestHeader;
    let body: unknown;
    try {
      ({ header, body } = decodeRequestMeta(event.meta));
    } catch (err) {
      if (!(err instanceof FramingError)) throw err;
      return { close: 'meta', detail: err.message };
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
    return { apiName, reply: result.then((r) => toReply(header, r)) };
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
    this.#ctx.logger.error({ err, apiKey: header.apiKey, correlationId: header.correlationId }, 'handler failed unexpectedly');
    return failure(new SluiceError('UNKNOWN_SERVER_ERROR', err instanceof Error ? err.message : String(err)));
  }
}

function toReply(header: RequestHeader, r: HandlerResult): Reply {
  if ('noResponse' in r) return r;
  const slices = r.data ?? [];
  const dataBytes = slices.reduce((n, s) => n + s.bytes, 0);
  const head = r.body instanceof PackedBody ? encodeResponsePacked(header.correlationId, r.body, dataBytes) : encodeResponse(header.correlationId, r.body, dataBytes);
  const reply: Reply = { pieces: slices.length === 0 ? [head] : [head, ...slices], outcome: errorCodeOf(r.body) ?? 'ok' };
  if (r.afterResponse) reply.queued = r.afterResponse;
  if (r.waitedSeconds) reply.waitedSeconds = r.waitedSeconds;
  return reply;
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
