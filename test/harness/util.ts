// Small helpers shared by the benchmarks: batches of an exact size, percentiles, byte formatting,
// and writing a report.

import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { InvalidArgumentError } from 'commander';
import type { BrokerClient } from '../../src/client/broker-client.js';
import { ApiKey, type FetchResponse } from '../../src/protocol/messages.js';
import { BATCH_HEADER_BYTES, decodeRecordBatches, encodeRecordBatch, type DecodedBatch } from '../../src/protocol/record-batch.js';

/** One batch of one record, exactly `batchBytes` long (varint widths settle after one retry). */
export function batchOfSize(batchBytes: number, fill = 0x61): Buffer {
  const encode = (valueBytes: number) =>
    encodeRecordBatch([{ value: Buffer.alloc(Math.max(1, valueBytes), fill), timestampMs: Date.now() }]);
  let valueBytes = batchBytes - BATCH_HEADER_BYTES;
  for (let i = 0; i < 3; i++) {
    const batch = encode(valueBytes);
    if (batch.length === batchBytes) return batch;
    valueBytes += batchBytes - batch.length;
  }
  return encode(valueBytes);
}

export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

/** The middle value (the lower middle of an even count). */
export function median(xs: number[]): number {
  return [...xs].sort((a, b) => a - b)[Math.floor((xs.length - 1) / 2)]!;
}

/** Median, min and max of each named figure over repeated samples. */
export function summarize<K extends string>(samples: Array<Record<K, number>>, keys: readonly K[]): { mid: Record<K, number>; min: Record<K, number>; max: Record<K, number> } {
  const pick = (f: (xs: number[]) => number) => Object.fromEntries(keys.map((k) => [k, f(samples.map((s) => s[k]))])) as Record<K, number>;
  return { mid: pick(median), min: pick((xs) => Math.min(...xs)), max: pick((xs) => Math.max(...xs)) };
}

export function formatBytes(n: number): string {
  if (n >= 1 << 30) return `${(n / (1 << 30)).toFixed(0)} GiB`;
  if (n >= 1 << 20) return `${(n / (1 << 20)).toFixed(0)} MiB`;
  if (n >= 1 << 10) return `${(n / (1 << 10)).toFixed(0)} KiB`;
  return `${n} B`;
}

export function writeJson(path: string, value: unknown): void {
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, JSON.stringify(value, null, 2) + '\n');
}

/** mulberry32: small, seedable, good enough to pick sizes and moments. */
export function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A commander parser for whole-number options of at least `min`. */
export function integerOption(min: number): (value: string) => number {
  return (value) => {
    const n = Number(value);
    if (!Number.isSafeInteger(n) || n < min) throw new InvalidArgumentError(`expected an integer >= ${min}, got "${value}"`);
    return n;
  };
}

/** One fetch of `topic`-`partition` at `offset` (no waiting): its batches, CRC-checked by the decoder. */
export async function fetchBatches(client: BrokerClient, topic: string, partition: number, offset: bigint, maxBytes = 1024 * 1024): Promise<DecodedBatch[]> {
  return (await fetchAt(client, topic, partition, offset, { maxBytes })).batches;
}

/**
 * One fetch (no waiting) with the high watermark the answering broker has. With a `rackId` a
 * cluster's follower serves it too (KIP-392), from its own copy below its own high watermark.
 */
export async function fetchAt(client: BrokerClient, topic: string, partition: number, offset: bigint, options: { maxBytes?: number; rackId?: string } = {}): Promise<{ batches: DecodedBatch[]; highWatermark: bigint }> {
  const maxBytes = options.maxBytes ?? 1024 * 1024;
  const response = await client.request(ApiKey.Fetch, { maxWaitMs: 0, minBytes: 0, maxBytes, rackId: options.rackId ?? '', partitions: [{ topic, partition, offset, maxBytes }] });
  const p = (response.body as FetchResponse).partitions[0]!;
  if (p.error) throw new Error(`fetch ${topic}-${partition}@${offset}: ${p.error.code} ${p.error.message}`);
  return { batches: decodeRecordBatches(response.data.subarray(0, p.bytes)), highWatermark: p.highWatermark };
}
