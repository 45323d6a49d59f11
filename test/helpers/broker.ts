// A real broker process for tests: `sluice broker` on port 0 (metrics too) with a temp data dir,
// its ready line parsed for the ports, its JSON log lines kept, and a typed way to talk to it.
// The Kafka listener is off unless asked for (`kafka: true`: on a free port, since `--kafka-port 0`
// means off). Teardown SIGKILLs whatever is still running.

import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { Connection, responseError, type Response } from '../../src/client/connection.js';
import { ApiKey } from '../../src/protocol/messages.js';
import { decodeRecordBatches, type DecodedBatch } from '../../src/protocol/record-batch.js';
import { freePort, MAIN } from '../harness/broker-process.js';
import { tmpDir } from './tmp.js';
import { BROKER_NODE_FLAGS } from '../../src/app/settings.js';

export { MAIN };

type Teardown = { teardown(fn: () => void | Promise<void>): void };

export interface RunningBroker {
  proc: ChildProcess;
  dataDir: string;
  port: number;
  metricsPort: number | null;
  /** The Kafka listener's port; null when it is off. */
  kafkaPort: number | null;
  /** Every stdout line so far (JSON log lines parsed; others as strings). */
  lines: Array<Record<string, unknown> | string>;
  stderr(): string;
  connect(clientId?: string): Promise<Connection>;
  /** Sends `signal` and resolves with the exit code. */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

export interface StartOptions {
  dataDir?: string;
  args?: string[];
  env?: NodeJS.ProcessEnv;
  /** Turns the Kafka listener on (on a free port). */
  kafka?: boolean;
  /** Prepended to the broker's command line (e.g. `ip netns exec NS`: a host of its own). */
  command?: string[];
  /** Where connect() reaches it (default 127.0.0.1; give its --host). */
  host?: string;
}

export async function startBroker(t: Teardown, options: StartOptions = {}): Promise<RunningBroker> {
  const dataDir = options.dataDir ?? tmpDir(t);
  const kafkaPort = options.kafka ? await freePort() : 0;
  const command = [...(options.command ?? []), process.execPath];
  const proc = spawn(
    command[0]!,
    [...command.slice(1), ...BROKER_NODE_FLAGS, MAIN, 'broker', '--data', dataDir, '--port', '0', '--metrics-port', '0', '--kafka-port', String(kafkaPort), '--log-format', 'json', ...(options.args ?? [])],
    { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...options.env } },
  );
  const lines: RunningBroker['lines'] = [];
  let stderr = '';
  proc.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  const connections: Connection[] = [];
  t.teardown(async () => {
    await Promise.all(connections.map((c) => c.close().catch(() => undefined)));
    if (proc.exitCode === null && proc.signalCode === null) {
      proc.kill('SIGKILL');
      await once(proc, 'exit');
    }
  });

  const ready = new Promise<{ port: number; metricsPort: number | null; kafkaPort: number | null }>((resolve, reject) => {
    let partial = '';
    proc.stdout!.setEncoding('utf8').on('data', (d: string) => {
      partial += d;
      const complete = partial.split('\n');
      partial = complete.pop()!;
      for (const line of complete) {
        const m = /^sluice listening on [^\s]+:(\d+)/.exec(line);
        if (m) {
          const kafka = /kafka on [^\s,)]+:(\d+)/.exec(line);
          const metrics = /metrics on http:\/\/[^:]+:(\d+)\/metrics/.exec(line);
          resolve({ port: Number(m[1]), metricsPort: metrics ? Number(metrics[1]) : null, kafkaPort: kafka ? Number(kafka[1]) : null });
        }
        try {
          lines.push(JSON.parse(line) as Record<string, unknown>);
        } catch {
          lines.push(line);
        }
      }
    });
    proc.once('exit', (code) => reject(new Error(`broker exited with ${code} before it was ready: ${stderr}`)));
  });
  const { port, metricsPort, kafkaPort: listening } = await ready;
  return {
    proc,
    dataDir,
    port,
    metricsPort,
    kafkaPort: listening,
    lines,
    stderr: () => stderr,
    async connect(clientId = 'test') {
      const c = await Connection.connect({ host: options.host ?? '127.0.0.1', port, clientId });
      connections.push(c);
      return c;
    },
    async stop(signal = 'SIGTERM') {
      if (proc.exitCode !== null || proc.signalCode !== null) return proc.exitCode;
      proc.kill(signal);
      const [code] = (await once(proc, 'exit')) as [number | null];
      return code;
    },
  };
}

