// Zigzag variable-length integers as Kafka's record format uses them (protobuf's encoding): the
// value is zigzag-mapped to unsigned, then written 7 bits at a time, least significant group
// first, with the high bit set on every byte but the last. No I/O.
//
// Values are JS numbers with |value| < 2^52 (so the zigzagged form stays a safe integer):
// lengths, counts and timestamp deltas all fit. Anything wider is rejected rather than rounded.

import { SluiceError } from '../errors.js';

/** Bytes `writeVarint` will use for `value`. */
export function varintSize(value: number): number {
  let z = zigzag(value);
  let size = 1;
  while (z >= 128) {
    z = Math.floor(z / 128);
    size++;
  }
  return size;
}

/** Writes `value` at `at`; returns the position after it. */
export function writeVarint(buf: Buffer, at: number, value: number): number {
  let z = zigzag(value);
  while (z >= 128) {
    buf[at++] = (z % 128) | 0x80;
    z = Math.floor(z / 128);
  }
  buf[at++] = z;
  return at;
}

/** Reads a varint at `at`: [value, position after it]. */
export function readVarint(buf: Uint8Array, at: number): [number, number] {
  let z = 0;
  let scale = 1;
  for (let i = 0; i < 10; i++) {
    const byte = buf[at + i];
    if (byte === undefined) throw new SluiceError('CORRUPT_MESSAGE', `varint runs past the end at ${at}`);
    z += (byte & 0x7f) * scale;
    if (byte < 0x80) {
      if (!Number.isSafeInteger(z)) throw new SluiceError('CORRUPT_MESSAGE', `varint at ${at} exceeds 2^53`);
      return [unzigzag(z), at + i + 1];
    }
    scale *= 128;
  }
  throw new SluiceError('CORRUPT_MESSAGE', `varint at ${at} is longer than 10 bytes`);
}

function zigzag(value: number): number {
  const z = value >= 0 ? value * 2 : -value * 2 - 1;
  if (!Number.isInteger(value) || !Number.isSafeInteger(z)) throw new RangeError(`varint value ${value} is outside ±2^52`);
  return z;
}

function unzigzag(z: number): number {
  return z % 2 === 0 ? z / 2 : -(z + 1) / 2;
}
