// The leader epochs of one partition's log (Kafka's LeaderEpochFileCache): for each epoch, the
// first offset a leader of that epoch wrote. A follower that returns after a leader change asks
// the new leader where its own latest epoch ended there (OffsetForLeaderEpoch) and truncates its
// log to that point, so a tail the old leader wrote but never committed does not survive.
//
// On disk: `leader-epoch-checkpoint` beside the segments, text as Kafka writes it (a version line,
// a count line, then "<epoch> <startOffset>" per line), replaced atomically and fsynced on every
// change. Changes are rare (a leader election, a truncation), and an entry must be durable before
// the first batch of its epoch is: a crash must not leave batches of an epoch the file does not
// name. Entries past the log's end (a crash cut the tail) are dropped when the file is loaded.

import { closeSync, fsyncSync, openSync, readFileSync, renameSync, writeSync } from 'node:fs';
import { join } from 'node:path';

export const LEADER_EPOCH_FILE = 'leader-epoch-checkpoint';
/** Kafka's "no epoch" (UNDEFINED_EPOCH) and "no offset" (UNDEFINED_EPOCH_OFFSET). */
export const UNDEFINED_EPOCH = -1;
export const UNDEFINED_EPOCH_OFFSET = -1n;

export interface EpochEntry {
  epoch: number;
  startOffset: bigint;
}

/** Where a leader epoch ended in a log: the largest epoch at or below the one asked about, and the first offset after it. */
export interface EpochEndOffset {
  epoch: number;
  endOffset: bigint;
}

export class LeaderEpochCache {
  readonly #path: string;
  #entries: EpochEntry[];

  private constructor(path: string, entries: EpochEntry[]) {
    this.#path = path;
    this.#entries = entries;
  }

  /** Reads the partition's file (none: no entries), dropping entries that start at or past `logEndOffset`. */
  static load(dir: string, logEndOffset: bigint): LeaderEpochCache {
    const path = join(dir, LEADER_EPOCH_FILE);
    let entries: EpochEntry[] = [];
    try {
      entries = parse(readFileSync(path, 'utf8'), path);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
    const cache = new LeaderEpochCache(path, entries);
    if (entries.some((e) => e.startOffset > logEndOffset)) cache.truncateFromEnd(logEndOffset + 1n);
    return cache;
  }

  get entries(): readonly EpochEntry[] {
    return this.#entries;
  }

  /** The newest epoch, or UNDEFINED_EPOCH when the log has none (empty, or written before epochs were kept). */
  get latestEpoch(): number {
    return this.#entries.at(-1)?.epoch ?? UNDEFINED_EPOCH;
  }

  /**
   * Records that `epoch` starts at `startOffset` (a new leader's first offset, or the first batch
   * of a newer epoch a follower copies). An epoch at or below the newest is ignored: epochs only
   * grow along a log. Durable when it returns.
   */
  assign(epoch: number, startOffset: bigint): void {
    const latest = this.#entries.at(-1);
    if (latest && (epoch <= latest.epoch || startOffset < latest.startOffset)) return;
    this.#entries = [...this.#entries, { epoch, startOffset }];
    this.#write();
  }

  /**
   * Kafka's rule for OffsetForLeaderEpoch: for the newest epoch, the log end; for an older one,
   * the start of the next epoch after it, with the largest epoch this log has at or below it; for
   * one older than every entry, the first entry's start; for one newer than every entry (or
   * UNDEFINED), UNDEFINED.
   */
  endOffsetFor(requestedEpoch: number, logEndOffset: bigint): EpochEndOffset {
    const undefinedAnswer = { epoch: UNDEFINED_EPOCH, endOffset: UNDEFINED_EPOCH_OFFSET };
    if (requestedEpoch === UNDEFINED_EPOCH || this.#entries.length === 0) return undefinedAnswer;
    if (requestedEpoch === this.latestEpoch) return { epoch: requestedEpoch, endOffset: logEndOffset };
    const higher = this.#entries.findIndex((e) => e.epoch > requestedEpoch);
    if (higher === -1) return undefinedAnswer;
    const floor = higher > 0 ? this.#entries[higher - 1]! : undefined;
    return { epoch: floor?.epoch ?? requestedEpoch, endOffset: this.#entries[higher]!.startOffset };
  }

  /** Forgets the epochs that start at or past `offset` (the log was truncated there). */
  truncateFromEnd(offset: bigint): void {
    const kept = this.#entries.filter((e) => e.startOffset < offset);
    if (kept.length === this.#entries.length) return;
    this.#entries = kept;
    this.#write();
  }

  /** Forgets every epoch (the log was emptied and starts again elsewhere). */
  clear(): void {
    if (this.#entries.length === 0) return;
    this.#entries = [];
    this.#write();
  }

  #write(): void {
    const text = `0\n${this.#entries.length}\n${this.#entries.map((e) => `${e.epoch} ${e.startOffset}\n`).join('')}`;
    const tmp = `${this.#path}.tmp`;
    const fd = openSync(tmp, 'w');
    try {
      writeSync(fd, text);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, this.#path);
    const dirFd = openSync(join(this.#path, '..'), 'r');
    try {
      fsyncSync(dirFd);
    } finally {
      closeSync(dirFd);
    }
  }
}

function parse(text: string, path: string): EpochEntry[] {
  const lines = text.split('\n').filter((l) => l.length > 0);
  const count = Number(lines[1]);
  if (lines[0] !== '0' || !Number.isInteger(count) || lines.length !== count + 2) throw new Error(`${path} is not a leader epoch checkpoint`);
  return lines.slice(2).map((line) => {
    const [epoch, start] = line.split(' ');
    if (!/^\d+$/.test(epoch ?? '') || !/^\d+$/.test(start ?? '')) throw new Error(`${path}: bad line ${JSON.stringify(line)}`);
    return { epoch: Number(epoch), startOffset: BigInt(start!) };
  });
}