/** Resolves with the response body; rejects with the SluiceError of an error response. */
export async function call<T = Record<string, unknown>>(c: Connection, apiKey: number, body: unknown, data: Uint8Array[] = []): Promise<T> {
  const response = await c.request(apiKey, 0, body, data);
  const err = responseError(response.body);
  if (err) throw err;
  return response.body as T;
}

export async function createTopic(c: Connection, name: string, partitions = 1, config: Record<string, unknown> = {}): Promise<void> {
  const body = await call<{ topics: Array<{ name: string; error?: { code: string; message: string } }> }>(c, ApiKey.CreateTopics, {
    topics: [{ name, partitions, config }],
  });
  if (body.topics[0]?.error) throw new Error(`create ${name}: ${body.topics[0].error.code} ${body.topics[0].error.message}`);
}

export interface ProducedPartition {
  topic: string;
  partition: number;
  error?: { code: string; message: string };
  baseOffset?: bigint;
  lastOffset?: bigint;
}

/** Produces `batches` (one buffer of batches per partition) and returns the per-partition results. */
export async function produce(
  c: Connection,
  parts: Array<{ topic: string; partition: number; batches: Buffer }>,
  acks: 0 | 1 | -1 = 1,
): Promise<ProducedPartition[]> {
  const body = await call<{ partitions: ProducedPartition[] }>(
    c,
    ApiKey.Produce,
    { acks, partitions: parts.map((p) => ({ topic: p.topic, partition: p.partition, bytes: p.batches.length })) },
    parts.map((p) => p.batches),
  );
  return body.partitions;
}

export interface FetchedPartition {
  topic: string;
  partition: number;
  error?: { code: string; message: string };
  highWatermark: bigint;
  logStartOffset: bigint;
  bytes: number;
  /** This partition's slice of the frame's data. */
  records: Buffer;
}

export async function fetch(
  c: Connection,
  parts: Array<{ topic: string; partition: number; offset: bigint; maxBytes?: number }>,
  options: { maxWaitMs?: number; minBytes?: number; maxBytes?: number } = {},
): Promise<FetchedPartition[]> {
  const response: Response = await c.request(ApiKey.Fetch, 0, { maxWaitMs: 0, minBytes: 1, ...options, partitions: parts });
  const err = responseError(response.body);
  if (err) throw err;
  let position = 0;
  return (response.body as { partitions: Omit<FetchedPartition, 'records'>[] }).partitions.map((p) => {
    const records = response.data.subarray(position, position + p.bytes);
    position += p.bytes;
    return { ...p, records };
  });
}

/** Every batch of a partition from its log start to its high watermark, decoded, in offset order. */
export async function fetchAllBatches(c: Connection, topic: string, partition = 0): Promise<DecodedBatch[]> {
  const batches: DecodedBatch[] = [];
  for (let offset = 0n; ; ) {
    const [p] = await fetch(c, [{ topic, partition, offset, maxBytes: 1 << 20 }]);
    if (p!.error) throw new Error(`fetch ${topic}-${partition}@${offset}: ${p!.error.code}`);
    if (p!.bytes === 0) return batches;
    for (const b of decodeRecordBatches(p!.records)) {
      batches.push(b);
      offset = b.baseOffset + BigInt(b.lastOffsetDelta) + 1n;
    }
  }
}

/** GET /metrics as text. */
export async function scrape(broker: RunningBroker): Promise<string> {
  const res = await globalThis.fetch(`http://127.0.0.1:${broker.metricsPort}/metrics`);
  return res.text();
}

/**
 * GET /metrics until `ready` holds for its text (or `timeoutMs` passes; the last text is returned
 * either way, for the assertions to report). A request's duration is recorded when the broker
 * learns that its response left, which on the native paths is a completion the sender thread posts
 * after the bytes are in the kernel: the client can read the response before the broker counts it.
 */
export async function scrapeWhen(broker: RunningBroker, ready: (text: string) => boolean, timeoutMs = 5_000): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const text = await scrape(broker);
    if (ready(text) || Date.now() > deadline) return text;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
