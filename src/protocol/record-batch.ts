// Kafka RecordBatch v2 (magic 2): encode records into a batch and decode batches back into
// records (compressed ones too, once native.ts has installed the addon's decompression). Used by
// the client and tests; the broker decodes records only to answer ListOffsets by time.
// No I/O; the CRC-32C is ./crc32c.ts (pure TypeScript, or the native core's hardware-accelerated one when the addon registered it).
//
// Batch header (big-endian): baseOffset i64 | batchLength i32 | partitionLeaderEpoch i32 |
// magic i8 = 2 | crc u32 (CRC-32C of everything after it) | attributes i16 | lastOffsetDelta i32 |
// baseTimestamp i64 | maxTimestamp i64 | producerId i64 | producerEpoch i16 | baseSequence i32 |
// recordsCount i32 | records. Record: length varint | attributes i8 | timestampDelta varlong |
// offsetDelta varint | keyLength varint (-1 = null) | key | valueLength varint | value |
// headerCount varint | per header: keyLength varint | key (UTF-8) | valueLength varint | value.

import { SluiceError } from '../errors.js';
import { crc32c } from './crc32c.js';
import { readVarint, varintSize, writeVarint } from './varint.js';

export const BATCH_HEADER_BYTES = 61;
export const LOG_OVERHEAD_BYTES = 12;
const CRC_AT = 17;
const ATTRIBUTES_AT = 21;
const COMPRESSION_MASK = 0x07;

export type Bytes = Buffer | string | null;

export interface RecordHeader {
  key: string;
  value: Buffer | null;
}

export interface RecordInput {
  key?: Bytes;
  value: Bytes;
  headers?: RecordHeader[] | Record<string, Bytes>;
  /** Defaults to the batch's base timestamp. */
  timestampMs?: number;
}

export interface BatchOptions {
  baseOffset?: bigint;
  /** Defaults to the smallest record timestamp, or Date.now() when none is given. */
  baseTimestampMs?: number;
  partitionLeaderEpoch?: number;
  producerId?: bigint;
  producerEpoch?: number;
  baseSequence?: number;
  /** Only bits 3-5 (timestamp type, transactional, control); compression is not encoded here. */
  attributes?: number;
}

export interface DecodedRecord {
  offset: bigint;
  timestampMs: number;
  key: Buffer | null;
  value: Buffer | null;
  headers: RecordHeader[];
}

export interface DecodedBatch {
  baseOffset: bigint;
  sizeBytes: number;
  partitionLeaderEpoch: number;
  magic: number;
  crc: number;
  attributes: number;
  lastOffsetDelta: number;
  baseTimestampMs: number;
  maxTimestampMs: number;
  producerId: bigint;
  producerEpoch: number;
  baseSequence: number;
  records: DecodedRecord[];
}

const toBuffer = (b: Bytes | undefined): Buffer | null =>
  b === null || b === undefined ? null : typeof b === 'string' ? Buffer.from(b) : b;

type EncodedHeaders = Array<{ key: Buffer; value: Buffer | null }>;

function encodeHeaders(headers: NonNullable<RecordInput['headers']>): EncodedHeaders {
  const list = Array.isArray(headers) ? headers : Object.entries(headers).map(([key, value]) => ({ key, value: toBuffer(value) }));
  return list.map((h) => ({ key: Buffer.from(h.key), value: toBuffer(h.value) }));
}

const bytesField = (b: Buffer | null): number => (b === null ? 1 : varintSize(b.length) + b.length);

/**
 * Builds one uncompressed RecordBatch v2 by appending records straight into its buffer, as
 * Kafka's producers do: a queued record is bytes, not an object that lives until its batch is
 * sent (which is what made producers' garbage collection expensive). `build()` writes the header
 * and the CRC. The base timestamp is the one given, else the first record's; records may be
 * earlier than it (the delta is a signed varint).
 */
export class RecordBatchBuilder {
  #buf: Buffer;
  #at = BATCH_HEADER_BYTES;
  #count = 0;
  #baseTimestampMs: number | undefined;
  #maxTimestampMs = -Infinity;

