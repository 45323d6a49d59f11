// A TCP proxy for fault tests: forwards both ways, cuts the broker's responses into whole frames
// (both protocols frame with a 4-byte big-endian size), and can lose a response after the broker
// has written it: the frame is dropped and both connections close, as when a network fails between
// the broker's write and the client's read. The upstream port can change (a restarted broker).

import { once } from 'node:events';
import { connect, createServer, type Socket } from 'node:net';

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
