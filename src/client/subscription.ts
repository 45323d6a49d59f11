// A push subscription from the client's side: one Subscribe, then the broker streams the
// partition's batches as they are appended; no request per batch. Iterate it (`for await`) to get
// each push's batches in order. Flow control is by credit: the subscription grants the broker
// `windowBytes` at the start and grants again each time the application has taken half a window,
// so the bytes held here (received, not yet taken) never exceed the window.
//
// It ends when the application stops iterating or calls `close()` (Unsubscribe), when the broker
// ends it (the iterator throws its SluiceError: UNKNOWN_TOPIC_OR_PARTITION after a topic deletion,
// OFFSET_OUT_OF_RANGE when retention passed it, MESSAGE_TOO_LARGE when a batch is larger than the
// window), or when the connection fails (NETWORK_EXCEPTION). It does not reconnect: open a new one
// from `nextOffset` to resume.
//
// It subscribes at the partition's leader (the cluster metadata names it; a single broker is the
// bootstrap one). Opening asks again, after a refresh and a backoff, while the answer says
// leadership moved (NOT_LEADER_OR_FOLLOWER, LEADER_NOT_AVAILABLE, ...) or the leader cannot be
// reached, up to the client's `retries`.

import { SluiceError, isErrorCode } from '../errors.js';
import { decodeRecordBatches, type DecodedBatch } from '../protocol/record-batch.js';
import { ApiKey, EARLIEST_TIMESTAMP, LATEST_TIMESTAMP, type PushBody, type SubscribeResponse } from '../protocol/messages.js';
import { BrokerClient, sleep, type BrokerTarget, type ClientOptions } from './broker-client.js';
import { isLeadershipError } from './cluster-metadata.js';
import { responseError, type Connection } from './connection.js';

export interface SubscriptionOptions extends ClientOptions {
  topic: string;
  partition?: number;
  /** Where to start: an offset, `earliest` or `latest` (only records appended from now on). */
  offset: bigint | 'earliest' | 'latest';
  /** The most unread data the broker may send ahead of the application (default 4 MiB); at least the largest batch. */
  windowBytes?: number;
}

/** One push: whole record batches, the first holding the subscription's offset. */
export interface PushedBatches {
  /** The raw batches as stored (`decodeRecordBatches` reads them; `batches()` does it for you). */
  data: Buffer;
  /** Where the next push starts. */
  nextOffset: bigint;
  highWatermark: bigint;
  logStartOffset: bigint;
  batches(): DecodedBatch[];
}

export const DEFAULT_WINDOW_BYTES = 4 * 1024 * 1024;

export class Subscription implements AsyncIterable<PushedBatches> {
  readonly topic: string;
  readonly partition: number;
  readonly windowBytes: number;
  readonly #client: BrokerClient;
  readonly #connection: Connection;
  readonly #id: number;
  readonly #queue: PushedBatches[] = [];
  #waiter: (() => void) | undefined;
  #error: Error | undefined;
  #closed = false;
  /** Taken by the application, not yet granted back. */
  #taken = 0;
  #nextOffset: bigint;

  private constructor(options: SubscriptionOptions, client: BrokerClient, connection: Connection, id: number, offset: bigint) {
    this.topic = options.topic;
    this.partition = options.partition ?? 0;
    this.windowBytes = options.windowBytes ?? DEFAULT_WINDOW_BYTES;
    this.#client = client;
    this.#connection = connection;
    this.#id = id;
    this.#nextOffset = offset;
  }

  static async open(options: SubscriptionOptions): Promise<Subscription> {
    const client = new BrokerClient(options);
    const topicPartition = { topic: options.topic, partition: options.partition ?? 0 };
    try {
      for (let attempt = 0; ; attempt++) {
        const [route] = await client.routes([topicPartition]);
        try {
          return await Subscription.#subscribe(options, client, route!.target);
        } catch (err) {
          const moved = err instanceof SluiceError && (isLeadershipError(err.code) || (route!.target !== 'bootstrap' && err.retriable));
          if (!moved || attempt >= client.retries) throw err;
          client.forgetTopic(options.topic);
          await sleep(client.backoffMs(attempt));
        }
      }
    } catch (err) {
      await client.close();
      throw err;
    }
  }