  /** `capacityBytes`: the buffer to start with; it grows when a record does not fit. */
  constructor(capacityBytes: number, baseTimestampMs?: number) {
    this.#buf = Buffer.allocUnsafe(Math.max(BATCH_HEADER_BYTES, capacityBytes));
    this.#baseTimestampMs = baseTimestampMs;
    if (baseTimestampMs !== undefined) this.#maxTimestampMs = baseTimestampMs;
  }

  get count(): number {
    return this.#count;
  }

  /** The batch's size if it were built now. */
  get sizeBytes(): number {
    return this.#at;
  }

  /**
   * Appends `r` unless the batch holds records already and would grow past `limitBytes` (the
   * first record always goes in, however big); returns whether it did.
   */
  tryAppend(r: RecordInput, timestampMs: number, limitBytes = Infinity): boolean {
    const base = (this.#baseTimestampMs ??= timestampMs);
    const key = toBuffer(r.key);
    const value = toBuffer(r.value);
    const headers = r.headers === undefined ? undefined : encodeHeaders(r.headers);
    const timestampDelta = timestampMs - base;
    let bodyBytes = 1 + varintSize(timestampDelta) + varintSize(this.#count) + bytesField(key) + bytesField(value) + 1;
    if (headers) {
      bodyBytes += varintSize(headers.length) - 1;
      for (const h of headers) bodyBytes += bytesField(h.key) + bytesField(h.value);
    }
    const end = this.#at + varintSize(bodyBytes) + bodyBytes;
    if (this.#count > 0 && end > limitBytes) return false;
    if (end > this.#buf.length) {
      const grown = Buffer.allocUnsafe(Math.max(end, 2 * this.#buf.length));
      this.#buf.copy(grown, 0, 0, this.#at);
      this.#buf = grown;
    }
    const buf = this.#buf;
    let at = writeVarint(buf, this.#at, bodyBytes);
    buf[at++] = 0; // record attributes: unused
    at = writeVarint(buf, at, timestampDelta);
    at = writeVarint(buf, at, this.#count);
    at = writeBytes(buf, at, key);
    at = writeBytes(buf, at, value);
    if (headers) {
      at = writeVarint(buf, at, headers.length);
      for (const h of headers) {
        at = writeBytes(buf, at, h.key);
        at = writeBytes(buf, at, h.value);
      }
    } else buf[at++] = 0; // no headers: varint 0
    this.#at = at;
    this.#count++;
    if (timestampMs > this.#maxTimestampMs) this.#maxTimestampMs = timestampMs;
    return true;
  }

  /** The finished batch (a view of the builder's buffer; append nothing after). */
  build(options: BatchOptions = {}): Buffer {
    if (this.#count === 0) throw new SluiceError('INVALID_RECORD', 'a record batch needs at least one record');
    const buf = this.#buf.subarray(0, this.#at);
    buf.writeBigInt64BE(options.baseOffset ?? 0n, 0);
    buf.writeInt32BE(this.#at - LOG_OVERHEAD_BYTES, 8);
    buf.writeInt32BE(options.partitionLeaderEpoch ?? -1, 12);
    buf.writeInt8(2, 16);
    buf.writeInt16BE((options.attributes ?? 0) & ~COMPRESSION_MASK, ATTRIBUTES_AT);
    buf.writeInt32BE(this.#count - 1, 23);
    buf.writeBigInt64BE(BigInt(this.#baseTimestampMs!), 27);
    buf.writeBigInt64BE(BigInt(this.#maxTimestampMs), 35);
    buf.writeBigInt64BE(options.producerId ?? -1n, 43);
    buf.writeInt16BE(options.producerEpoch ?? -1, 51);
    buf.writeInt32BE(options.baseSequence ?? -1, 53);
    buf.writeInt32BE(this.#count, 57);
    buf.writeUInt32BE(crc32c(buf.subarray(ATTRIBUTES_AT)), CRC_AT);
    return buf;
  }
}

/** A first guess at a batch's size, so that building it rarely grows the buffer. */
function estimateBytes(records: RecordInput[]): number {
  let n = BATCH_HEADER_BYTES;
  for (const r of records) {
    n += 24 + (r.key?.length ?? 0) + (r.value?.length ?? 0);
    if (r.headers) n += 64 * (Array.isArray(r.headers) ? r.headers.length : Object.keys(r.headers).length);
  }
  return n;
}

/** Encodes `records` (at least one) into one uncompressed RecordBatch v2 with a valid CRC. */
export function encodeRecordBatch(records: RecordInput[], options: BatchOptions = {}): Buffer {
  if (records.length === 0) throw new SluiceError('INVALID_RECORD', 'a record batch needs at least one record');
  let earliest = Infinity;
  for (const r of records) if (r.timestampMs !== undefined && r.timestampMs < earliest) earliest = r.timestampMs;
  const baseTimestampMs = options.baseTimestampMs ?? (earliest === Infinity ? Date.now() : earliest);
  const builder = new RecordBatchBuilder(estimateBytes(records), baseTimestampMs);
  for (const r of records) builder.tryAppend(r, r.timestampMs ?? baseTimestampMs);
  return builder.build(options);
}

function writeBytes(buf: Buffer, at: number, b: Buffer | null): number {
  if (b === null) return writeVarint(buf, at, -1);
  at = writeVarint(buf, at, b.length);
  b.copy(buf, at);
  return at + b.length;
}

/** Decompresses a batch's records (codec: attributes' low 3 bits); null until one is installed. */
type Decompressor = (codec: number, data: Buffer, maxBytes: number) => Buffer;
let decompressor: Decompressor | null = null;

/** Installs the records' decompression (the native addon's gzip, snappy, lz4 and zstd). */
export function useDecompressor(fn: Decompressor): void {
  decompressor = fn;
}

/** The most a batch's records may decompress to (Kafka's default max.message.bytes is ~1 MiB; a batch can hold far more, not this much). */
const MAX_RECORDS_BYTES = 256 * 1024 * 1024;

/**
 * Decodes the batch at `at` in `buf`, verifying its CRC. Record buffers are views into `buf` (or,
 * for a compressed batch, into its decompressed records; without the native addon a compressed
 * batch is UNSUPPORTED_COMPRESSION_TYPE).
 */
export function decodeRecordBatch(buf: Buffer, at = 0): DecodedBatch {
  if (buf.length - at < BATCH_HEADER_BYTES) {
    throw new SluiceError('CORRUPT_MESSAGE', `truncated batch header at ${at}`);
  }
  const sizeBytes = buf.readInt32BE(at + 8) + LOG_OVERHEAD_BYTES;
  if (sizeBytes < BATCH_HEADER_BYTES || at + sizeBytes > buf.length) {
    throw new SluiceError('CORRUPT_MESSAGE', `batch at ${at} of ${sizeBytes} bytes does not fit the buffer`);
  }
  const magic = buf.readInt8(at + 16);
  if (magic !== 2) throw new SluiceError('CORRUPT_MESSAGE', `unsupported magic ${magic} at ${at}`);
  const crc = buf.readUInt32BE(at + CRC_AT);
  const actual = crc32c(buf.subarray(at + ATTRIBUTES_AT, at + sizeBytes));
  if (crc !== actual) throw new SluiceError('CORRUPT_MESSAGE', `CRC mismatch in batch at ${at}`);
  const attributes = buf.readInt16BE(at + ATTRIBUTES_AT);
  const baseOffset = buf.readBigInt64BE(at);
  const baseTimestampMs = Number(buf.readBigInt64BE(at + 27));
  const recordsCount = buf.readInt32BE(at + 57);
  const batch: DecodedBatch = {
    baseOffset,
    sizeBytes,
    partitionLeaderEpoch: buf.readInt32BE(at + 12),
    magic,
    crc,
    attributes,
    lastOffsetDelta: buf.readInt32BE(at + 23),
    baseTimestampMs,
    maxTimestampMs: Number(buf.readBigInt64BE(at + 35)),
    producerId: buf.readBigInt64BE(at + 43),
    producerEpoch: buf.readInt16BE(at + 51),
    baseSequence: buf.readInt32BE(at + 53),
    records: [],
  };
  const codec = attributes & COMPRESSION_MASK;
  if (codec !== 0 && !decompressor) {
    throw new SluiceError('UNSUPPORTED_COMPRESSION_TYPE', `compression ${codec} is not decoded without the native addon`);
  }
  // Compressed: the records after the header are one stream, decoded from their own buffer.
  const src = codec === 0 ? buf : decompressor!(codec, buf.subarray(at + BATCH_HEADER_BYTES, at + sizeBytes), MAX_RECORDS_BYTES);
  const end = codec === 0 ? at + sizeBytes : src.length;
  let p = codec === 0 ? at + BATCH_HEADER_BYTES : 0;
  for (let i = 0; i < recordsCount; i++) {
    let length: number;
    [length, p] = readVarint(src, p);
    const recordEnd = p + length;
    if (length < 0 || recordEnd > end) throw new SluiceError('CORRUPT_MESSAGE', `record ${i} overruns its batch`);
    p += 1; // attributes
    let timestampDelta: number, offsetDelta: number, headerCount: number;
    [timestampDelta, p] = readVarint(src, p);
    [offsetDelta, p] = readVarint(src, p);
    let key: Buffer | null, value: Buffer | null;
    [key, p] = readBytes(src, p, recordEnd);
    [value, p] = readBytes(src, p, recordEnd);
    [headerCount, p] = readVarint(src, p);
    const headers: RecordHeader[] = [];
    for (let h = 0; h < headerCount; h++) {
      let hk: Buffer | null, hv: Buffer | null;
      [hk, p] = readBytes(src, p, recordEnd);
      [hv, p] = readBytes(src, p, recordEnd);
      headers.push({ key: hk?.toString() ?? '', value: hv });
    }
    if (p !== recordEnd) throw new SluiceError('CORRUPT_MESSAGE', `record ${i} length does not match its fields`);
    batch.records.push({ offset: baseOffset + BigInt(offsetDelta), timestampMs: baseTimestampMs + timestampDelta, key, value, headers });
  }
  if (p !== end) throw new SluiceError('CORRUPT_MESSAGE', `batch at ${at} has bytes after its last record`);
  return batch;
}

function readBytes(buf: Buffer, at: number, limit: number): [Buffer | null, number] {
  const [length, p] = readVarint(buf, at);
  if (length === -1) return [null, p];
  if (length < 0 || p + length > limit) throw new SluiceError('CORRUPT_MESSAGE', `field of ${length} bytes overruns its record`);
  return [buf.subarray(p, p + length), p + length];
}

/** The header fields of one batch that the broker reads without decoding its records. */
export interface BatchHeader {
  /** Where the batch starts in the buffer (its baseOffset field). */
  position: number;
  baseOffset: bigint;
  attributes: number;
  lastOffsetDelta: number;
  maxTimestampMs: number;
  producerId: bigint;
  producerEpoch: number;
  baseSequence: number;
}

/** Attributes bits 4 and 5: part of a transaction, and a transaction marker. */
export const TRANSACTIONAL_ATTRIBUTES = 0x30;

/**
 * The headers of the batches in `buf`, back to back, without checking CRCs or records; undefined
 * when the batch lengths do not tile the buffer (the storage core's validator refuses those).
 */
export function readBatchHeaders(buf: Buffer): BatchHeader[] | undefined {
  const headers: BatchHeader[] = [];
  for (let at = 0; at < buf.length; ) {
    if (buf.length - at < BATCH_HEADER_BYTES) return undefined;
    const size = buf.readInt32BE(at + 8) + LOG_OVERHEAD_BYTES;
    if (size < BATCH_HEADER_BYTES || at + size > buf.length) return undefined;
    headers.push({
      position: at,
      baseOffset: buf.readBigInt64BE(at),
      attributes: buf.readInt16BE(at + ATTRIBUTES_AT),
      lastOffsetDelta: buf.readInt32BE(at + 23),
      maxTimestampMs: Number(buf.readBigInt64BE(at + 35)),
      producerId: buf.readBigInt64BE(at + 43),
      producerEpoch: buf.readInt16BE(at + 51),
      baseSequence: buf.readInt32BE(at + 53),
    });
    at += size;
  }
  return headers;
}

/** Decodes every batch in `buf` (whole batches back to back). */
export function decodeRecordBatches(buf: Buffer): DecodedBatch[] {
  const batches: DecodedBatch[] = [];
  for (let at = 0; at < buf.length; ) {
    const batch = decodeRecordBatch(buf, at);
    batches.push(batch);
    at += batch.sizeBytes;
  }
  return batches;
}
