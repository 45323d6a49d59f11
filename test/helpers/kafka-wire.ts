// A raw Kafka-protocol connection for tests: requests written byte by byte (header v1, or any
// bytes at all), responses read back as frames in arrival order, and a way to see the broker
// close the connection. Bad-input tests need exactly this control, which real clients do not give.

import { once } from 'node:events';
import { connect, type Socket } from 'node:net';
import { KafkaReader, KafkaWriter } from '../../src/protocol/kafka-wire.js';

export class RawKafka {
  readonly #socket: Socket;
  #buf = Buffer.alloc(0);
  readonly #frames: Buffer[] = [];
  #wake: (() => void) | undefined;
  #correlationId = 0;
  readonly closed: Promise<void>;

  private constructor(socket: Socket) {
    this.#socket = socket;
    socket.on('data', (chunk: Buffer) => {
      this.#buf = Buffer.concat([this.#buf, chunk]);
      while (this.#buf.length >= 4 && this.#buf.length >= 4 + this.#buf.readInt32BE(0)) {
        this.#frames.push(this.#buf.subarray(4, 4 + this.#buf.readInt32BE(0)));
        this.#buf = this.#buf.subarray(4 + this.#buf.readInt32BE(0));
      }
      this.#wake?.();
    });
    socket.on('error', () => undefined);
    this.closed = new Promise((resolve) => socket.once('close', () => resolve()));
    void this.closed.then(() => this.#wake?.());
  }

  static async connect(port: number): Promise<RawKafka> {
    const socket = connect(port, '127.0.0.1');
    await once(socket, 'connect');
    return new RawKafka(socket);
  }

  /** Writes a request (header v1 with client id `raw`); returns its correlation id. */
  send(apiKey: number, apiVersion: number, body: (w: KafkaWriter) => void = () => undefined): number {
    const correlationId = ++this.#correlationId;
    const w = new KafkaWriter().int16(apiKey).int16(apiVersion).int32(correlationId).string('raw');
    body(w);
    const payload = Buffer.concat(w.pieces() as Buffer[]);
    const size = Buffer.alloc(4);
    size.writeInt32BE(payload.length);
    this.#socket.write(Buffer.concat([size, payload]));
    return correlationId;
  }

  writeRaw(bytes: Buffer): void {
    this.#socket.write(bytes);
  }

  /** The next response: its correlation id and a reader at its body. Rejects if the connection closes first. */
  async next(): Promise<{ correlationId: number; body: KafkaReader }> {
    const frame = await this.nextFrame();
    return { correlationId: frame.readInt32BE(0), body: new KafkaReader(frame, 4) };
  }

  /** The next response's bytes after its size field (correlation id first). */
  async nextFrame(): Promise<Buffer> {
    while (this.#frames.length === 0) {
      if (this.#socket.destroyed) throw new Error('the broker closed the connection');
      await new Promise<void>((resolve) => (this.#wake = resolve));
    }
    return this.#frames.shift()!;
  }

  /** Sends a request and reads its response. */
  async request(apiKey: number, apiVersion: number, body?: (w: KafkaWriter) => void): Promise<KafkaReader> {
    const id = this.send(apiKey, apiVersion, body);
    const response = await this.next();
    if (response.correlationId !== id) throw new Error(`response for ${response.correlationId}, expected ${id}`);
    return response.body;
  }

  close(): void {
    this.#socket.destroy();
  }
}

/** A Produce v3 body: one partition's records, acks as given. */
export function produceBody(topic: string, partition: number, records: Buffer | null, acks = -1): (w: KafkaWriter) => void {
  return (w) => w.string(null).int16(acks).int32(5000).int32(1).string(topic).int32(1).int32(partition).bytes(records);
}

/** Reads a Produce v3 response with one partition: its error code and base offset. */
export function produceResult(r: KafkaReader): { errorCode: number; baseOffset: bigint } {
  r.int32();
  r.string();
  r.int32();
  r.int32();
  return { errorCode: r.int16(), baseOffset: r.int64() };
}

/** Sends each case's bytes on a connection of its own and waits until the broker closes it; `closed` is told each one. */
export async function closesEachConnection(port: number, cases: ReadonlyArray<[string, (k: RawKafka) => void]>, closed: (what: string) => void): Promise<void> {
  for (const [what, send] of cases) {
    const k = await RawKafka.connect(port);
    send(k);
    await k.closed;
    closed(`${what}: connection closed`);
  }
}
