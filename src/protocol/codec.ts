// The meta part of Sluice frames, MessagePack (msgpackr in its standard mode: plain maps, no record
// extension, so any MessagePack library can read and write it). No I/O.
//
//   request meta:  [apiKey, apiVersion, correlationId, clientId, body]
//   response meta: [correlationId, body]
//   push meta:     [nil, body]   (unsolicited: a push subscription's data, see messages.ts)
//
// A meta that is not MessagePack, or a request whose first four fields are not what they must be,
// is a FramingError: the broker cannot even say whom to answer, so it closes the connection. The
// body's content is checked by each API's decoder (messages.ts); errors there are answered.

import { Packr } from 'msgpackr';
import { FramingError, framePrefix } from './frame.js';
import type { RequestHeader } from '../vocabulary.js';

/** int64 arrives as bigint; maps decode to plain objects. */
export const packr = new Packr({ useRecords: false, variableMapSize: true, int64AsType: 'bigint' });

export type { RequestHeader };

export interface DecodedRequest {
  header: RequestHeader;
  body: unknown;
}

export interface DecodedResponse {
  correlationId: number;
  body: unknown;
}

/** Prefix + meta of a request frame whose data (record batches) of `dataBytes` follows. */
export function encodeRequest(header: RequestHeader, body: unknown, dataBytes = 0): Buffer {
  return withPrefix(packr.pack([header.apiKey, header.apiVersion, header.correlationId, header.clientId, body]), dataBytes);
}

/** Prefix + meta of a response frame whose data of `dataBytes` follows. */
export function encodeResponse(correlationId: number, body: unknown, dataBytes = 0): Buffer {
  return withPrefix(packr.pack([correlationId, body]), dataBytes);
}

/** A response body packed once, to answer several requests with it (only the correlation id differs). */
export class PackedBody {
  readonly packed: Buffer;

  constructor(body: unknown) {
    this.packed = packr.pack(body);
  }
}

/** The same bytes as `encodeResponse(correlationId, body, dataBytes)` for the body `packed` holds, without packing it again. */
export function encodeResponsePacked(correlationId: number, body: PackedBody, dataBytes = 0): Buffer {
  const id = packr.pack(correlationId);
  const meta = 1 + id.length + body.packed.length;
  const out = Buffer.allocUnsafe(8 + meta);
  framePrefix(meta, dataBytes).copy(out, 0);
  out[8] = 0x92; // a MessagePack array of two: [correlationId, body]
  id.copy(out, 9);
  body.packed.copy(out, 9 + id.length);
  return out;
}

/** Prefix + meta of a push frame (a subscription's data, unasked for) whose data of `dataBytes` follows. */
export function encodePush(body: unknown, dataBytes = 0): Buffer {
  return withPrefix(packr.pack([null, body]), dataBytes);
}

// A data push's meta, [nil, { subscriptionId, highWatermark, logStartOffset, nextOffset, bytes }],
// written field by field into a fixed layout (one per push per subscriber: the generic packer is
// measurably dearer). Integers use one width each (uint32, int64), which any MessagePack reader takes.
const PUSH_KEYS = ['subscriptionId', 'highWatermark', 'logStartOffset', 'nextOffset', 'bytes'] as const;
const PUSH_LAYOUT = (() => {
  const parts: Buffer[] = [Buffer.from([0x92, 0xc0, 0x80 | PUSH_KEYS.length])];
  const at: number[] = [];
  let length = 3;
  for (const key of PUSH_KEYS) {
    const name = Buffer.from(key, 'latin1');
    parts.push(Buffer.from([0xa0 | name.length]), name);
    length += 1 + name.length;
    const wide = key !== 'subscriptionId' && key !== 'bytes';
    parts.push(Buffer.from([wide ? 0xd3 : 0xce]), Buffer.alloc(wide ? 8 : 4));
    at.push(length + 1);
    length += wide ? 9 : 5;
  }
  return { template: Buffer.concat(parts), at };
})();

/** Prefix + meta of a data push; the same meaning as `encodePush(body, bytes)`, faster. */
export function encodePushHead(subscriptionId: number, highWatermark: bigint, logStartOffset: bigint, nextOffset: bigint, bytes: number): Buffer {
  const { template, at } = PUSH_LAYOUT;
  const out = Buffer.allocUnsafe(8 + template.length);
  out.writeUInt32BE(4 + template.length + bytes, 0);
  out.writeUInt32BE(template.length, 4);
  template.copy(out, 8);
  out.writeUInt32BE(subscriptionId, 8 + at[0]!);
  out.writeBigInt64BE(highWatermark, 8 + at[1]!);
  out.writeBigInt64BE(logStartOffset, 8 + at[2]!);
  out.writeBigInt64BE(nextOffset, 8 + at[3]!);
  out.writeUInt32BE(bytes, 8 + at[4]!);
  return out;
}

function withPrefix(meta: Buffer, dataBytes: number): Buffer {
  const out = Buffer.allocUnsafe(8 + meta.length);
  framePrefix(meta.length, dataBytes).copy(out, 0);
  meta.copy(out, 8);
  return out;
}

export function decodeRequestMeta(meta: Buffer): DecodedRequest {
  const value = unpack(meta);
  if (!Array.isArray(value) || value.length !== 5) throw new FramingError('request meta is not [apiKey, apiVersion, correlationId, clientId, body]');
  const [apiKey, apiVersion, correlationId, clientId, body] = value as unknown[];
  if (!isInt(apiKey, 0, 0x7fff) || !isInt(apiVersion, 0, 0x7fff)) throw new FramingError('apiKey and apiVersion must be integers in [0, 32767]');
  if (!isInt(correlationId, -0x8000_0000, 0x7fff_ffff)) throw new FramingError('correlationId must be an int32');
  if (clientId !== null && typeof clientId !== 'string') throw new FramingError('clientId must be a string or nil');
  return { header: { apiKey, apiVersion, correlationId, clientId }, body };
}

export function decodeResponseMeta(meta: Buffer): DecodedResponse {
  const decoded = decodeBrokerMeta(meta);
  if (decoded.kind === 'push') throw new FramingError('a push frame where a response was expected');
  return decoded;
}

/** What a broker sends: a response (to a request) or a push (to a subscription). */
export type BrokerFrameMeta = ({ kind: 'response' } & DecodedResponse) | { kind: 'push'; body: unknown };

export function decodeBrokerMeta(meta: Buffer): BrokerFrameMeta {
  const value = unpack(meta);
  if (!Array.isArray(value) || value.length !== 2) throw new FramingError('response meta is not [correlationId, body]');
  if (value[0] === null) return { kind: 'push', body: value[1] };
  if (!isInt(value[0], -0x8000_0000, 0x7fff_ffff)) throw new FramingError('response meta is not [correlationId, body]');
  return { kind: 'response', correlationId: value[0], body: value[1] };
}

function unpack(meta: Buffer): unknown {
  try {
    return packr.unpack(meta);
  } catch (err) {
    throw new FramingError(`meta is not valid MessagePack: ${(err as Error).message}`);
  }
}

function isInt(v: unknown, min: number, max: number): v is number {
  return typeof v === 'number' && Number.isInteger(v) && v >= min && v <= max;
}
