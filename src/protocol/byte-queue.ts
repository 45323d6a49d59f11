// The bytes of a stream received so far and not yet consumed, as the chunks they arrived in.
// Frame decoders (Sluice's and Kafka's) take whole frames from it without copying when a frame lies
// in one chunk. No I/O.

export class ByteQueue {
  #chunks: Buffer[] = [];
  #length = 0;

  get length(): number {
    return this.#length;
  }

  push(chunk: Buffer): void {
    if (chunk.length === 0) return;
    this.#chunks.push(chunk);
    this.#length += chunk.length;
  }

  /** The first `n` bytes (n <= length), consumed; a view when they lie in one chunk, else a copy. */
  take(n: number): Buffer {
    const first = this.#chunks[0]!;
    if (first.length >= n) {
      const out = first.subarray(0, n);
      this.#advance(n);
      return out;
    }
    const out = Buffer.allocUnsafe(n);
    let filled = 0;
    while (filled < n) {
      const chunk = this.#chunks[0]!;
      const part = Math.min(chunk.length, n - filled);
      chunk.copy(out, filled, 0, part);
      filled += part;
      this.#advance(part);
    }
    return out;
  }

  /** Discards up to `n` bytes; returns how many were discarded. */
  drop(n: number): number {
    const dropped = Math.min(n, this.#length);
    let left = dropped;
    while (left > 0) {
      const part = Math.min(this.#chunks[0]!.length, left);
      this.#advance(part);
      left -= part;
    }
    return dropped;
  }

  /** Consumes `n` bytes of the first chunk. */
  #advance(n: number): void {
    const first = this.#chunks[0]!;
    if (n === first.length) this.#chunks.shift();
    else this.#chunks[0] = first.subarray(n);
    this.#length -= n;
  }
}
