// Kafka frames: `size int32 | request header | body`, size counting what follows it. No I/O: the
// decoder takes chunks as they arrive and returns each whole frame (header and body).
//
// A size over `maxFrameBytes`, or too small to hold a request header, is a FramingError: Kafka's
// broker closes such a connection unread (socket.request.max.bytes), and so does this one.

import { ByteQueue } from '../../protocol/byte-queue.js';
import { FramingError } from '../../protocol/frame.js';

/** api_key int16 + api_version int16 + correlation_id int32 + client_id length int16. */
export const MIN_REQUEST_HEADER_BYTES = 10;

export class KafkaFrameDecoder {
  readonly maxFrameBytes: number;
  readonly #queue = new ByteQueue();
  /** The size of the frame being received; -1 between frames. */
  #size = -1;

  constructor(maxFrameBytes: number) {
    this.maxFrameBytes = maxFrameBytes;
  }

  get bufferedBytes(): number {
    return this.#queue.length;
  }

  push(chunk: Buffer): Buffer[] {
    this.#queue.push(chunk);
    const frames: Buffer[] = [];
    for (;;) {
      if (this.#size === -1) {
        if (this.#queue.length < 4) return frames;
        const size = this.#queue.take(4).readInt32BE(0);
        if (size < MIN_REQUEST_HEADER_BYTES || size > this.maxFrameBytes) {
          throw new FramingError(`a Kafka request of ${size} bytes is outside [${MIN_REQUEST_HEADER_BYTES}, ${this.maxFrameBytes}] (maxFrameBytes)`);
        }
        this.#size = size;
      }
      if (this.#queue.length < this.#size) return frames;
      frames.push(this.#queue.take(this.#size));
      this.#size = -1;
    }
  }
}


/**
 * The response's first bytes: size (of all that follows) and correlation id (response header v0),
 * plus an empty tagged-field buffer for header v1 (flexible responses).
 */
export function responsePrefix(correlationId: number, bodyBytes: number, headerV1 = false): Buffer {
  const headerBytes = headerV1 ? 5 : 4;
  const prefix = Buffer.allocUnsafe(4 + headerBytes);
  prefix.writeInt32BE(headerBytes + bodyBytes, 0);
  prefix.writeInt32BE(correlationId, 4);
  if (headerV1) prefix.writeUInt8(0, 8);
  return prefix;
}
