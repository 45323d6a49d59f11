// A free loopback port for a process about to be started: bound to port 0, read, released. The
// process binds it next; a start that loses the race (EADDRINUSE) is retried by the caller.

import { once } from 'node:events';
import { createServer, type AddressInfo } from 'node:net';

export async function freePort(): Promise<number> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}
