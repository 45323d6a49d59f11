// Producer ids for InitProducerId: unique for the life of the data directory, across restarts and
// crashes. Ids are handed out from blocks of BLOCK_SIZE whose end is made durable in
// `<data>/.producer-ids` before the first id of the block is (as Kafka's controller hands brokers
// blocks): a crash loses at most the rest of a block, never repeats an id. Producer ids are
// non-negative int64 (-1 is "no producer" in a batch header).

import { closeSync, fsyncSync, openSync, readFileSync, renameSync, writeSync } from 'node:fs';
import { dirname, join } from 'node:path';

const BLOCK_SIZE = 1000n;
const FILE = '.producer-ids';

export class ProducerIdAllocator {
  readonly #file: string;
  #next: bigint | undefined;
  #blockEnd = 0n;

  constructor(dataDir: string) {
    this.#file = join(dataDir, FILE);
  }

  /** The next unused producer id (reserves a new block on disk first when the current one is spent). */
  next(): bigint {
    let next = (this.#next ??= this.#reserved());
    if (next >= this.#blockEnd) {
      this.#blockEnd = next + BLOCK_SIZE;
      this.#persist(this.#blockEnd);
    }
    this.#next = next + 1n;
    return next;
  }

  /** Where the last run's reservation ended: nothing below it may be handed out again. */
  #reserved(): bigint {
    let text: string;
    try {
      text = readFileSync(this.#file, 'utf8').trim();
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return 0n;
      throw err;
    }
    if (!/^\d+$/.test(text)) throw new Error(`${this.#file} does not hold a producer id (${JSON.stringify(text.slice(0, 40))})`);
    return BigInt(text);
  }

  /** Write, fsync, rename, fsync the directory: a crash leaves the old reservation or the new one. */
  #persist(end: bigint): void {
    const tmp = `${this.#file}.tmp`;
    const fd = openSync(tmp, 'w');
    try {
      writeSync(fd, `${end}\n`);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, this.#file);
    const dir = openSync(dirname(this.#file), 'r');
    try {
      fsyncSync(dir);
    } finally {
      closeSync(dir);
    }
  }
}
