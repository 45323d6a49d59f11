// A push subscription to one partition, in protocol-neutral terms: instead of asking with a fetch
// per batch, a consumer subscribes once and the broker streams every new range of whole batches as
// it is appended, within the credit the consumer has granted (credit-based flow control).
//
// Credit is counted in bytes and never exceeded: a push is sent only when all its bytes fit in the
// credit left, and the consumer grants more as it consumes. `windowBytes` is the most credit the
// consumer will ever hold; a batch larger than that could never be delivered, so the subscription
// ends with MESSAGE_TOO_LARGE rather than stall in silence.
//
// At most one push per subscription is being written at a time. Appends that arrive meanwhile are
// sent together in the next push, once the previous one reached the kernel: a subscriber the
// broker cannot keep up with gets fewer, larger pushes instead of a growing queue, and a stalled
// subscriber (no credit, or a socket that does not drain) holds one push and nothing else. The
// subscribers tailing a partition at the same offset with the same window share one slice.
//
// A subscription ends (its sink's `end`, once) when the partition goes away (topic deleted, broker
// stopping: UNKNOWN_TOPIC_OR_PARTITION), when its offset falls out of the log (retention:
// OFFSET_OUT_OF_RANGE), or when a batch outgrows the window; `cancel()` ends it without a message
// (unsubscribed, or the connection closed).

import { SluiceError } from '../errors.js';
import type { LogSlice } from '../storage/partition-log.js';
import { asSluiceError } from './log-errors.js';
import type { Partition } from './partition.js';

/** The most credit a subscription can hold (an int32, as the protocols count bytes). */
export const MAX_WINDOW_BYTES = 0x7fff_ffff;

export interface Push {
  /** The subscription's offset when this push was cut (the first batch holds it). */
  offset: bigint;
  /** Whole batches, starting with the one that holds `offset`. */
  slice: LogSlice;
  /** Where the next push starts. */
  nextOffset: bigint;
  highWatermark: bigint;
  logStartOffset: bigint;
}

export interface PushSink {
  /** Writes one push; resolves once it reached the kernel, rejects when the connection failed. */
  deliver(push: Push): Promise<unknown>;
  /** The subscription ended for `error`; nothing follows. */
  end(error: SluiceError, offsets: { highWatermark: bigint; logStartOffset: bigint }): void;
}

export class LogSubscription {
  readonly partition: Partition;
  readonly windowBytes: number;
  readonly #sink: PushSink;
  readonly #unlisten: () => void;
  #offset: bigint;
  #credit: number;
  #writing = false;
  #scheduled = false;
  #started = false;
  #ended = false;

  /** Starts paused: nothing is pushed before `start()` (the subscribe response goes first). */
  constructor(partition: Partition, offset: bigint, windowBytes: number, sink: PushSink) {
    if (!Number.isSafeInteger(windowBytes) || windowBytes < 1 || windowBytes > MAX_WINDOW_BYTES) {
      throw new SluiceError('INVALID_REQUEST', `windowBytes must be in [1, ${MAX_WINDOW_BYTES}], got ${windowBytes}`);
    }
    const { highWatermark, logStartOffset } = partition;
    if (offset < logStartOffset || offset > highWatermark) {
      throw new SluiceError('OFFSET_OUT_OF_RANGE', `offset ${offset} is outside the log [${logStartOffset}, ${highWatermark}]`);
    }
    this.partition = partition;
    this.windowBytes = windowBytes;
    this.#sink = sink;
    this.#offset = offset;
    this.#credit = windowBytes;
    this.#unlisten = partition.onAppend(() => this.#schedule());
    partition.subscriptions.add(this);
  }

  /** The offset the next push starts at. */
  get offset(): bigint {
    return this.#offset;
  }

  /** Bytes that may still be pushed before the consumer grants more. */
  get credit(): number {
    return this.#credit;
  }

  get ended(): boolean {
    return this.#ended;
  }

  /** Begins pushing what the log already holds past the offset, then every append. */
  start(): void {
    this.#started = true;
    this.#schedule();
  }

  /** The consumer took `bytes` more; credit is capped at the window. */
  grant(bytes: number): void {
    if (this.#ended) return;
    this.#credit = Math.min(this.windowBytes, this.#credit + bytes);
    this.#schedule();
  }

  /** Ends the subscription without telling the sink (unsubscribed, or the connection closed). */
  cancel(): void {
    if (this.#ended) return;
    this.#ended = true;
    this.#unlisten();
    this.partition.subscriptions.delete(this);
  }

  // Several appends (or grants) in one turn cost one look at the log; while a push is being written
  // none at all (its completion looks at the log next): with many subscribers behind, most appends
  // then cost a subscription nothing.
  #schedule(): void {
    if (this.#scheduled || this.#writing || !this.#started || this.#ended) return;
    this.#scheduled = true;
    queueMicrotask(() => {
      this.#scheduled = false;
      this.#pump();
    });
  }

  #pump(): void {
    if (this.#ended || this.#writing) return;
    const p = this.partition;
    if (p.closed) return this.#finish(p.closedError());
    let push: Push | undefined;
    try {
      push = this.#next();
    } catch (err) {
      return this.#finish(asSluiceError(err));
    }
    if (!push) return;
    this.#writing = true;
    this.#credit -= push.slice.bytes;
    this.#offset = push.nextOffset;
    this.#sink.deliver(push).then(
      () => {
        this.#writing = false;
        this.#pump();
      },
      // The connection failed: it cancels its subscriptions as it closes.
      () => this.cancel(),
    );
  }

  /** The next push the credit allows, if there is one; throws when the offset left the log. */
  #next(): Push | undefined {
    const p = this.partition;
    const hw = p.highWatermark;
    // Retention may pass a subscriber that waits for credit: it hears so at once.
    if (this.#offset < p.logStartOffset) {
      throw new SluiceError('OFFSET_OUT_OF_RANGE', `offset ${this.#offset} was deleted by retention; the log now starts at ${p.logStartOffset}`);
    }
    if (this.#offset === hw || this.#credit === 0) return undefined;
    // The window-sized slice is the one every tailing subscriber with this window asks for (shared).
    let slice = p.consumerSlice(this.#offset, this.windowBytes);
    if (slice.bytes > this.windowBytes) {
      throw new SluiceError('MESSAGE_TOO_LARGE', `the batch at offset ${this.#offset} is larger than the subscription's window of ${this.windowBytes} bytes`);
    }
    if (slice.bytes > this.#credit) {
      slice = p.consumerSlice(this.#offset, this.#credit);
      if (slice.bytes > this.#credit) return undefined;
    }
    if (slice.bytes === 0) return undefined;
    return { offset: this.#offset, slice, nextOffset: slice.nextOffset, highWatermark: hw, logStartOffset: slice.logStartOffset };
  }

  #finish(error: SluiceError): void {
    const p = this.partition;
    let offsets = { highWatermark: -1n, logStartOffset: -1n };
    if (!p.closed) offsets = { highWatermark: p.highWatermark, logStartOffset: p.logStartOffset };
    this.cancel();
    this.#sink.end(error, offsets);
  }
}
