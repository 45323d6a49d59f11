// The measuring consumer of `bench latency --peer kafka`, in its own worker thread: a Kafka Fetch v4
// loop (one fetch in flight, long-polling with maxWaitMs, minBytes 1) against a broker's Kafka port,
// the same for Sluice and for Kafka. Each record's value starts with the producer's send time (u64 ns
// of process.hrtime, shared by the whole machine) and its sequence number (u32); latency is receipt
// minus send time. Records must arrive complete, CRC-checked and in order.

import { parentPort, workerData } from 'node:worker_threads';
// The addon's hardware CRC-32C for the codec (clients fall back to pure TypeScript without it).
import '../src/native.js';
import { decodeRecordBatches } from '../src/protocol/record-batch.js';
import { KafkaBenchClient } from './kafka-requests.js';

export interface LatencyPeerWorkerConfig {
  port: number;
  topic: string;
  records: number;
  maxWaitMs: number;
  /** Give up this long after the producer has sent the last record. */
  timeoutMs: number;
}

async function main(config: LatencyPeerWorkerConfig): Promise<Float64Array> {
  const client = await KafkaBenchClient.connect(config.port);
  const latenciesNs = new Float64Array(config.records);
  let next = 0;
  let offset = 0n;
  let deadline = Infinity;
  parentPort!.once('message', () => (deadline = Date.now() + config.timeoutMs));
  parentPort!.postMessage({ ready: true });
  try {
    while (next < config.records) {
      if (Date.now() > deadline) throw new Error(`received ${next} of ${config.records} records before the timeout`);
      const records = await client.fetch(config.topic, 0, offset, config.maxWaitMs, 1, 1024 * 1024);
      const now = process.hrtime.bigint();
      for (const batch of decodeRecordBatches(records)) {
        for (const r of batch.records) {
          const value = r.value!;
          const seq = value.readUInt32BE(8);
          if (seq !== next) throw new Error(`record ${next} expected, got ${seq}`);
          latenciesNs[next++] = Number(now - value.readBigUInt64BE(0));
        }
        offset = batch.baseOffset + BigInt(batch.lastOffsetDelta) + 1n;
      }
    }
  } finally {
    await client.close();
  }
  return latenciesNs;
}

main(workerData as LatencyPeerWorkerConfig).then(
  (latenciesNs) => parentPort!.postMessage({ result: { latenciesNs } }, [latenciesNs.buffer as ArrayBuffer]),
  (err: unknown) => parentPort!.postMessage({ error: err instanceof Error ? err.message : String(err) }),
);
