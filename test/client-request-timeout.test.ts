// Sluice's client gives up a connection whose request goes unanswered past its request timeout
// (beyond what the request asks the broker to wait), as Kafka's clients do: a broker that is cut
// off sends no reset and no close. A server that accepts and never answers stands in for it.

import t from 'tap';
import { createServer, type Socket } from 'node:net';
import { once } from 'node:events';
import { Connection } from '../src/client/connection.js';
import { ApiKey } from '../src/protocol/messages.js';

async function silentServer(t: { teardown(fn: () => void | Promise<void>): void }): Promise<number> {
  const sockets = new Set<Socket>();
  const server = createServer((s) => {
    sockets.add(s);
    s.resume(); // reads every request, answers none
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  t.teardown(() => {
    for (const s of sockets) s.destroy();
    server.close();
  });
  return (server.address() as { port: number }).port;
}

t.test('an unanswered request fails its connection with REQUEST_TIMED_OUT after the request timeout', async (t) => {
  const port = await silentServer(t);
  const c = await Connection.connect({ host: '127.0.0.1', port, requestTimeoutMs: 300 });
  t.teardown(() => c.close());
  const started = performance.now();
  const [first, second] = await Promise.allSettled([c.request(ApiKey.Metadata, 0, { topics: null }), c.request(ApiKey.Metadata, 0, { topics: null })]);
  const waitedMs = performance.now() - started;
  t.equal(first.status === 'rejected' && (first.reason as { code?: string }).code, 'REQUEST_TIMED_OUT', 'the request fails REQUEST_TIMED_OUT (retriable)');
  t.equal(second.status === 'rejected' && (second.reason as { code?: string }).code, 'REQUEST_TIMED_OUT', 'and so does the one behind it: answers come in order');
  t.ok(waitedMs >= 300 && waitedMs < 3_000, `after the timeout (${waitedMs.toFixed(0)} ms)`);
  t.ok(c.closed, 'the connection is given up');
});

t.test("a long poll is given its own wait on top of the timeout; 0 waits forever", async (t) => {
  const port = await silentServer(t);
  const c = await Connection.connect({ host: '127.0.0.1', port, requestTimeoutMs: 200 });
  t.teardown(() => c.close());
  const started = performance.now();
  const fetched = c.request(ApiKey.Fetch, 0, { maxWaitMs: 1_000, minBytes: 1, maxBytes: 1024, partitions: [] });
  await t.rejects(fetched, { code: 'REQUEST_TIMED_OUT' });
  const waitedMs = performance.now() - started;
  t.ok(waitedMs >= 1_200, `a fetch asking the broker to wait 1000 ms is given up only after 1000 + 200 ms (${waitedMs.toFixed(0)} ms)`);

  const forever = await Connection.connect({ host: '127.0.0.1', port, requestTimeoutMs: 0 });
  t.teardown(() => forever.close());
  let settled = false;
  void forever.request(ApiKey.Metadata, 0, { topics: null }).then(
    () => (settled = true),
    () => (settled = true),
  );
  await new Promise((r) => setTimeout(r, 600));
  t.notOk(settled, 'with requestTimeoutMs 0 a request waits as long as the connection lives');
  t.notOk(forever.closed, 'and the connection stays open');
});

t.test('an acks=all produce is given the broker\'s replication wait too; an acks=1 one is not', async (t) => {
  // A broker holds an acks=all produce up to its --replication-timeout-ms (30 s by default) before
  // answering; the client's timeout counts from there, or it would cut what the broker still answers.
  const port = await silentServer(t);
  const one = await Connection.connect({ host: '127.0.0.1', port, requestTimeoutMs: 200 });
  t.teardown(() => one.close());
  await t.rejects(one.request(ApiKey.Produce, 0, { acks: 1, partitions: [] }), { code: 'REQUEST_TIMED_OUT' }, 'acks=1: after the request timeout');
  const all = await Connection.connect({ host: '127.0.0.1', port, requestTimeoutMs: 200 });
  t.teardown(() => all.close());
  let settled = false;
  void all.request(ApiKey.Produce, 0, { acks: -1, partitions: [] }).then(
    () => (settled = true),
    () => (settled = true),
  );
  await new Promise((r) => setTimeout(r, 1_000));
  t.notOk(settled, 'acks=all: still waiting after 5x the request timeout');
  t.notOk(all.closed, 'its connection open');
});
