// A client's link to the broker: one lazily (re)opened Connection, typed calls that turn error
// responses into SluiceErrors, a retry helper with backoff for retriable errors, and a topic
// metadata cache. The producer, consumer and admin each hold one or more of these.

import { SluiceError } from '../errors.js';
import { ApiKey, type MetadataResponse } from '../protocol/messages.js';
import { Connection, responseError, type Response } from './connection.js';

export interface ClientOptions {
  /** `host:port` of the broker (default `127.0.0.1:9292`). */
  broker?: string;
  clientId?: string;
  connectTimeoutMs?: number;
  /** Attempts after the first for retriable errors (default 5). */
  retries?: number;
  /** Authenticates every connection with this token (brokers run with --auth-file need one). */
  token?: string;
  /** First backoff between attempts; doubles each time, up to 5 s (default 100 ms). */
  retryBackoffMs?: number;
}

export const DEFAULT_PORT = 9292;
export const DEFAULT_BROKER = `127.0.0.1:${DEFAULT_PORT}`;

/** `host:port`, or a host alone for the default port (9292), as kcat's `-b localhost` means its default. */
export function parseBroker(address: string): { host: string; port: number } {
  const trimmed = address.trim();
  // A bare host: a name, an IPv4 address, or a bracketed or plain IPv6 address (two colons or more).
  if (trimmed !== '' && (/^[^:]+$/.test(trimmed) || /^\[[^\]]+\]$/.test(trimmed) || (trimmed.split(':').length > 2 && !/^\[/.test(trimmed)))) {
    return { host: trimmed.replace(/^\[(.*)\]$/, '$1'), port: DEFAULT_PORT };
  }
  const m = /^(.*):(\d+)$/.exec(trimmed);
  const port = m ? Number(m[2]) : NaN;
  if (!m || !m[1] || !Number.isInteger(port) || port < 1 || port > 65535) {
    throw new SluiceError('INVALID_CONFIG', `broker address must be host:port, got ${JSON.stringify(address)}`);
  }
  return { host: m[1].replace(/^\[(.*)\]$/, '$1'), port };
}

export class BrokerClient {
  readonly clientId: string;
  readonly retries: number;
  readonly retryBackoffMs: number;
  readonly #host: string;
  readonly #port: number;
  readonly #connectTimeoutMs: number;
  readonly #token: string | undefined;
  #connection: Promise<Connection> | undefined;
  #closed = false;
  readonly #partitionCounts = new Map<string, number>();

  constructor(options: ClientOptions = {}) {
    const { host, port } = parseBroker(options.broker ?? DEFAULT_BROKER);
    this.#host = host;
    this.#port = port;
    this.clientId = options.clientId ?? 'sluice-client';
    this.#connectTimeoutMs = options.connectTimeoutMs ?? 10_000;
    this.#token = options.token;
    this.retries = options.retries ?? 5;
    this.retryBackoffMs = options.retryBackoffMs ?? 100;
  }

  /** Sends a request; an error response becomes a thrown SluiceError. */
  async call<T>(apiKey: number, body: unknown, data: readonly Uint8Array[] = []): Promise<T> {
    return (await this.request(apiKey, body, data)).body as T;
  }

  async request(apiKey: number, body: unknown, data: readonly Uint8Array[] = []): Promise<Response> {
    const connection = await this.#connect();
    const response = await connection.request(apiKey, 0, body, data);
    const err = responseError(response.body);
    if (err) throw err;
    return response;
  }

  /** The open connection (opened, and authenticated, if need be). */
  connection(): Promise<Connection> {
    return this.#connect();
  }

  /** A request that gets no response (produce with acks=0). */
  async send(apiKey: number, body: unknown, data: readonly Uint8Array[] = []): Promise<void> {
    (await this.#connect()).send(apiKey, 0, body, data);
  }

  /** Runs `fn`, retrying retriable errors (a lost connection included) with exponential backoff. */
  async withRetries<T>(fn: () => Promise<T>): Promise<T> {
    for (let attempt = 0; ; attempt++) {
      try {
        return await fn();
      } catch (err) {
        if (this.#closed || attempt >= this.retries || !(err instanceof SluiceError) || !err.retriable) throw err;
        await sleep(this.backoffMs(attempt));
      }
    }
  }

  backoffMs(attempt: number): number {
    return Math.min(5_000, this.retryBackoffMs * 2 ** attempt);
  }

  /** Partition count of `topic` (cached); UNKNOWN_TOPIC_OR_PARTITION if it does not exist. */
  async partitionCount(topic: string, refresh = false): Promise<number> {
    if (!refresh) {
      const cached = this.#partitionCounts.get(topic);
      if (cached !== undefined) return cached;
    }
    const meta = await this.call<MetadataResponse>(ApiKey.Metadata, { topics: [topic] });
    const t = meta.topics[0];
    if (!t || t.error) throw new SluiceError((t?.error?.code as 'UNKNOWN_TOPIC_OR_PARTITION') ?? 'UNKNOWN_TOPIC_OR_PARTITION', t?.error?.message ?? `topic ${topic} does not exist`);
    this.#partitionCounts.set(topic, t.partitions.length);
    return t.partitions.length;
  }

  /** The cached partition count of `topic`, if any (no request). */
  cachedPartitionCount(topic: string): number | undefined {
    return this.#partitionCounts.get(topic);
  }

  forgetTopic(topic: string): void {
    this.#partitionCounts.delete(topic);
  }

  async close(): Promise<void> {
    this.#closed = true;
    const c = this.#connection;
    this.#connection = undefined;
    if (c) await c.then((conn) => conn.close(), () => undefined);
  }

  /** The open connection, or a new one when there is none or it failed (callers share one attempt). */
  async #connect(): Promise<Connection> {
    for (;;) {
      if (this.#closed) throw new SluiceError('NETWORK_EXCEPTION', 'the client is closed');
      const current = (this.#connection ??= Connection.connect({
        host: this.#host,
        port: this.#port,
        clientId: this.clientId,
        connectTimeoutMs: this.#connectTimeoutMs,
      }).then((c) => (this.#token === undefined ? c : authenticate(c, this.#token))));
      try {
        const c = await current;
        if (!c.closed) return c;
      } catch (err) {
        if (this.#connection === current) this.#connection = undefined;
        throw err;
      }
      if (this.#connection === current) this.#connection = undefined;
    }
  }
}

/** Authenticates a fresh connection; closes it and throws the broker's error when refused. */
async function authenticate(c: Connection, token: string): Promise<Connection> {
  const response = await c.request(ApiKey.Authenticate, 0, { mechanism: 'token', token });
  const err = responseError(response.body);
  if (err) {
    await c.close();
    throw err;
  }
  return c;
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
