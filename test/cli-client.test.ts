// The client CLI against a real broker: 100k lines produced and consumed back identical, with
// per-partition order; topics and groups commands; exit codes scripts can rely on.

import t from 'tap';
import { spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { MAIN, scrape, scrapeWhen, startBroker } from './helpers/broker.js';
import { sluice, sluiceBytes } from './helpers/cli.js';

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
  t.match(described.stdout, /^work\s+0\s+0\s+0\s+0\s+0\s+30\s+\d+\s+1$/m, 'offsets, size in bytes and segments');
  t.match(described.stdout, /^retention\.ms\s+604800000\s+default$/m, 'the settings it runs with, and where they come from');
  t.match(described.stdout, /^segment\.bytes\s+1073741824\s+default$/m);
  t.match(described.stdout, /^max\.message\.bytes\s+8388608\s+default$/m);
  t.match(described.stdout, /^cleanup\.policy\s+delete\s+default$/m);
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

t.test('usage errors exit 2; an unknown topic or partition is said, not waited for; `| head` ends quietly', async (t) => {
  const broker = await startBroker(t);
  const b = ['--broker', `127.0.0.1:${broker.port}`];
  t.equal((await sluice(['topics', 'create', 'three', '--partitions', '3', ...b])).status, 0);
  const both = await sluice(['consume', 'three', '--offset', '5', '--from-timestamp', '0', ...b]);
  t.equal(both.status, 2, '--offset with --from-timestamp is a usage error');
  t.match(both.stderr, /^sluice: usage: --from-timestamp and --offset both say where to start; give one$/m);
  const badOffset = await sluice(['consume', 'three', '--partition', '0', '--offset', 'soon', ...b]);
  t.equal(badOffset.status, 2);
  const nosuch = await sluice(['consume', 'nosuch', '--group', 'g', '--timeout-ms', '60000', ...b]);
  t.equal(nosuch.status, 1, 'a group consumer of a missing topic fails at once');
  t.match(nosuch.stderr, /UNKNOWN_TOPIC_OR_PARTITION/);
  const partition = await sluice(['consume', 'three', '--partition', '9', '--timeout-ms', '500', ...b]);
  t.equal(partition.status, 1);
  t.match(partition.stderr, /three has 3 partitions; there is no partition 9/);

  // A reader that closes early: the consumer ends with 0 and says nothing.
  const lines = Array.from({ length: 20_000 }, (_, i) => `line ${i}`).join('\n') + '\n';
  t.equal((await sluice(['produce', 'three', '--partition', '0', ...b], lines)).status, 0);
  const piped = spawnSync('sh', ['-c', `"${process.execPath}" "${MAIN}" consume three --partition 0 --offset 0 --timeout-ms 2000 --broker 127.0.0.1:${broker.port} | head -n 3`], { encoding: 'utf8' });
  t.equal(piped.stdout, 'line 0\nline 1\nline 2\n');
  t.equal(piped.stderr, '', 'no EPIPE complaint');
  const status = spawnSync('bash', ['-c', `set -o pipefail; "${process.execPath}" "${MAIN}" consume three --partition 0 --offset 0 --timeout-ms 2000 --broker 127.0.0.1:${broker.port} | head -n 1 > /dev/null`], { encoding: 'utf8' });
  t.equal(status.status, 0, 'the consumer exits 0 when its reader is gone');
});

t.test('--broker HOST alone means the default port', async (t) => {
  const { parseBroker } = await import('../src/client/broker-client.js');
  t.same(parseBroker('localhost'), { host: 'localhost', port: 9292 });
  t.same(parseBroker('10.0.0.5'), { host: '10.0.0.5', port: 9292 });
  t.same(parseBroker('[::1]'), { host: '::1', port: 9292 });
  t.same(parseBroker('::1'), { host: '::1', port: 9292 });
  t.same(parseBroker('[::1]:9000'), { host: '::1', port: 9000 });
  t.same(parseBroker('broker-1:9092'), { host: 'broker-1', port: 9092 });
  t.throws(() => parseBroker('host:notaport'), { code: 'INVALID_CONFIG' });
  t.throws(() => parseBroker(''), { code: 'INVALID_CONFIG' });
});

t.test('consume --group: SIGINT and SIGTERM commit what was printed on every partition, leave the group and exit 0', async (t) => {
  const broker = await startBroker(t, { args: ['--group-initial-rebalance-delay-ms', '0'] });
  const b = ['--broker', `127.0.0.1:${broker.port}`];
  await sluice(['topics', 'create', 'jobs', '--partitions', '3', ...b]);
  await sluice(['produce', 'jobs', '--key-separator', ':', ...b], Array.from({ length: 30 }, (_, i) => `k${i}:j${i}`).join('\n'));
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    const group = `g-${signal}`;
    const proc = spawn(process.execPath, [MAIN, 'consume', 'jobs', '--group', group, '--from-beginning', ...b], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let wake: (() => void) | undefined;
    proc.stdout.setEncoding('utf8').on('data', (d: string) => {
      out += d;
      wake?.();
    });
    while (out.split('\n').length <= 30) await new Promise<void>((resolve) => (wake = resolve));
    proc.kill(signal);
    const [code] = (await once(proc, 'close')) as [number | null];
    t.equal(code, 0, `${signal}: a clean stop`);
    const describe = await sluice(['groups', 'describe', group, '--output', 'json', ...b]);
    const d = JSON.parse(describe.stdout) as { state: string; members: unknown[]; partitions: Array<{ partition: number; committedOffset: string; lag: string }> };
    t.equal(d.state, 'Empty', `${signal}: the member left at once (no session to time out)`);
    t.same(d.partitions.map((p) => p.lag), ['0', '0', '0'], `${signal}: everything printed was committed, on each partition`);
  }
});

t.test('--output json on topics list/describe and groups list/describe', async (t) => {
  const broker = await startBroker(t);
  const b = ['--broker', `127.0.0.1:${broker.port}`];
  await sluice(['topics', 'create', 'js', '--partitions', '2', ...b]);
  await sluice(['produce', 'js', '--partition', '1', ...b], 'a\nb\n');
  const list = JSON.parse((await sluice(['topics', 'list', '--output', 'json', ...b])).stdout) as Array<{ name: string; partitions: unknown[] }>;
  t.same(list.map((x) => [x.name, x.partitions.length]), [['js', 2]]);
  const described = JSON.parse((await sluice(['topics', 'describe', 'js', '--output', 'json', ...b])).stdout) as { name: string; partitions: Array<{ partition: number; highWatermark: string }> };
  t.same(described.partitions.map((p) => [p.partition, p.highWatermark]), [[0, '0'], [1, '2']], '64-bit integers as strings');
  t.same(JSON.parse((await sluice(['groups', 'list', '--output', 'json', ...b])).stdout), []);
  t.equal((await sluice(['groups', 'list', '--output', 'xml', ...b])).status, 2);
});

t.test('binary-safe: any byte round-trips; templates, base64, headers, tombstones, offset specs and --exit-at-end', async (t) => {
  const broker = await startBroker(t);
  const b = ['--broker', `127.0.0.1:${broker.port}`];
  await sluice(['topics', 'create', 'bin', '--partitions', '1', ...b]);
  // Values with 0xff 0xfe, a carriage return, NUL and non-UTF-8 sequences; records end at \0.
  const values = [Buffer.from([0xff, 0xfe, 0x41]), Buffer.from('line\r'), Buffer.from([0x00, 0x0a, 0xc3, 0x28]), Buffer.from('plain')];
  const input = Buffer.concat(values.flatMap((v) => [v, Buffer.from([0x00, 0x00])]));
  const produced = await sluiceBytes(['produce', 'bin', '--delimiter', '\\0\\0', '-H', 'source=cli', '-H', 'n=1', ...b], input);
  t.equal(produced.status, 0, produced.stderr);
  const json = await sluice(['consume', 'bin', '--offset', 'beginning', '--exit-at-end', '--format', 'json', '--encoding', 'base64', ...b]);
  t.equal(json.status, 0, json.stderr);
  const records = json.stdout.trim().split('\n').map((l) => JSON.parse(l) as { offset: string; value: string; headers: Record<string, string> });
  t.same(records.map((r) => Buffer.from(r.value, 'base64')), values, 'every byte, in base64 JSON');
  t.same(records[0]!.headers, { source: Buffer.from('cli').toString('base64'), n: Buffer.from('1').toString('base64') });
  const raw = await sluiceBytes(['consume', 'bin', '-o', 'beginning', '-e', '-f', '%o:%S:%s\\n', ...b]);
  t.same(raw.stdout, Buffer.concat(values.flatMap((v, i) => [Buffer.from(`${i}:${v.length}:`), v, Buffer.from('\n')])), 'a template writes the raw bytes');
  const lastTwo = await sluice(['consume', 'bin', '-o', '-2', '-e', '-f', '%o\\n', ...b]);
  t.equal(lastTwo.stdout, '2\n3\n', '-N: N records before the end');
  const fromTwo = await sluice(['consume', 'bin', '-o', '2', '-e', '-f', '%o\\n', ...b]);
  t.equal(fromTwo.stdout, '2\n3\n');
  const atTime = await sluice(['consume', 'bin', '--from-timestamp', String(Date.now() + 60_000), '-e', ...b]);
  t.equal(atTime.status, 0, 'a time after the last record starts at the end, and -e ends at once');
  t.equal(atTime.stdout, '');

  // Keys split at the separator; an empty value is a tombstone with --empty-as-null.
  await sluice(['topics', 'create', 'kv', '--partitions', '1', ...b]);
  t.equal((await sluice(['produce', 'kv', '--key-separator', ':', '--empty-as-null', ...b], 'a:1\nb:\n')).status, 0);
  const kv = await sluice(['consume', 'kv', '-o', 'beginning', '-e', '-f', '%k=%s (%S)\\n', ...b]);
  t.equal(kv.stdout, 'a=1 (1)\nb= (-1)\n', 'the tombstone has a null value (length -1)');
  t.equal((await sluice(['consume', 'kv', '-f', '%q', ...b])).status, 2, 'an unknown template token is a usage error');
});

t.test('groups reset-offsets, delete-offsets and delete; refused while the group has members; its lag series go', async (t) => {
  const broker = await startBroker(t, { args: ['--group-initial-rebalance-delay-ms', '0'] });
  const b = ['--broker', `127.0.0.1:${broker.port}`];
  await sluice(['topics', 'create', 'ops', '--partitions', '2', ...b]);
  for (const p of ['0', '1']) await sluice(['produce', 'ops', '--partition', p, ...b], Array.from({ length: 10 }, (_, i) => `p${p}-${i}`).join('\n'));
  await sluice(['consume', 'ops', '--group', 'og', '--from-beginning', '--max-messages', '20', ...b]);
  const committed = async () => {
    const d = JSON.parse((await sluice(['groups', 'describe', 'og', '--output', 'json', ...b])).stdout) as { partitions: Array<{ partition: number; committedOffset: string }> };
    return d.partitions.map((p) => [p.partition, p.committedOffset]);
  };
  t.same(await committed(), [[0, '10'], [1, '10']]);
  const dry = JSON.parse((await sluice(['groups', 'reset-offsets', 'og', '--topic', 'ops', '--to-earliest', '--dry-run', '--output', 'json', ...b])).stdout) as { partitions: Array<{ current: string; target: string }> };
  t.same(dry.partitions.map((p) => [p.current, p.target]), [['10', '0'], ['10', '0']], 'the plan');
  t.same(await committed(), [[0, '10'], [1, '10']], 'a dry run commits nothing');
  t.equal((await sluice(['groups', 'reset-offsets', 'og', '--topic', 'ops', '--partition', '1', '--to-offset', '4', ...b])).status, 0);
  t.same(await committed(), [[0, '10'], [1, '4']]);
  t.equal((await sluice(['groups', 'reset-offsets', 'og', '--topic', 'ops', '--shift-by', '-2', ...b])).status, 0);
  t.same(await committed(), [[0, '8'], [1, '2']]);
  t.equal((await sluice(['groups', 'reset-offsets', 'og', '--topic', 'ops', '--to-offset', '99', ...b])).status, 0);
  t.same(await committed(), [[0, '10'], [1, '10']], 'clamped to the high watermark');
  t.equal((await sluice(['groups', 'reset-offsets', 'og', '--topic', 'ops', '--to-datetime', '2000-01-01T00:00:00Z', ...b])).status, 0);
  t.same(await committed(), [[0, '0'], [1, '0']], 'a time before every batch: the log start');
  t.equal((await sluice(['groups', 'reset-offsets', 'og', '--topic', 'ops', ...b])).status, 2, 'where to is required');

  // While a member is in the group, changes are refused.
  const member = spawn(process.execPath, [MAIN, 'consume', 'ops', '--group', 'og', ...b], { stdio: ['ignore', 'pipe', 'pipe'] });
  let members = 0;
  for (let i = 0; i < 200 && members === 0; i++) {
    await new Promise((r) => setTimeout(r, 50));
    const d = await sluice(['groups', 'describe', 'og', '--output', 'json', ...b]);
    members = (JSON.parse(d.stdout) as { members: unknown[] }).members.length;
  }
  t.equal(members, 1, 'the member joined');
  const busy = await sluice(['groups', 'reset-offsets', 'og', '--topic', 'ops', '--to-latest', ...b]);
  t.equal(busy.status, 1);
  t.match(busy.stderr, /NON_EMPTY_GROUP/);
  t.match((await sluice(['groups', 'delete', 'og', ...b])).stderr, /NON_EMPTY_GROUP/);
  const subscribed = await sluice(['groups', 'delete-offsets', 'og', '--topic', 'ops', '--partition', '0', ...b]);
  t.equal(subscribed.status, 1, 'the member reads ops: its offsets are kept');
  t.match(subscribed.stderr, /GROUP_SUBSCRIBED_TO_TOPIC: ops-0/);
  t.same((await committed()).map(([p]) => p), [0, 1], 'nothing forgotten');
  member.kill('SIGTERM');
  await once(member, 'close');

  t.equal((await sluice(['groups', 'delete-offsets', 'og', '--topic', 'ops', '--partition', '0', ...b])).status, 0);
  t.same((await committed()).map(([p]) => p), [1], 'partition 0 forgotten');
  await scrapeWhen(broker, (m) => /^sluice_group_lag\{group="og"/m.test(m));
  t.equal((await sluice(['groups', 'delete', 'og', ...b])).status, 0);
  const gone = await sluice(['groups', 'describe', 'og', ...b]);
  t.equal(gone.status, 1);
  t.match(gone.stderr, /GROUP_ID_NOT_FOUND/);
  t.notMatch(await scrape(broker), /group="og"/, 'no metric series of the deleted group');
  t.match((await sluice(['groups', 'delete', 'og', ...b])).stderr, /GROUP_ID_NOT_FOUND/);
});
