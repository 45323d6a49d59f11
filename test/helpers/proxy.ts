// TCP proxies for fault and ordering tests, between a client and a real broker.
// - faultyProxy (either protocol): forwards both ways, cuts the broker's responses into whole
//   frames (both protocols frame with a 4-byte big-endian size), and can lose a response after the
//   broker has written it: the frame is dropped and both connections close, as when a network
//   fails between the broker's write and the client's read. The upstream port can change.
// - sluiceProxy (Sluice's protocol): reads each request's and response's API, and per frame passes
//   it, holds a response until released, or cuts the connection; tests wait on the requests seen.

import { once } from 'node:events';
import { connect, createServer, type Socket } from 'node:net';
import { decodeRequestMeta, decodeResponseMeta } from '../../src/protocol/codec.js';

export interface FaultyProxy {
  readonly port: number;
  /** Response frames forwarded and lost so far. */
  readonly forwarded: number;
  readonly lost: number;
  /** Where new connections go from now on. */
  upstreamPort: number;
  /** Decides, per response frame (counted from 1 over the proxy's life), whether to lose it. */
  lose: (n: number, frame: Buffer) => boolean;
}

/** Whole frames (size prefix included) out of a byte stream, in order, as each completes. */
export function frameCutter(onFrame: (frame: Buffer) => void): (chunk: Buffer) => void {
  let pending: Buffer = Buffer.alloc(0);
  return (chunk) => {
    pending = pending.length === 0 ? chunk : Buffer.concat([pending, chunk]);
    while (pending.length >= 4 && pending.length >= 4 + pending.readUInt32BE(0)) {
      const frame = pending.subarray(0, 4 + pending.readUInt32BE(0));
      pending = pending.subarray(frame.length);
      onFrame(frame);
    }
  };
}

export async function faultyProxy(t: { teardown(fn: () => void): void }, upstreamPort: number): Promise<FaultyProxy> {
  const sockets = new Set<Socket>();
  let responses = 0;
  const state = {
    port: 0,
    forwarded: 0,
    lost: 0,
    upstreamPort,
    lose: (_n: number, _frame: Buffer) => false,
  };
  const server = createServer((client) => {
    const upstream = connect(state.upstreamPort, '127.0.0.1');
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
      s.on('error', () => undefined);
    }
    client.on('data', (chunk: Buffer) => upstream.write(chunk));
    upstream.on(
      'data',
      frameCutter((frame) => {
        if (client.destroyed) return;
        if (state.lose(++responses, frame)) {
          state.lost++;
          client.destroy();
          upstream.destroy();
          return;
        }
        state.forwarded++;
        client.write(frame);
      }),
    );
    client.on('close', () => upstream.destroy());
    upstream.on('close', () => client.destroy());
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  state.port = (server.address() as { port: number }).port;
  t.teardown(() => {
    for (const s of sockets) s.destroy();
    server.close();
  });
  return state;
}

export type Verdict = 'pass' | 'hold' | 'cut';

export interface SluiceProxy {
  readonly port: number;
  /** Resolves once `count` requests with `apiKey` have reached the proxy (over its life). */
  requests(apiKey: number, count?: number): Promise<void>;
  requestCount(apiKey: number): number;
  /** Sends the oldest held response; resolves once there was one to send. */
  releaseOne(): Promise<void>;
  /** Sends what is held and lets every response through from now on. */
  releaseAll(): void;
}

/**
 * A proxy to `port` that cuts both directions into frames and asks, per frame, what to do with it:
 * `onRequest(apiKey, n)` ('pass', or 'cut': the request is dropped and both connections close, so
 * the broker never sees it) and `onResponse(apiKey, n)` of the request it answers ('pass', 'hold'
 * until released, or 'cut': dropped after the broker acted on the request, both connections
 * closed); n counts that API's frames over the proxy's life, from 1. By default everything passes.
 */
export async function sluiceProxy(
  t: { teardown(fn: () => void): void },
  port: number,
  decide: { onRequest?: (apiKey: number, n: number) => 'pass' | 'cut'; onResponse?: (apiKey: number, n: number) => Verdict } = {},
): Promise<SluiceProxy> {
  const requests = new Map<number, number>();
  const responses = new Map<number, number>();
  const held: Array<{ client: Socket; frame: Buffer }> = [];
  const wakes = new Set<() => void>();
  const wakeAll = () => {
    for (const wake of [...wakes]) wake();
  };
  const until = async (done: () => boolean) => {
    while (!done()) {
      await new Promise<void>((resolve) => {
        const wake = () => {
          wakes.delete(wake);
          resolve();
        };
        wakes.add(wake);
      });
    }
  };
  let passThrough = false;
  const sockets = new Set<Socket>();
  const server = createServer((client) => {
    const upstream = connect(port, '127.0.0.1');
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
      s.on('error', () => undefined);
    }
    const apiKeys = new Map<number, number>();
    const cut = () => {
      client.destroy();
      upstream.destroy();
    };
    client.on(
      'data',
      frameCutter((frame) => {
        const { apiKey, correlationId } = decodeRequestMeta(frame.subarray(8, 8 + frame.readUInt32BE(4))).header;
        const n = (requests.get(apiKey) ?? 0) + 1;
        requests.set(apiKey, n);
        wakeAll();
        if ((decide.onRequest?.(apiKey, n) ?? 'pass') === 'cut') return cut();
        apiKeys.set(correlationId, apiKey);
        upstream.write(frame);
      }),
    );
    upstream.on(
      'data',
      frameCutter((frame) => {
        const { correlationId } = decodeResponseMeta(frame.subarray(8, 8 + frame.readUInt32BE(4)));
        const apiKey = apiKeys.get(correlationId)!;
        const n = (responses.get(apiKey) ?? 0) + 1;
        responses.set(apiKey, n);
        const verdict = passThrough ? 'pass' : (decide.onResponse?.(apiKey, n) ?? 'pass');
        if (verdict === 'cut') return cut();
        if (verdict === 'hold') {
          held.push({ client, frame });
          wakeAll();
        } else client.write(frame);
      }),
    );
    client.on('close', () => upstream.destroy());
    upstream.on('close', () => client.destroy());
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  t.teardown(() => {
    for (const s of sockets) s.destroy();
    server.close();
  });
  return {
    port: (server.address() as { port: number }).port,
    requests: (apiKey, count = 1) => until(() => (requests.get(apiKey) ?? 0) >= count),
    requestCount: (apiKey) => requests.get(apiKey) ?? 0,
    async releaseOne() {
      await until(() => held.length > 0);
      const h = held.shift()!;
      h.client.write(h.frame);
    },
    releaseAll() {
      passThrough = true;
      for (const h of held.splice(0)) h.client.write(h.frame);
    },
  };
}
