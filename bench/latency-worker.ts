// The measuring consumer of the end-to-end latency benchmark, in its own worker thread: a real
// Consumer (src/client) reading the partition from offset 0. Each record's value starts with the
// producer's send time (u64 ns of process.hrtime, a monotonic clock the whole machine shares) and
// its sequence number (u32); the latency is receipt minus send time. Records must arrive complete
// and in order.

import { parentPort, workerData } from 'node:worker_threads';
import { Consumer } from '../src/client/consumer.js';

export interface LatencyWorkerConfig {
  broker: string;
  topic: string;
  records: number;
  maxWaitMs: number;
  /** Give up this long after the producer has sent the last record. */
  timeoutMs: number;
}

export interface LatencyWorkerResult {
  /** Per record, in sequence order: nanoseconds from send() to receipt. */
  latenciesNs: Float64Array;
}

async function main(config: LatencyWorkerConfig): Promise<LatencyWorkerResult> {
  const consumer = new Consumer({ broker: config.broker, clientId: 'bench-latency', maxWaitMs: config.maxWaitMs, minBytes: 1 });
  await consumer.assign([{ topic: config.topic, partition: 0, offset: 0n }]);
  const latenciesNs = new Float64Array(config.records);
  let next = 0;
  // The main thread says when the producer is done: the rest must arrive within the timeout.
  let watchdog: NodeJS.Timeout | undefined;
  parentPort!.once('message', () => (watchdog = setTimeout(() => void consumer.close(), config.timeoutMs)));
  parentPort!.postMessage({ ready: true });
  try {
    for await (const batch of consumer.batches()) {
      const now = process.hrtime.bigint();
      for (const m of batch.messages) {
        const value = m.value!;
        const seq = value.readUInt32BE(8);
        if (seq !== next) throw new Error(`record ${next} expected, got ${seq} at offset ${m.offset}`);
        latenciesNs[next++] = Number(now - value.readBigUInt64BE(0));
      }
      if (next === config.records) break;
    }
  } finally {
    clearTimeout(watchdog);
    await consumer.close();
  }
  if (next !== config.records) throw new Error(`received ${next} of ${config.records} records before the timeout`);
  return { latenciesNs };
}

main(workerData as LatencyWorkerConfig).then(
  (result) => parentPort!.postMessage({ result }, [result.latenciesNs.buffer as ArrayBuffer]),
  (err: unknown) => parentPort!.postMessage({ error: err instanceof Error ? err.message : String(err) }),
);
