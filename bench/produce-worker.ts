// One producer of the produce benchmark, in its own worker thread: a real Producer (src/client)
// sending records of one size for a fixed time, keeping at most `bufferBytes` unacknowledged (as
// Kafka's buffer.memory does), and timing every send() call to its acknowledgement.

import { parentPort, workerData } from 'node:worker_threads';
// The addon's hardware CRC-32C for the codec (clients fall back to pure TypeScript without it).
import '../src/native.js';
import { Producer, type ProducerRecord } from '../src/client/producer.js';
import type { BenchAcks } from './produce.js';

export interface ProduceWorkerConfig {
  broker: string;
  topic: string;
  recordBytes: number;
  acks: BenchAcks;
  lingerMs: number;
  batchBytes: number;
  /** Records per send() call. */
  sendRecords: number;
  seconds: number;
  bufferBytes: number;
}

export interface ProduceWorkerResult {
  records: number;
  bytes: number;
  seconds: number;
  /** Milliseconds from send() to its acknowledgement, one per call. */
  ackLatenciesMs: number[];
}

async function main(config: ProduceWorkerConfig): Promise<ProduceWorkerResult> {
  const producer = new Producer({
    broker: config.broker,
    acks: config.acks === 1 ? 1 : 'all',
    idempotent: config.acks === 'all',
    lingerMs: config.lingerMs,
    batchBytes: config.batchBytes,
    clientId: 'bench-produce',
  });
  // The value is shared by every record (the producer copies it into the batch it encodes).
  const value = Buffer.alloc(config.recordBytes, 0x62);
  const records: ProducerRecord[] = Array.from({ length: config.sendRecords }, () => ({ value }));
  const callBytes = config.sendRecords * config.recordBytes;
  await producer.send(config.topic, []); // metadata and the connection, before the clock starts
  parentPort!.postMessage({ ready: true });
  await new Promise((resolve) => parentPort!.once('message', resolve));

  const ackLatenciesMs: number[] = [];
  let acked = 0;
  let outstandingBytes = 0;
  let wake: (() => void) | undefined;
  let failure: unknown;
  let calls = 0;
  const t0 = performance.now();
  const end = t0 + config.seconds * 1000;
  while (performance.now() < end && failure === undefined) {
    if (outstandingBytes + callBytes > config.bufferBytes) {
      await new Promise<void>((resolve) => (wake = resolve));
      continue;
    }
    const sentAt = performance.now();
    outstandingBytes += callBytes;
    producer.send(config.topic, records).then(
      (results) => {
        acked += results.length;
        outstandingBytes -= callBytes;
        ackLatenciesMs.push(performance.now() - sentAt);
        wake?.();
      },
      (err: unknown) => {
        failure = err;
        wake?.();
      },
    );
    // Let acknowledgements and the socket in between calls, as an application's event loop would.
    if (++calls % 16 === 0) await new Promise((resolve) => setImmediate(resolve));
  }
  await producer.flush();
  const seconds = (performance.now() - t0) / 1000;
  await producer.close();
  if (failure !== undefined) throw failure;
  return { records: acked, bytes: acked * config.recordBytes, seconds, ackLatenciesMs };
}

main(workerData as ProduceWorkerConfig).then(
  (result) => parentPort!.postMessage({ result }),
  (err: unknown) => parentPort!.postMessage({ error: err instanceof Error ? `${err.name}: ${err.message}` : String(err) }),
);
