// The broker's HTTP endpoint beside /metrics: /healthz and /readyz answer 200 while it serves and
// 503 once it is stopping (while it still drains connections); sluice_build_info and the first log
// line say which version runs.

import t from 'tap';
import { connect } from 'node:net';
import { once } from 'node:events';
import { encodeRequest } from '../src/protocol/codec.js';
import { ApiKey } from '../src/protocol/messages.js';
import { encodeRecordBatch } from '../src/protocol/record-batch.js';
import { createTopic, produce, scrape, startBroker } from './helpers/broker.js';

async function get(port: number, path: string): Promise<{ status: number; body: string }> {
  const res = await fetch(`http://127.0.0.1:${port}${path}`);
  return { status: res.status, body: await res.text() };
}

t.test('healthz and readyz: 200 while serving, 503 while stopping; build info and version', async (t) => {
  const broker = await startBroker(t, { args: ['--shutdown-timeout-ms', '20000'] });
  const port = broker.metricsPort!;
  t.same(await get(port, '/healthz'), { status: 200, body: '{"status":"serving"}\n' });
  t.same(await get(port, '/readyz'), { status: 200, body: '{"status":"serving"}\n' });
  t.match(await scrape(broker), /^sluice_build_info\{version="0\.1\.0",node="[\d.]+"\} 1$/m);
  const first = broker.lines.find((l) => typeof l === 'object') as Record<string, unknown>;
  t.equal(first.msg, 'starting sluice broker');
  t.equal(first.version, '0.1.0', 'the first log line names the version');

  // A response the client never reads keeps the broker draining after SIGTERM: 16 MiB, far more
  // than loopback's socket buffers hold.
  const c = await broker.connect();
  await createTopic(c, 'big');
  const batch = encodeRecordBatch([{ value: Buffer.alloc(1024 * 1024, 1) }]);
  for (let i = 0; i < 16; i++) await produce(c, [{ topic: 'big', partition: 0, batches: batch }]);
  const stuck = connect(broker.port, '127.0.0.1');
  await once(stuck, 'connect');
  // The first bytes of the response say the broker owes it; then the client stops reading.
  const started = new Promise<void>((resolve) =>
    stuck.once('data', () => {
      stuck.pause();
      resolve();
    }),
  );
  stuck.write(encodeRequest({ apiKey: ApiKey.Fetch, apiVersion: 0, correlationId: 1, clientId: 'stuck' }, { maxBytes: 32 << 20, partitions: [{ topic: 'big', partition: 0, offset: 0n, maxBytes: 32 << 20 }] }));
  await started;
  const exited = broker.stop('SIGTERM');
  let health = await get(port, '/healthz');
  for (let i = 0; i < 100 && health.status === 200; i++) {
    await new Promise((r) => setTimeout(r, 20));
    health = await get(port, '/healthz');
  }
  t.same(health, { status: 503, body: '{"status":"stopping"}\n' }, 'stopping: 503');
  t.equal((await get(port, '/readyz')).status, 503);
  stuck.destroy();
  t.equal(await exited, 0, 'the broker then stops cleanly');
});
