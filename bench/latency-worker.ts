// The measuring consumer of the end-to-end latency benchmark, in its own worker thread: a real
// Consumer (src/client) reading the partition from offset 0, or in `subscribe` mode a real
// Subscription (push subscription) from offset 0. Each record's value starts with the
// producer's send time (u64 ns of process.hrtime, a monotonic clock the whole machine shares) and
// its sequence number (u32); the latency is receipt minus send time. Records must arrive complete
// and in order.

import { parentPort, workerData } from 'node:worker_threads';
// The addon's hardware CRC-32C for the codec (clients fall back to pure TypeScript without it).
import '../src/native.js';
import { Consumer } from '../src/client/consumer.js';
import { Subscription } from '../src/client/subscription.js';
import type { ConsumeMode } from './latency.js';

export interface LatencyWorkerConfig {
  broker: string;
  topic: string;
  records: number;
  maxWaitMs: number;
  /** Give up this long after the producer has sent the last record. */
  timeoutMs: number;
  mode: ConsumeMode;
}

export interface LatencyWorkerResult {
  /** Per record, in sequence order: nanoseconds from send() to receipt. */
  latenciesNs: Float64Array;
}

/** Record values in the order they arrive, and how to stop early. */
interface Stream {
  values: AsyncIterable<Buffer[]>;
  close(): Promise<void>;
}

async function open(config: LatencyWorkerConfig): Promise<Stream> {
  if (config.mode === 'subscribe') {
    const subscription = await Subscription.open({ broker: config.broker, clientId: 'bench-latency', topic: config.topic, offset: 0n });
    return {
      values: (async function* () {
        for await (const push of subscription) yield push.batches().flatMap((b) => b.records.map((r) => r.value!));
      })(),
      close: () => subscription.close(),
    };
  }
  const consumer = new Consumer({ broker: config.broker, clientId: 'bench-latency', maxWaitMs: config.maxWaitMs, minBytes: 1 });
  await consumer.assign([{ topic: config.topic, partition: 0, offset: 0n }]);
  return {
    values: (async function* () {
      for await (const batch of consumer.batches()) yield batch.messages.map((m) => m.value!);
    })(),
    close: () => consumer.close(),
  };
}

async function main(config: LatencyWorkerConfig): Promise<LatencyWorkerResult> {
  const stream = await open(config);
  const latenciesNs = new Float64Array(config.records);
  let next = 0;
  // The main thread says when the producer is done: the rest must arrive within the timeout.
  let watchdog: NodeJS.Timeout | undefined;
  parentPort!.once('message', () => (watchdog = setTimeout(() => void stream.close(), config.timeoutMs)));
  parentPort!.postMessage({ ready: true });
  try {
    for await (const values of stream.values) {
      const now = process.hrtime.bigint();
      for (const value of values) {
        const seq = value.readUInt32BE(8);
        if (seq !== next) throw new Error(`record ${next} expected, got ${seq}`);
        latenciesNs[next++] = Number(now - value.readBigUInt64BE(0));
      }
      if (next === config.records) break;
    }
  } finally {
    clearTimeout(watchdog);
    await stream.close();
  }
  if (next !== config.records) throw new Error(`received ${next} of ${config.records} records before the timeout`);
  return { latenciesNs };
}

main(workerData as LatencyWorkerConfig).then(
  (result) => parentPort!.postMessage({ result }, [result.latenciesNs.buffer as ArrayBuffer]),
  (err: unknown) => parentPort!.postMessage({ error: err instanceof Error ? err.message : String(err) }),
);
