// Kafka's primitive types, read and written (big-endian). Non-flexible encodings: int16-length
// strings, int32-length bytes and arrays, -1 for null. Flexible ones (KIP-482): unsigned varint
// lengths plus one (0 for null) for compact strings, bytes and arrays, and tagged-field buffers.
// No I/O.
//
// A reader that runs past its buffer, or meets a length that cannot be right (negative where null
// is not allowed, longer than what is left, an array with more elements than bytes), throws a
// KafkaDecodeError: the request cannot be trusted and the connection closes, as Kafka's does.


/**
 * Bytes the writer does not hold, only counts: a log slice, written after the body's other pieces
 * by whoever sends the response. The codec needs only its length.
 */
export interface SizedPiece {
  readonly bytes: number;
}

export class KafkaDecodeError extends Error {
  override readonly name = 'KafkaDecodeError';
}

export class KafkaReader {
  readonly #buf: Buffer;
  #at: number;

  constructor(buf: Buffer, at = 0) {
    this.#buf = buf;
    this.#at = at;
  }

  get position(): number {
    return this.#at;
  }

  get remaining(): number {
    return this.#buf.length - this.#at;
  }

  #need(n: number, what: string): number {
    if (this.#at + n > this.#buf.length) throw new KafkaDecodeError(`${what} runs past the end of the request (${n} bytes needed at ${this.#at} of ${this.#buf.length})`);
    const at = this.#at;
    this.#at += n;
    return at;
  }

  int8(what = 'int8'): number {
    return this.#buf.readInt8(this.#need(1, what));
  }

  int16(what = 'int16'): number {
    return this.#buf.readInt16BE(this.#need(2, what));
  }

  int32(what = 'int32'): number {
    return this.#buf.readInt32BE(this.#need(4, what));
  }

  int64(what = 'int64'): bigint {
    return this.#buf.readBigInt64BE(this.#need(8, what));
  }

  boolean(what = 'boolean'): boolean {
    return this.int8(what) !== 0;
  }

  string(what = 'string'): string {
    const s = this.nullableString(what);
    if (s === null) throw new KafkaDecodeError(`${what} is null`);
    return s;
  }

  nullableString(what = 'string'): string | null {
    const length = this.int16(`${what} length`);
    if (length === -1) return null;
    if (length < 0) throw new KafkaDecodeError(`${what} has length ${length}`);
    const at = this.#need(length, what);
    return this.#buf.toString('utf8', at, at + length);
  }

  /** A view of the request's bytes (no copy); null for -1. */
  nullableBytes(what = 'bytes'): Buffer | null {
    const length = this.int32(`${what} length`);
    if (length === -1) return null;
    if (length < 0) throw new KafkaDecodeError(`${what} has length ${length}`);
    const at = this.#need(length, what);
    return this.#buf.subarray(at, at + length);
  }

  bytes(what = 'bytes'): Buffer {
    const b = this.nullableBytes(what);
    if (b === null) throw new KafkaDecodeError(`${what} is null`);
    return b;
  }

  /** A Kafka uuid (16 bytes: the most then the least significant 64 bits), as RFC 4122 text; all zeros is Kafka's "no id". */
  uuid(what = 'uuid'): string {
    const at = this.#need(16, what);
    const hex = this.#buf.toString('hex', at, at + 16);
    return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
  }

  /** An unsigned varint (at most 5 bytes: flexible lengths and tags are 32-bit). */
  uvarint(what = 'uvarint'): number {
    let value = 0;
    for (let shift = 0; shift <= 28; shift += 7) {
      const b = this.#buf.readUInt8(this.#need(1, what));
      value += (b & 0x7f) * 2 ** shift;
      if ((b & 0x80) === 0) return value;
    }
    throw new KafkaDecodeError(`${what} is a varint longer than 5 bytes`);
  }

