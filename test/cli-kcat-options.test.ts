// The CLI's kcat-style options against a real broker, each shown to do what it says: `-o end`
// (only records produced after the start), `-o @MS` (from a time), `--encoding hex|base64` on both
// sides (bytes round-trip exactly; text that is not valid hex or base64 is refused, not guessed
// at), and the template tokens for topic, partition, offset, timestamp and headers.

import t from 'tap';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { Producer } from '../src/client/producer.js';
import { ApiKey } from '../src/protocol/messages.js';
import { MAIN, startBroker } from './helpers/broker.js';
import { sluice, sluiceBytes } from './helpers/cli.js';
import { sluiceProxy } from './helpers/proxy.js';

t.test('consume -o end prints only records produced after it started', async (t) => {
  const broker = await startBroker(t);
  const b = ['--broker', `127.0.0.1:${broker.port}`];
  await sluice(['topics', 'create', 'tail', '--partitions', '1', ...b]);
  t.equal((await sluice(['produce', 'tail', ...b], 'old-1\nold-2\n')).status, 0);
  // Through a proxy that says when the consumer's first Fetch has gone out: it is at the end by then.
  const proxy = await sluiceProxy(t, broker.port);
  const proc = spawn(process.execPath, [MAIN, 'consume', 'tail', '-o', 'end', '--max-messages', '2', '-f', '%o:%s\\n', '--broker', `127.0.0.1:${proxy.port}`], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  proc.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
  proc.stderr.setEncoding('utf8').on('data', (d: string) => (err += d));
  const closed = once(proc, 'close');
  t.teardown(() => proc.kill('SIGKILL'));
  await proxy.requests(ApiKey.Fetch);
  t.equal((await sluice(['produce', 'tail', ...b], 'new-1\nnew-2\n')).status, 0);
  const [code] = (await closed) as [number | null];
  t.equal(code, 0, err);
  t.equal(out, '2:new-1\n3:new-2\n', 'the two new records, not the two before it started');
  const atEnd = await sluice(['consume', 'tail', '-o', 'end', '-e', ...b]);
  t.equal(atEnd.status, 0);
  t.equal(atEnd.stdout, '', '-o end with -e: nothing to print, it exits at once');
});

t.test('consume -o @MS starts at the first record at or after that time; %t %p %o %T %h in a template', async (t) => {
  const broker = await startBroker(t);
  const b = ['--broker', `127.0.0.1:${broker.port}`];
  await sluice(['topics', 'create', 'timed', '--partitions', '2', ...b]);
  const producer = new Producer({ broker: `127.0.0.1:${broker.port}`, acks: 1 });
  t.teardown(() => producer.close());
  const base = 1_700_000_000_000;
  // One send at a time: each record is a batch of its own, with its own time.
  for (let i = 0; i < 4; i++) {
    await producer.send('timed', { value: `v${i}`, partition: 1, timestampMs: base + i * 1000, headers: { n: String(i), src: 'test' } });
  }
  await producer.send('timed', { value: 'other', partition: 0, timestampMs: base });

  const fromTime = await sluice(['consume', 'timed', '--partition', '1', '-o', `@${base + 1500}`, '-e', '-f', '%t|%p|%o|%T|%h|%s\\n', ...b]);
  t.equal(fromTime.status, 0, fromTime.stderr);
  t.equal(
    fromTime.stdout,
    [2, 3].map((i) => `timed|1|${i}|${base + i * 1000}|n=${i},src=test|v${i}\n`).join(''),
    'from the first record at or after the time, with topic, partition, offset, timestamp and headers',
  );
  const exact = await sluice(['consume', 'timed', '--partition', '1', '-o', `@${base + 1000}`, '-e', '-f', '%o\\n', ...b]);
  t.equal(exact.stdout, '1\n2\n3\n', 'a time equal to a record\'s includes it');
  // Without --partition the time applies to every partition: partition 0's only record is older.
  const all = await sluice(['consume', 'timed', '-o', `@${base + 2500}`, '-e', '-f', '%p:%o\\n', ...b]);
  t.equal(all.status, 0, all.stderr);
  t.equal(all.stdout, '1:3\n');
});

t.test('produce --encoding hex and base64: the bytes spelled arrive exactly; consume --encoding hex spells them back', async (t) => {
  const broker = await startBroker(t);
  const b = ['--broker', `127.0.0.1:${broker.port}`];
  await sluice(['topics', 'create', 'enc', '--partitions', '1', ...b]);
  // Every byte value once, and a few short values with NUL, newline, CR and 0xff.
  const values = [Buffer.from(Array.from({ length: 256 }, (_, i) => i)), Buffer.from([0x00]), Buffer.from([0x0a, 0x0d, 0xff]), Buffer.alloc(0)];
  const keys = [Buffer.from([0xde, 0xad]), Buffer.from('k\n'), Buffer.from([0xff]), Buffer.from('e')];
  const hexIn = values.map((v, i) => `${keys[i]!.toString('hex')}:${v.toString('hex')}\n`).join('');
  const hexProduced = await sluice(['produce', 'enc', '--encoding', 'hex', '--key-separator', ':', ...b], hexIn);
  t.equal(hexProduced.status, 0, hexProduced.stderr);
  const b64In = values.map((v, i) => `${keys[i]!.toString('base64')} ${v.toString('base64')}\n`).join('');
  const b64Produced = await sluice(['produce', 'enc', '--encoding', 'base64', '--key-separator', ' ', ...b], b64In);
  t.equal(b64Produced.status, 0, b64Produced.stderr);

  // Raw bytes out (a template writes key and value as they are): both runs, byte for byte.
  const raw = await sluiceBytes(['consume', 'enc', '-o', 'beginning', '-e', '-f', '%K %S %k%s', ...b]);
  t.equal(raw.status, 0, raw.stderr);
  const one = Buffer.concat(values.map((v, i) => Buffer.concat([Buffer.from(`${keys[i]!.length} ${v.length} `), keys[i]!, v])));
  t.ok(raw.stdout.equals(Buffer.concat([one, one])), 'hex and base64 input both arrive as exactly the bytes they spell');

  const json = await sluice(['consume', 'enc', '-o', 'beginning', '-e', '--format', 'json', '--encoding', 'hex', ...b]);
  t.equal(json.status, 0, json.stderr);
  const records = json.stdout.trim().split('\n').map((l) => JSON.parse(l) as { offset: string; key: string; value: string });
  t.same(
    records.map((r) => [r.offset, r.key, r.value]),
    [...values, ...values].map((v, i) => [String(i), keys[i % 4]!.toString('hex'), v.toString('hex')]),
    'consume --encoding hex spells keys and values in hex',
  );

  // Text that is not what --encoding says is refused with the record it is in, not silently cut short.
  for (const [encoding, line] of [['hex', 'abc'], ['hex', 'zz'], ['base64', 'not base64!'], ['base64', '-_8']] as const) {
    const bad = await sluice(['produce', 'enc', '--encoding', encoding, ...b], `${encoding === 'hex' ? '00' : 'AA=='}\n${line}\n`);
    t.equal(bad.status, 1, `${encoding} ${JSON.stringify(line)} refused`);
    t.match(bad.stderr, new RegExp(`^sluice: INVALID_ARGUMENT: record 2 is not ${encoding}`, 'm'));
  }
  const after = await sluice(['topics', 'describe', 'enc', '--output', 'json', ...b]);
  t.equal((JSON.parse(after.stdout) as { partitions: Array<{ highWatermark: string }> }).partitions[0]!.highWatermark, String(8 + 4), 'only the valid records before each bad one were sent');
});
