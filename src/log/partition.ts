// One partition of a topic as the broker sees it: its PartitionLog plus the listeners that wait
// for appends (parked long-poll fetches). Appends go through here so that every append wakes the
// fetches waiting on this partition; nothing polls.

import { SluiceError } from '../errors.js';
import type { AppendResult, LogSlice, PartitionLog } from '../storage/partition-log.js';

export type AppendListener = () => void;

export class Partition {
  readonly topic: string;
  readonly index: number;
  readonly log: PartitionLog;
  readonly #listeners = new Set<AppendListener>();
  #closed = false;

  constructor(topic: string, index: number, log: PartitionLog) {
    this.topic = topic;
    this.index = index;
    this.log = log;
  }

  get closed(): boolean {
    return this.#closed;
  }

  get highWatermark(): bigint {
    return this.log.highWatermark;
  }

  get logStartOffset(): bigint {
    return this.log.logStartOffset;
  }

  /** Validates and appends `batches` (all or nothing; offsets are stamped in place), then wakes listeners. */
  append(batches: Buffer): AppendResult {
    if (this.#closed) throw this.#gone();
    const result = this.log.append(batches);
    this.#notify();
    return result;
  }

  slice(offset: bigint, maxBytes: number): LogSlice {
    if (this.#closed) throw this.#gone();
    return this.log.slice(offset, maxBytes);
  }

  /** Listeners registered now (parked fetches on this partition). */
  get listenerCount(): number {
    return this.#listeners.size;
  }

  /** Calls `listener` after each append (and once when the partition closes); returns the unsubscribe. */
  onAppend(listener: AppendListener): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** Stops serving (topic deleted or broker stopping): wakes listeners so they see the partition gone. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#notify();
    await this.log.close();
  }

  #notify(): void {
    for (const listener of this.#listeners) listener();
  }

  #gone(): SluiceError {
    return new SluiceError('UNKNOWN_TOPIC_OR_PARTITION', `${this.topic}-${this.index} was deleted or the broker is stopping`);
  }
}
