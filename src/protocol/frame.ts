// Sluice frames, both directions: `frameBytes u32 | metaBytes u32 | meta | data`, big-endian.
// `frameBytes` counts everything after itself (4 + metaBytes + data); `meta` is MessagePack (see
// codec.ts); `data` is raw bytes (record batches), never MessagePack. No I/O: the decoder takes
// chunks as they arrive and returns whole frames.
//
// A frame over `maxFrameBytes` is never buffered: the decoder reads only its meta (when that is at
// most `maxOversizeMetaBytes`, so the receiver can answer with the request's correlation id), then
// drops the data as it arrives. Framing it cannot trust (sizes that contradict each other) is a
// FramingError: the stream is out of sync and the connection must close.

import { ByteQueue } from './byte-queue.js';

export const FRAME_PREFIX_BYTES = 8;
/** The meta of an oversize frame is read (to answer it) only up to this size. */
export const MAX_OVERSIZE_META_BYTES = 64 * 1024;

export type FrameEvent =
  | { kind: 'frame'; meta: Buffer; data: Buffer }
  /** A frame over the limit: its meta, and how big it said it was. Its data was skipped. */
  | { kind: 'oversize'; meta: Buffer; frameBytes: number };

export class FramingError extends Error {
  override readonly name = 'FramingError';
}

type State =
  | { need: 'prefix' }
  | { need: 'frame'; bodyBytes: number; metaBytes: number }
  | { need: 'oversize-meta'; frameBytes: number; metaBytes: number }
  | { need: 'skip'; remaining: number };

/** The 8-byte prefix of a frame whose meta and data have these sizes. */
export function framePrefix(metaBytes: number, dataBytes: number): Buffer {
  const prefix = Buffer.allocUnsafe(FRAME_PREFIX_BYTES);
  prefix.writeUInt32BE(4 + metaBytes + dataBytes, 0);
  prefix.writeUInt32BE(metaBytes, 4);
  return prefix;
}

export class FrameDecoder {
  readonly maxFrameBytes: number;
  readonly #queue = new ByteQueue();
  #state: State = { need: 'prefix' };

  constructor(maxFrameBytes: number) {
    if (!Number.isSafeInteger(maxFrameBytes) || maxFrameBytes < 5 || maxFrameBytes > 0xffff_ffff) {
      throw new RangeError(`maxFrameBytes must be in [5, 2^32 - 1], got ${maxFrameBytes}`);
    }
    this.maxFrameBytes = maxFrameBytes;
  }

  /** Bytes held for a frame not yet complete. */
  get bufferedBytes(): number {
    return this.#queue.length;
  }

  /** True between frames (nothing partial held or being skipped). */
  get idle(): boolean {
    return this.#state.need === 'prefix' && this.#queue.length === 0;
  }

  /** Takes the next chunk of the stream; returns the frames it completed. Throws FramingError. */
  push(chunk: Buffer): FrameEvent[] {
    const events: FrameEvent[] = [];
    this.#queue.push(chunk);
    for (;;) {
      const state = this.#state;
      if (state.need === 'skip') {
        state.remaining -= this.#queue.drop(state.remaining);
        if (state.remaining > 0) return events;
        this.#state = { need: 'prefix' };
      } else if (state.need === 'prefix') {
        if (this.#queue.length < FRAME_PREFIX_BYTES) return events;
        const prefix = this.#queue.take(FRAME_PREFIX_BYTES);
        const frameBytes = prefix.readUInt32BE(0);
        const metaBytes = prefix.readUInt32BE(4);
        if (frameBytes < 5 || metaBytes < 1 || metaBytes > frameBytes - 4) {
          throw new FramingError(`frame sizes do not add up (frameBytes ${frameBytes}, metaBytes ${metaBytes})`);
        }
        if (frameBytes <= this.maxFrameBytes) {
          this.#state = { need: 'frame', bodyBytes: frameBytes - 4, metaBytes };
        } else if (metaBytes <= MAX_OVERSIZE_META_BYTES) {
          this.#state = { need: 'oversize-meta', frameBytes, metaBytes };
        } else {
          throw new FramingError(`frame of ${frameBytes} bytes is over the limit of ${this.maxFrameBytes} and its meta (${metaBytes} bytes) is too large to answer`);
        }
      } else if (state.need === 'frame') {
        if (this.#queue.length < state.bodyBytes) return events;
        const body = this.#queue.take(state.bodyBytes);
        events.push({ kind: 'frame', meta: body.subarray(0, state.metaBytes), data: body.subarray(state.metaBytes) });
        this.#state = { need: 'prefix' };
      } else {
        if (this.#queue.length < state.metaBytes) return events;
        const meta = this.#queue.take(state.metaBytes);
        events.push({ kind: 'oversize', meta, frameBytes: state.frameBytes });
        this.#state = { need: 'skip', remaining: state.frameBytes - 4 - state.metaBytes };
      }
    }
  }
}
