// Typed reads of decoded MessagePack values. Each failure is an INVALID_REQUEST that names the
// field (`fetch.partitions[2].offset must be an integer`), so a client author sees what to fix.

import { SluiceError } from '../errors.js';

export type Fields = Record<string, unknown>;

const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;

export function invalid(where: string, what: string): SluiceError {
  return new SluiceError('INVALID_REQUEST', `${where} ${what}`);
}

export function map(value: unknown, where: string): Fields {
  if (typeof value !== 'object' || value === null || Array.isArray(value) || Buffer.isBuffer(value)) {
    throw invalid(where, 'must be a map');
  }
  return value as Fields;
}

/** An integer in [min, max]; `fallback` when absent or nil (required when no fallback). */
export function int(value: unknown, where: string, min: number, max: number, fallback?: number): number {
  if (value === undefined || value === null) {
    if (fallback === undefined) throw invalid(where, 'is required');
    return fallback;
  }
  const n = typeof value === 'bigint' && value >= BigInt(min) && value <= BigInt(max) ? Number(value) : value;
  if (typeof n !== 'number' || !Number.isInteger(n) || n < min || n > max) {
    throw invalid(where, `must be an integer in [${min}, ${max}]`);
  }
  return n;
}

/** A 64-bit offset or timestamp: any MessagePack integer, returned as bigint. */
export function int64(value: unknown, where: string): bigint {
  if (typeof value === 'bigint' && value >= INT64_MIN && value <= INT64_MAX) return value;
  if (typeof value === 'number' && Number.isSafeInteger(value)) return BigInt(value);
  throw invalid(where, 'must be a 64-bit integer');
}

export function string(value: unknown, where: string, maxLength = 32767): string {
  if (typeof value !== 'string') throw invalid(where, 'must be a string');
  if (value.length > maxLength) throw invalid(where, `must be at most ${maxLength} characters`);
  return value;
}

export function bool(value: unknown, where: string, fallback: boolean): boolean {
  if (value === undefined || value === null) return fallback;
  if (typeof value !== 'boolean') throw invalid(where, 'must be a boolean');
  return value;
}

/** An array of at most `maxItems`, each read by `item`. */
export function list<T>(value: unknown, where: string, maxItems: number, item: (v: unknown, where: string) => T): T[] {
  if (!Array.isArray(value)) throw invalid(where, 'must be an array');
  if (value.length > maxItems) throw invalid(where, `must have at most ${maxItems} items`);
  return value.map((v, i) => item(v, `${where}[${i}]`));
}

/** Binary (MessagePack bin); a string is taken as its UTF-8 bytes. */
export function bytes(value: unknown, where: string, maxBytes = 1024 * 1024): Buffer {
  const out = value instanceof Uint8Array ? Buffer.from(value.buffer, value.byteOffset, value.byteLength) : typeof value === 'string' ? Buffer.from(value) : undefined;
  if (!out) throw invalid(where, 'must be binary');
  if (out.length > maxBytes) throw invalid(where, `must be at most ${maxBytes} bytes`);
  return out;
}