  /** One Subscribe at `target`; throws the broker's refusal. */
  static async #subscribe(options: SubscriptionOptions, client: BrokerClient, target: BrokerTarget): Promise<Subscription> {
    const connection = await client.connectionAt(target);
    const offset = options.offset === 'earliest' ? EARLIEST_TIMESTAMP : options.offset === 'latest' ? LATEST_TIMESTAMP : options.offset;
    let subscription: Subscription | undefined;
    const early: Array<[unknown, Buffer]> = [];
    let failed: Error | undefined;
    const response = await connection.subscribe(
      ApiKey.Subscribe,
      0,
      { topic: options.topic, partition: options.partition ?? 0, offset, windowBytes: options.windowBytes ?? DEFAULT_WINDOW_BYTES },
      {
        // Pushes can arrive before this function resumes: they wait in `early`.
        push: (body, data) => (subscription ? subscription.#onPush(body as PushBody, data) : early.push([body, data])),
        fail: (err) => (subscription ? subscription.#fail(err) : (failed = err)),
      },
    );
    const err = responseError(response.body);
    if (err) throw err;
    const body = response.body as SubscribeResponse;
    const start = typeof offset === 'bigint' && offset >= 0n ? offset : offset === EARLIEST_TIMESTAMP ? body.logStartOffset : body.highWatermark;
    subscription = new Subscription(options, client, connection, body.subscriptionId!, start);
    for (const [b, d] of early) subscription.#onPush(b as PushBody, d);
    if (failed) subscription.#fail(failed);
    return subscription;
  }

  /** Where the next push will start (after everything received so far). */
  get nextOffset(): bigint {
    return this.#nextOffset;
  }

  /** Unsubscribes and closes the connection; iteration ends. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#connection.stopListening(this.#id);
    this.#wake();
    if (!this.#connection.closed) await this.#connection.request(ApiKey.Unsubscribe, 0, { subscriptionId: this.#id }).catch(() => undefined);
    await this.#client.close();
  }

  async *[Symbol.asyncIterator](): AsyncGenerator<PushedBatches> {
    try {
      for (;;) {
        const push = this.#queue.shift();
        if (push) {
          this.#took(push.data.length);
          yield push;
          continue;
        }
        if (this.#error) throw this.#error;
        if (this.#closed) return;
        await new Promise<void>((resolve) => (this.#waiter = resolve));
      }
    } finally {
      await this.close();
    }
  }

  #onPush(body: PushBody, data: Buffer): void {
    if (this.#closed) return;
    if (body.error) {
      this.#error = new SluiceError(isErrorCode(body.error.code) ? body.error.code : 'UNKNOWN_SERVER_ERROR', body.error.message);
      this.#connection.stopListening(this.#id);
    } else {
      this.#nextOffset = body.nextOffset!;
      this.#queue.push({ data, nextOffset: body.nextOffset!, highWatermark: body.highWatermark, logStartOffset: body.logStartOffset, batches: () => decodeRecordBatches(data) });
    }
    this.#wake();
  }

  #fail(err: Error): void {
    this.#error ??= err;
    this.#wake();
  }

  #wake(): void {
    const w = this.#waiter;
    this.#waiter = undefined;
    w?.();
  }

  /** Grants the broker what the application has taken, half a window at a time. */
  #took(bytes: number): void {
    this.#taken += bytes;
    if (this.#taken < this.windowBytes / 2 || this.#connection.closed) return;
    this.#connection.send(ApiKey.Credit, 0, { subscriptionId: this.#id, bytes: this.#taken });
    this.#taken = 0;
  }
}
