// The client CLI against a real broker: 100k lines produced and consumed back identical, with
// per-partition order; topics and groups commands; exit codes scripts can rely on.

import t from 'tap';
import { spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { MAIN, startBroker } from './helpers/broker.js';

function sluice(args: string[], input?: string): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const proc = spawn(process.execPath, [MAIN, ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    proc.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    proc.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    proc.stdin.end(input ?? '');
    void once(proc, 'close').then(([status]) => resolve({ status: status as number | null, stdout, stderr }));
  });
}

t.test('100k lines in with `sluice produce`, the same lines out with `sluice consume`, per-partition order kept', async (t) => {
  const broker = await startBroker(t);
  const b = ['--broker', `127.0.0.1:${broker.port}`];
  t.equal((await sluice(['topics', 'create', 'lines', '--partitions', '4', ...b])).status, 0);
  const lines = Array.from({ length: 100_000 }, (_, i) => `user-${i % 97}:event ${i}`);
  const produced = await sluice(['produce', 'lines', '--key-separator', ':', '--acks', '1', ...b], `${lines.join('\n')}\n`);
  t.equal(produced.status, 0, produced.stderr);
  t.match(produced.stderr, /produced 100000 records to lines/);

  const consumed = await sluice(['consume', 'lines', '--from-beginning', '--format', 'json', '--timeout-ms', '1500', ...b]);
  t.equal(consumed.status, 0, consumed.stderr);
  const records = consumed.stdout.trim().split('\n').map((l) => JSON.parse(l) as { partition: number; offset: string; key: string; value: string });
  t.equal(records.length, 100_000);
  t.same(records.map((r) => `${r.key}:${r.value}`).sort(), [...lines].sort(), 'identical content');
  // Each key lives in one partition, in the order it was produced.
  const lastByKey = new Map<string, number>();
  const partitionOfKey = new Map<string, number>();
  let inOrder = true;
  for (const r of records) {
    const n = Number(r.value.split(' ')[1]);
    if ((lastByKey.get(r.key) ?? -1) > n) inOrder = false;
    if ((partitionOfKey.get(r.key) ?? r.partition) !== r.partition) inOrder = false;
    lastByKey.set(r.key, n);
    partitionOfKey.set(r.key, r.partition);
  }
  t.ok(inOrder, 'per key (so per partition) order kept');
  t.equal(new Set(records.map((r) => r.partition)).size, 4, 'keys spread over the partitions');

  const values = await sluice(['consume', 'lines', '--partition', '0', '--offset', '5', '--max-messages', '3', ...b]);
  t.equal(values.stdout.split('\n').filter(Boolean).length, 3);
});

t.test('a group resumes where it committed; groups list and describe show lag', async (t) => {
  const broker = await startBroker(t, { args: ['--group-initial-rebalance-delay-ms', '0'] });
  const b = ['--broker', `127.0.0.1:${broker.port}`];
  await sluice(['topics', 'create', 'work', '--partitions', '1', ...b]);
  await sluice(['produce', 'work', ...b], Array.from({ length: 30 }, (_, i) => `w${i}`).join('\n'));
  const first = await sluice(['consume', 'work', '--group', 'g', '--from-beginning', '--max-messages', '10', ...b]);
  t.same(first.stdout.trim().split('\n'), Array.from({ length: 10 }, (_, i) => `w${i}`));
  const second = await sluice(['consume', 'work', '--group', 'g', '--max-messages', '5', ...b]);
  t.same(second.stdout.trim().split('\n'), ['w10', 'w11', 'w12', 'w13', 'w14'], 'continues after the committed offset');

  const list = await sluice(['groups', 'list', ...b]);
  t.match(list.stdout, /^GROUP\s+STATE\s+PROTOCOL TYPE\ng\s+Empty\s+consumer$/m);
  const describe = await sluice(['groups', 'describe', 'g', ...b]);
  t.match(describe.stdout, /^work\s+0\s+15\s+30\s+15\s/m, 'committed 15, high watermark 30, lag 15');

  const topics = await sluice(['topics', 'list', ...b]);
  t.match(topics.stdout, /^work\s+1\s+30$/m);
  t.notMatch(topics.stdout, /__consumer_offsets/);
  const described = await sluice(['topics', 'describe', 'work', ...b]);
  t.match(described.stdout, /^work\s+0\s+0\s+0\s+30$/m);
  t.equal((await sluice(['topics', 'delete', 'work', ...b])).status, 0);
});

t.test('exit codes: 0 done, 1 failed (with the error code), 2 usage', async (t) => {
  const broker = await startBroker(t);
  const b = ['--broker', `127.0.0.1:${broker.port}`];
  const missing = await sluice(['produce', 'nowhere', ...b], 'x\n');
  t.equal(missing.status, 1);
  t.match(missing.stderr, /^sluice: UNKNOWN_TOPIC_OR_PARTITION: /m);
  const dup = await sluice(['topics', 'create', 'x', ...b]);
  t.equal(dup.status, 0);
  const again = await sluice(['topics', 'create', 'x', ...b]);
  t.equal(again.status, 1);
  t.match(again.stderr, /TOPIC_ALREADY_EXISTS/);
  t.equal((await sluice(['groups', 'describe', 'nobody', ...b])).status, 1);
  t.equal((await sluice(['topics', 'create', 'y', '--partitions', 'many', ...b])).status, 2);
  t.equal((await sluice(['consume', 'x', '--format', 'xml', ...b])).status, 2);
  const down = await sluice(['topics', 'list', '--broker', '127.0.0.1:1']);
  t.equal(down.status, 1);
  t.match(down.stderr, /NETWORK_EXCEPTION: cannot connect to 127\.0\.0\.1:1/);
  for (const cmd of [['topics', 'create'], ['produce'], ['consume'], ['groups', 'describe']]) {
    const help = spawnSync(process.execPath, [MAIN, ...cmd, '--help'], { encoding: 'utf8' });
    t.equal(help.status, 0);
    t.match(help.stdout, /--broker <host:port>/, `${cmd.join(' ')} --help`);
  }
});
