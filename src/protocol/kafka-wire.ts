// Kafka's primitive types, read and written (big-endian; non-flexible encodings: int16-length
// strings, int32-length bytes and arrays, -1 for null). No I/O.
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
