// The few Kafka requests the benchmarks send to fill and inspect a broker through its Kafka port
// (Sluice's Kafka listener or an Apache Kafka peer alike, so both hold the same bytes): CreateTopics
// v2, Produce v3 of ready-made RecordBatch v2 bytes, ListOffsets v1. Non-flexible versions that
// both brokers accept; requests are pipelined on one connection, answered in order.

import { Socket, connect } from 'node:net';
import { once } from 'node:events';
import { KafkaApi } from '../src/doors/kafka/apis.js';
import { KafkaReader, KafkaWriter, VersionedReader } from '../src/protocol/kafka-wire.js';

/** Kafka's error numbers this client acts on: retried while a fresh broker settles, or accepted. */
const RETRIABLE = new Set([3, 5, 6, 7, 15, 51]); // unknown topic, leader not available, not leader, timeout, coordinator not available, concurrent transactions
const TOPIC_ALREADY_EXISTS = 36;

export class KafkaRequestError extends Error {
  constructor(
    readonly code: number,
    what: string,
  ) {
    super(`${what}: Kafka error ${code}`);
  }
}

export class KafkaBenchClient {
  readonly #socket: Socket;
  readonly #pending: Array<{ resolve: (r: KafkaReader) => void; reject: (e: Error) => void }> = [];
  #buf: Buffer = Buffer.alloc(0);
  #correlation = 0;
  #closed: Error | null = null;

  private constructor(socket: Socket) {
    this.#socket = socket;
    socket.on('data', (chunk: Buffer) => this.#onData(chunk));
    const fail = (e: Error) => {
      this.#closed ??= e;
      for (const p of this.#pending.splice(0)) p.reject(e);
    };
    socket.on('error', fail);
    socket.on('close', () => fail(new Error('the broker closed the connection')));
  }

  static async connect(port: number, host = '127.0.0.1'): Promise<KafkaBenchClient> {
    const socket = connect({ port, host, noDelay: true });
    await once(socket, 'connect');
    return new KafkaBenchClient(socket);
  }

  /** Connects, retrying refused connections until `timeoutMs` (a JVM broker takes seconds to listen). */
  static async connectWhenListening(port: number, timeoutMs: number): Promise<KafkaBenchClient> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      try {
        return await KafkaBenchClient.connect(port);
      } catch (e) {
        if (Date.now() > deadline) throw e;
        await new Promise((r) => setTimeout(r, 100));
      }
    }
  }

  #onData(chunk: Buffer): void {
    this.#buf = this.#buf.length ? Buffer.concat([this.#buf, chunk]) : chunk;
    while (this.#buf.length >= 4) {
      const size = this.#buf.readInt32BE(0);
      if (this.#buf.length < 4 + size) return;
      const frame = this.#buf.subarray(4, 4 + size);
      this.#buf = this.#buf.subarray(4 + size);
      const reader = new KafkaReader(frame);
      reader.int32('correlation id');
      this.#pending.shift()?.resolve(reader);
    }
  }