  /** A compact length: the varint minus one, -1 for null; never more than what is left. */
  #compactLength(what: string): number {
    const length = this.uvarint(`${what} length`) - 1;
    if (length > this.remaining) throw new KafkaDecodeError(`${what} claims ${length} bytes with ${this.remaining} left`);
    return length;
  }

  compactNullableString(what = 'string'): string | null {
    const length = this.#compactLength(what);
    if (length === -1) return null;
    const at = this.#need(length, what);
    return this.#buf.toString('utf8', at, at + length);
  }

  compactString(what = 'string'): string {
    const s = this.compactNullableString(what);
    if (s === null) throw new KafkaDecodeError(`${what} is null`);
    return s;
  }

  /** A view of the request's bytes (no copy); null for 0. */
  compactNullableBytes(what = 'bytes'): Buffer | null {
    const length = this.#compactLength(what);
    if (length === -1) return null;
    const at = this.#need(length, what);
    return this.#buf.subarray(at, at + length);
  }

  compactNullableArray<T>(read: (r: KafkaReader) => T, what = 'array', minElementBytes = 1): T[] | null {
    const count = this.uvarint(`${what} count`) - 1;
    if (count === -1) return null;
    if (count * minElementBytes > this.remaining) throw new KafkaDecodeError(`${what} claims ${count} elements with ${this.remaining} bytes left`);
    const out: T[] = [];
    for (let i = 0; i < count; i++) out.push(read(this));
    return out;
  }

  /** A compact array the layout does not allow to be null (a null is a malformed request). */
  compactArray<T>(read: (r: KafkaReader) => T, what = 'array', minElementBytes = 1): T[] {
    const items = this.compactNullableArray(read, what, minElementBytes);
    if (items === null) throw new KafkaDecodeError(`${what} is null, which this version does not allow`);
    return items;
  }

  /**
   * A tagged-field buffer: tags in ascending order, each with its size. Returns the fields by tag
   * as views; the caller reads the ones it knows and ignores the rest, as KIP-482 asks.
   */
  taggedFields(what = 'tagged fields'): Map<number, Buffer> {
    const count = this.uvarint(`${what} count`);
    const fields = new Map<number, Buffer>();
    let last = -1;
    for (let i = 0; i < count; i++) {
      const tag = this.uvarint(`${what} tag`);
      if (tag <= last) throw new KafkaDecodeError(`${what}: tag ${tag} after ${last} (tags must ascend)`);
      last = tag;
      const size = this.uvarint(`${what} size`);
      const at = this.#need(size, `${what} tag ${tag}`);
      fields.set(tag, this.#buf.subarray(at, at + size));
    }
    return fields;
  }

  /** Each element costs at least `minElementBytes`, so a count past what is left is a lie told before any allocation. */
  nullableArray<T>(read: (r: KafkaReader) => T, what = 'array', minElementBytes = 1): T[] | null {
    const count = this.int32(`${what} count`);
    if (count === -1) return null;
    if (count < 0 || count * minElementBytes > this.remaining) throw new KafkaDecodeError(`${what} claims ${count} elements with ${this.remaining} bytes left`);
    const out: T[] = [];
    for (let i = 0; i < count; i++) out.push(read(this));
    return out;
  }

  /** An array the layout does not allow to be null: a null (-1) is a malformed request, never read as empty. */
  array<T>(read: (r: KafkaReader) => T, what = 'array', minElementBytes = 1): T[] {
    const items = this.nullableArray(read, what, minElementBytes);
    if (items === null) throw new KafkaDecodeError(`${what} is null, which this version does not allow`);
    return items;
  }

  /** Throws unless every byte was read (a request longer than its version's layout is not that version). */
  end(what: string): void {
    if (this.remaining !== 0) throw new KafkaDecodeError(`${what} has ${this.remaining} bytes after its last field`);
  }
}

/**
 * Builds a response as pieces: encoded bytes, and log slices (file ranges the transfer engine
 * sends) wherever `slice` is called. `pieces()` ends the current byte run.
 */
export class KafkaWriter {
  #buf = Buffer.allocUnsafe(256);
  #at = 0;
  readonly #pieces: Array<Buffer | SizedPiece> = [];
  #bytes = 0;

