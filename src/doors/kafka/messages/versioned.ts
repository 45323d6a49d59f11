// Strings, bytes, arrays and struct ends in one API version's encoding: compact lengths and a
// tagged-field buffer after every struct when the version is flexible (KIP-482), classic int16 and
// int32 lengths before. Codecs whose layout is the same apart from the encoding read and write
// through these instead of branching at every field. Pure: no I/O.

import { KafkaDecodeError, type KafkaReader, type KafkaWriter } from '../../../protocol/kafka-wire.js';

export class VersionedReader {
  readonly r: KafkaReader;
  readonly flexible: boolean;

  constructor(r: KafkaReader, flexible: boolean) {
    this.r = r;
    this.flexible = flexible;
  }

  string(what: string): string {
    return this.flexible ? this.r.compactString(what) : this.r.string(what);
  }

  nullableString(what: string): string | null {
    return this.flexible ? this.r.compactNullableString(what) : this.r.nullableString(what);
  }

  /** A copy: the request buffer is not kept past the request. */
  bytes(what: string): Buffer {
    const b = this.flexible ? this.r.compactNullableBytes(what) : this.r.nullableBytes(what);
    if (b === null) throw new KafkaDecodeError(`${what} is null`);
    return Buffer.from(b);
  }

  /** An array the layout does not allow to be null; `read` reads one element (struct elements end with `tags()`). */
  array<T>(read: () => T, what: string, minElementBytes = 1): T[] {
    return this.flexible ? this.r.compactArray(read, what, minElementBytes) : this.r.array(read, what, minElementBytes);
  }

  nullableArray<T>(read: () => T, what: string, minElementBytes = 1): T[] | null {
    return this.flexible ? this.r.compactNullableArray(read, what, minElementBytes) : this.r.nullableArray(read, what, minElementBytes);
  }

  /** The end of a struct: its tagged fields when flexible (unknown tags are skipped, as KIP-482 asks). */
  tags(): void {
    if (this.flexible) this.r.taggedFields();
  }

  /** The end of the request: its tagged fields, then nothing may be left. */
  end(what: string): void {
    this.tags();
    this.r.end(what);
  }
}

export class VersionedWriter {
  readonly w: KafkaWriter;
  readonly flexible: boolean;

  constructor(w: KafkaWriter, flexible: boolean) {
    this.w = w;
    this.flexible = flexible;
  }

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