  /** Sends one request (header v1) and resolves with a reader at the start of its response body. */
  request(apiKey: number, apiVersion: number, body: (w: KafkaWriter) => void): Promise<KafkaReader> {
    if (this.#closed) return Promise.reject(this.#closed);
    const w = new KafkaWriter().int16(apiKey).int16(apiVersion).int32(this.#correlation++).string('sluice-bench');
    body(w);
    const payload = Buffer.concat(w.pieces() as Buffer[]);
    const size = Buffer.alloc(4);
    size.writeInt32BE(payload.length);
    this.#socket.write(Buffer.concat([size, payload]));
    return new Promise((resolve, reject) => this.#pending.push({ resolve, reject }));
  }

  /** Creates `topic` (replication factor 1, `configs` as Kafka topic configs); an existing topic is fine. */
  async createTopic(topic: string, partitions: number, configs: Record<string, string> = {}): Promise<void> {
    const r = await this.request(KafkaApi.CreateTopics, 2, (w) => {
      w.array([topic], (w, name) => {
        w.string(name).int32(partitions).int16(1).array([], () => undefined);
        w.array(Object.entries(configs), (w, [k, v]) => w.string(k).string(v));
      });
      w.int32(30_000).boolean(false);
    });
    r.int32('throttle');
    const [result] = r.array((r) => ({ name: r.string(), code: r.int16(), message: r.nullableString() }));
    if (result && result.code !== 0 && result.code !== TOPIC_ALREADY_EXISTS) throw new KafkaRequestError(result.code, `create topic ${topic} (${result.message})`);
  }

  /** Produces `batch` once to each partition in `partitions`; resolves with each partition's error code. */
  async produce(topic: string, partitions: number[], batch: Buffer, acks: 1 | -1 = 1): Promise<number[]> {
    const r = await this.request(KafkaApi.Produce, 3, (w) => {
      w.string(null).int16(acks).int32(30_000);
      w.array([topic], (w, name) => w.string(name).array(partitions, (w, p) => w.int32(p).bytes(batch)));
    });
    const codes = new Map<number, number>();
    r.array((r) => {
      r.string();
      r.array((r) => {
        const p = r.int32();
        codes.set(p, r.int16());
        r.int64();
        r.int64();
      });
    });
    return partitions.map((p) => codes.get(p) ?? -1);
  }

  /**
   * One Fetch v4 of one partition (read_committed, as kafkajs sends it): the whole record batches
   * of the response (Kafka cuts responses at maxBytes, inside a batch: the partial one is left for
   * the next fetch). A partition error is thrown as a KafkaRequestError.
   */
  async fetch(topic: string, partition: number, offset: bigint, maxWaitMs: number, minBytes: number, maxBytes: number): Promise<Buffer> {
    const r = await this.request(KafkaApi.Fetch, 4, (w) => {
      w.int32(-1).int32(maxWaitMs).int32(minBytes).int32(maxBytes).int8(1);
      w.array([topic], (w, name) => w.string(name).array([partition], (w, p) => w.int32(p).int64(offset).int32(maxBytes)));
    });
    r.int32('throttle');
    let out: Buffer = Buffer.alloc(0);
    r.array((r) => {
      r.string();
      r.array((r) => {
        r.int32();
        const code = r.int16();
        r.int64();
        r.int64();
        r.nullableArray((r) => [r.int64(), r.int64()]);
        const records = r.nullableBytes() ?? Buffer.alloc(0);
        if (code !== 0) throw new KafkaRequestError(code, `fetch ${topic}-${partition}@${offset}`);
        out = records.subarray(0, wholeBatchBytes(records));
      });
    });
    return out;
  }

  /**
   * The topic's id (Metadata v10, flexible: the first version that carries ids), for Fetch v13+,
   * which names topics by id. Works against Sluice's Kafka door and Apache Kafka alike.
   */
  async topicId(topic: string): Promise<string> {
    const r = await this.request(KafkaApi.Metadata, 10, (w) => {
      w.noTaggedFields(); // request header v2
      w.compactArray([topic], (w, name) => w.uuid('00000000-0000-0000-0000-000000000000').compactString(name).noTaggedFields());
      w.boolean(false).boolean(false).boolean(false).noTaggedFields(); // no auto-create, no operations
    });
    const v = new VersionedReader(r, true);
    v.tags(); // response header v1
    r.int32('throttle');
    v.array(() => {
      r.int32('node id');
      v.string('host');
      r.int32('port');
      v.nullableString('rack');
      v.tags();
    }, 'brokers');
    v.nullableString('cluster id');
    r.int32('controller id');
    let id: string | undefined;
    v.array(() => {
      const code = r.int16('error');
      const name = v.nullableString('name');
      const topicId = r.uuid('topic id');
      r.boolean('is internal');
      v.array(() => {
        r.int16();
        r.int32();
        r.int32();
        r.int32();
        for (const what of ['replicas', 'isr', 'offline']) v.array(() => r.int32(), what);
        v.tags();
      }, 'partitions');
      r.int32('topic operations');
      v.tags();
      if (code !== 0) throw new KafkaRequestError(code, `metadata of ${topic}`);
      if (name === topic) id = topicId;
    }, 'topics');
    if (!id) throw new Error(`metadata: no id for ${topic}`);
    return id;
  }

  /** The log end offset of each partition (ListOffsets v1, latest). */
  async endOffsets(topic: string, partitions: number): Promise<bigint[]> {
    const ids = Array.from({ length: partitions }, (_, p) => p);
    const r = await this.request(KafkaApi.ListOffsets, 1, (w) => {
      w.int32(-1).array([topic], (w, name) => w.string(name).array(ids, (w, p) => w.int32(p).int64(-1n)));
    });
    const ends: bigint[] = [];
    r.array((r) => {
      r.string();
      r.array((r) => {
        const p = r.int32();
        const code = r.int16();
        r.int64();
        const offset = r.int64();
        if (code !== 0) throw new KafkaRequestError(code, `list offsets ${topic}-${p}`);
        ends[p] = offset;
      });
    });
    return ends;
  }

  async close(): Promise<void> {
    this.#socket.end();
    if (!this.#socket.destroyed) await once(this.#socket, 'close');
  }
}

/** The length of the whole RecordBatches at the start of `records` (a partial one at the end is not counted). */
function wholeBatchBytes(records: Buffer): number {
  let at = 0;
  while (at + 12 <= records.length) {
    const size = records.readInt32BE(at + 8) + 12;
    if (at + size > records.length) break;
    at += size;
  }
  return at;
}

/** Repeats `fn` while it fails with a retriable Kafka error (a fresh broker electing leaders), up to `timeoutMs`. */
export async function retryKafka<T>(timeoutMs: number, fn: () => Promise<T>): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await fn();
    } catch (e) {
      if (!(e instanceof KafkaRequestError && RETRIABLE.has(e.code)) || Date.now() > deadline) throw e;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}

/**
 * Fills `topic` with `batchesPerPartition` copies of `batch` in each partition: each request carries
 * one copy per partition (Produce v3+ takes exactly one batch per partition), acks=1, up to 16
 * requests in flight. Returns the bytes written and the seconds it took. The first request is retried while the
 * broker elects the new topic's leaders; any later error stops the load.
 */
export async function fillTopic(client: KafkaBenchClient, topic: string, partitions: number, batch: Buffer, batchesPerPartition: number): Promise<{ bytes: number; seconds: number }> {
  const all = Array.from({ length: partitions }, (_, p) => p);
  const produce = async (to: number[]) => {
    const codes = await client.produce(topic, to, batch);
    const bad = codes.findIndex((c) => c !== 0);
    if (bad >= 0) throw new KafkaRequestError(codes[bad]!, `produce to ${topic}-${to[bad]}`);
  };
  const t0 = performance.now();
  // The first batch of each partition, retried per partition (a partition that took it must not get a second).
  let waiting = all;
  await retryKafka(30_000, async () => {
    const codes = await client.produce(topic, waiting, batch);
    const failed = waiting.filter((_, i) => codes[i] !== 0);
    if (failed.length > 0) {
      const code = codes.find((c) => c !== 0)!;
      waiting = failed;
      throw new KafkaRequestError(code, `produce to ${topic}-${failed[0]}`);
    }
  });
  const inFlight: Array<Promise<void>> = [];
  for (let i = 1; i < batchesPerPartition; i++) {
    inFlight.push(produce(all));
    if (inFlight.length >= 16) await inFlight.shift();
  }
  await Promise.all(inFlight);
  return { bytes: batchesPerPartition * partitions * batch.length, seconds: (performance.now() - t0) / 1000 };
}