  /** Reserves `n` bytes and returns where they start (call before reading #buf: it may grow). */
  #room(n: number): number {
    if (this.#at + n > this.#buf.length) {
      const grown = Buffer.allocUnsafe(Math.max(this.#buf.length * 2, this.#at + n));
      this.#buf.copy(grown, 0, 0, this.#at);
      this.#buf = grown;
    }
    const at = this.#at;
    this.#at += n;
    return at;
  }

  int8(v: number): this {
    const at = this.#room(1);
    this.#buf.writeInt8(v, at);
    return this;
  }

  int16(v: number): this {
    const at = this.#room(2);
    this.#buf.writeInt16BE(v, at);
    return this;
  }

  int32(v: number): this {
    const at = this.#room(4);
    this.#buf.writeInt32BE(v, at);
    return this;
  }

  int64(v: bigint): this {
    const at = this.#room(8);
    this.#buf.writeBigInt64BE(v, at);
    return this;
  }

  boolean(v: boolean): this {
    return this.int8(v ? 1 : 0);
  }

  string(v: string | null): this {
    if (v === null) return this.int16(-1);
    const length = Buffer.byteLength(v);
    this.int16(length);
    const at = this.#room(length);
    this.#buf.write(v, at, 'utf8');
    return this;
  }

  bytes(v: Uint8Array | null): this {
    if (v === null) return this.int32(-1);
    this.int32(v.length);
    const at = this.#room(v.length);
    this.#buf.set(v, at);
    return this;
  }

  array<T>(items: readonly T[] | null, write: (w: this, item: T) => void): this {
    if (items === null) return this.int32(-1);
    this.int32(items.length);
    for (const item of items) write(this, item);
    return this;
  }

  /** A uuid from its RFC 4122 text (see KafkaReader.uuid). */
  uuid(text: string): this {
    const at = this.#room(16);
    this.#buf.write(text.replaceAll('-', ''), at, 16, 'hex');
    return this;
  }

  uvarint(v: number): this {
    // #room first: it may replace #buf, so #buf is read only after it (an argument evaluated
    // after `this.#buf` would write into the old buffer once a varint crosses its end).
    while (v >= 0x80) {
      const at = this.#room(1);
      this.#buf.writeUInt8((v & 0x7f) | 0x80, at);
      v = Math.floor(v / 128);
    }
    const at = this.#room(1);
    this.#buf.writeUInt8(v, at);
    return this;
  }

  compactString(v: string | null): this {
    if (v === null) return this.uvarint(0);
    const length = Buffer.byteLength(v);
    this.uvarint(length + 1);
    const at = this.#room(length);
    this.#buf.write(v, at, 'utf8');
    return this;
  }

  compactBytes(v: Uint8Array | null): this {
    if (v === null) return this.uvarint(0);
    this.uvarint(v.length + 1);
    const at = this.#room(v.length);
    this.#buf.set(v, at);
    return this;
  }

  compactArray<T>(items: readonly T[] | null, write: (w: this, item: T) => void): this {
    if (items === null) return this.uvarint(0);
    this.uvarint(items.length + 1);
    for (const item of items) write(this, item);
    return this;
  }

  /** An empty tagged-field buffer: this broker writes no optional fields. */
  noTaggedFields(): this {
    return this.uvarint(0);
  }

  /** Places a log slice here (its bytes go from the page cache to the socket, not through this buffer). */
  slice(s: SizedPiece): this {
    this.#cut();
    this.#pieces.push(s);
    this.#bytes += s.bytes;
    return this;
  }

  /** Total bytes written so far, slices included. */
  get length(): number {
    return this.#bytes + this.#at;
  }

  pieces(): Array<Buffer | SizedPiece> {
    this.#cut();
    return this.#pieces;
  }

  #cut(): void {
    if (this.#at === 0) return;
    this.#pieces.push(Buffer.from(this.#buf.subarray(0, this.#at)));
    this.#bytes += this.#at;
    this.#buf = Buffer.allocUnsafe(256);
    this.#at = 0;
  }
}

/** Kafka's "no topic id". */
export const ZERO_UUID = '00000000-0000-0000-0000-000000000000';

/**
 * A version's strings, bytes, arrays and tag buffers: the compact forms, and a tag buffer after
 * every struct, in flexible versions (KIP-482); int16 and int32 lengths before. Codecs of APIs
 * that span both read and write through these, so one layout serves every version instead of a
 * branch at every field. An array's elements are read or written by a closure over the same
 * reader or writer (nested structs share it); fixed-width fields go through `r` or `w`.
 */
export class VersionedReader {
  constructor(
    readonly r: KafkaReader,
    readonly flexible: boolean,
  ) {}

  string(what: string): string {
    return this.flexible ? this.r.compactString(what) : this.r.string(what);
  }

  nullableString(what: string): string | null {
    return this.flexible ? this.r.compactNullableString(what) : this.r.nullableString(what);
  }

  /** A copy: the request buffer is not kept past the request. */
  bytes(what: string): Buffer {
    const b = this.nullableBytesView(what);
    if (b === null) throw new KafkaDecodeError(`${what} is null`);
    return Buffer.from(b);
  }

  /** A view of the request's bytes (no copy: records, which the log stamps in place); null for null. */
  nullableBytesView(what: string): Buffer | null {
    return this.flexible ? this.r.compactNullableBytes(what) : this.r.nullableBytes(what);
  }

  /** An array the layout does not allow to be null; `read` reads one element (a struct's ends with `tags()`). */
  array<T>(read: () => T, what: string, minElementBytes = 1): T[] {
    return this.flexible ? this.r.compactArray(read, what, minElementBytes) : this.r.array(read, what, minElementBytes);
  }

  nullableArray<T>(read: () => T, what: string, minElementBytes = 1): T[] | null {
    return this.flexible ? this.r.compactNullableArray(read, what, minElementBytes) : this.r.nullableArray(read, what, minElementBytes);
  }

  /** The end of a struct: its tagged fields when flexible (none before), by tag; codecs skip unknown ones, as KIP-482 asks. */
  tags(): Map<number, Buffer> {
    return this.flexible ? this.r.taggedFields() : new Map();
  }

  /** The end of the body: its tagged fields, then nothing may be left. */
  end(what: string): void {
    this.tags();
    this.r.end(what);
  }
}

export class VersionedWriter {
  constructor(
    readonly w: KafkaWriter,
    readonly flexible: boolean,
  ) {}

  string(v: string | null): this {
    if (this.flexible) this.w.compactString(v);
    else this.w.string(v);
    return this;
  }

  bytes(v: Uint8Array | null): this {
    if (this.flexible) this.w.compactBytes(v);
    else this.w.bytes(v);
    return this;
  }

  /** `write` writes one element (a struct's ends with `tags()`). */
  array<T>(items: readonly T[] | null, write: (item: T) => void): this {
    if (this.flexible) this.w.compactArray(items, (_, item) => write(item));
    else this.w.array(items, (_, item) => write(item));
    return this;
  }

  /** The end of a struct (or of the body): an empty tagged-field buffer when flexible. */
  tags(): this {
    if (this.flexible) this.w.noTaggedFields();
    return this;
  }
}
