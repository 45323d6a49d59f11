// Which partition a record goes to: an explicit partition wins; a keyed record goes to Kafka's
// murmur2(key) mod partitions (the same partition Kafka's Java client picks for that key); a
// record without a key sticks to one partition per topic until its batch is sent, then moves on
// (Kafka's sticky partitioner), so unkeyed records form large batches.

const SEED = 0x9747b28c;
const M = 0x5bd1e995;

/** Kafka's murmur2 (org.apache.kafka.common.utils.Utils.murmur2), as a signed 32-bit integer. */
export function murmur2(data: Uint8Array): number {
  const length = data.length;
  let h = SEED ^ length;
  const whole = length & ~3;
  for (let i = 0; i < whole; i += 4) {
    let k = data[i]! | (data[i + 1]! << 8) | (data[i + 2]! << 16) | (data[i + 3]! << 24);
    k = Math.imul(k, M);
    k ^= k >>> 24;
    k = Math.imul(k, M);
    h = Math.imul(h, M) ^ k;
  }
  switch (length & 3) {
    case 3:
      h ^= data[whole + 2]! << 16;
    // falls through
    case 2:
      h ^= data[whole + 1]! << 8;
    // falls through
    case 1:
      h ^= data[whole]!;
      h = Math.imul(h, M);
  }
  h ^= h >>> 13;
  h = Math.imul(h, M);
  h ^= h >>> 15;
  return h | 0;
}

export function partitionForKey(key: Uint8Array, partitions: number): number {
  return (murmur2(key) & 0x7fffffff) % partitions;
}

export class StickyPartitioner {
  readonly #sticky = new Map<string, number>();

  /** The partition for an unkeyed record of `topic`. */
  partition(topic: string, partitions: number): number {
    let p = this.#sticky.get(topic);
    if (p === undefined || p >= partitions) {
      p = Math.floor(Math.random() * partitions);
      this.#sticky.set(topic, p);
    }
    return p;
  }

  /** A batch of `topic` was sent from `partition`: unkeyed records move to another partition. */
  batchSent(topic: string, partition: number, partitions: number): void {
    if (this.#sticky.get(topic) !== partition || partitions < 2) return;
    const next = Math.floor(Math.random() * (partitions - 1));
    this.#sticky.set(topic, next >= partition ? next + 1 : next);
  }
}
