// The CLI's topic administration against a real broker: partitions added, settings changed on a
// live topic (segment rolls, retention), bad values refused, everything kept across a restart.

import t from 'tap';
import { startBroker } from './helpers/broker.js';
import { sluice } from './helpers/cli.js';

t.test('topics alter --partitions adds partitions (never fewer); they take records and survive a restart', async (t) => {
  const broker = await startBroker(t);
  const b = ['--broker', `127.0.0.1:${broker.port}`];
  await sluice(['topics', 'create', 'grow', '--partitions', '1', ...b]);
  await sluice(['produce', 'grow', '--partition', '0', ...b], 'old\n');
  const grown = await sluice(['topics', 'alter', 'grow', '--partitions', '3', ...b]);
  t.equal(grown.status, 0, grown.stderr);
  t.equal((await sluice(['produce', 'grow', '--partition', '2', ...b], 'new\n')).status, 0, 'the new partition takes records');
  const shrink = await sluice(['topics', 'alter', 'grow', '--partitions', '2', ...b]);
  t.equal(shrink.status, 1);
  t.match(shrink.stderr, /INVALID_PARTITIONS: .*grow has 3 partitions; the new count must be in \[4, /);
  t.match((await sluice(['topics', 'alter', 'nosuch', '--partitions', '2', ...b])).stderr, /UNKNOWN_TOPIC_OR_PARTITION/);
  t.equal((await sluice(['topics', 'alter', 'grow', ...b])).status, 2, '--partitions is required');
  await broker.stop('SIGTERM');
  const again = await startBroker(t, { dataDir: broker.dataDir });
  const a = ['--broker', `127.0.0.1:${again.port}`];
  const d = JSON.parse((await sluice(['topics', 'describe', 'grow', '--output', 'json', ...a])).stdout) as { partitions: Array<{ partition: number; highWatermark: string }> };
  t.same(d.partitions.map((p) => [p.partition, p.highWatermark]), [[0, '1'], [1, '0'], [2, '1']], 'three partitions with their records after a restart');
});

t.test('topics alter-config changes settings of a live topic (rolls, retention), refuses bad values, and survives a restart', async (t) => {
  const broker = await startBroker(t, { args: ['--retention-check-interval-ms', '50'] });
  const b = ['--broker', `127.0.0.1:${broker.port}`];
  type Described = { partitions: Array<{ logStartOffset: string; segments: number }>; configs: Array<{ name: string; value: string; source: string }> };
  const describe = async (broker: { port: number }) => JSON.parse((await sluice(['topics', 'describe', 'cfg', '--output', 'json', '--broker', `127.0.0.1:${broker.port}`])).stdout) as Described;
  const config = (d: Described, name: string) => d.configs.find((c) => c.name === name);
  await sluice(['topics', 'create', 'cfg', ...b]);
  const line = `${'x'.repeat(600)}\n`;
  for (let i = 0; i < 3; i++) await sluice(['produce', 'cfg', '--acks', '1', ...b], line.repeat(4));
  t.equal((await describe(broker)).partitions[0]!.segments, 1, 'one 1 GiB segment holds it all');

  const dry = await sluice(['topics', 'alter-config', 'cfg', '--set', 'segment.bytes=2048', '--dry-run', ...b]);
  t.equal(dry.status, 0, dry.stderr);
  t.match(dry.stdout, /dry run: nothing changed/);
  t.same(config(await describe(broker), 'segment.bytes'), { name: 'segment.bytes', value: '1073741824', source: 'default' }, 'a dry run changes nothing');

  const altered = await sluice(['topics', 'alter-config', 'cfg', '--set', 'segment.bytes=2048', '--set', 'retention.ms=-1', ...b]);
  t.equal(altered.status, 0, altered.stderr);
  t.match(altered.stdout, /altered topic cfg: segment\.bytes=2048, retention\.ms=-1/);
  for (let i = 0; i < 4; i++) await sluice(['produce', 'cfg', '--acks', '1', ...b], line.repeat(4));
  const rolled = await describe(broker);
  t.ok(rolled.partitions[0]!.segments >= 4, `the live log rolls at the new size: ${rolled.partitions[0]!.segments} segments`);
  t.same(config(rolled, 'segment.bytes'), { name: 'segment.bytes', value: '2048', source: 'topic' });

  // Retention by the new byte limit, on the broker's next pass.
  t.equal((await sluice(['topics', 'alter-config', 'cfg', '--set', 'retention.bytes=1', ...b])).status, 0);
  let trimmed = await describe(broker);
  while (trimmed.partitions[0]!.logStartOffset === '0') trimmed = await describe(broker);
  t.equal(trimmed.partitions[0]!.segments, 1, 'retention left the active segment only');

  for (const [args, error] of [
    [['--set', 'retention.ms=soon'], /INVALID_CONFIG: alter the configs of cfg: retention\.ms="soon" is not an integer/],
    [['--set', 'cleanup.policy=compact'], /INVALID_CONFIG: alter the configs of cfg: cleanup\.policy=compact is not supported/],
    [['--set', 'min.insync.replicas=2'], /INVALID_CONFIG: alter the configs of cfg: topic config min\.insync\.replicas is not supported/],
    [['--set', 'segment.bytes=10'], /INVALID_CONFIG: alter the configs of cfg: segmentBytes 10 must be in/],
  ] as const) {
    const refused = await sluice(['topics', 'alter-config', 'cfg', ...args, ...b]);
    t.equal(refused.status, 1, `${args.join(' ')} refused`);
    t.match(refused.stderr, error);
  }
  t.match((await sluice(['topics', 'alter-config', 'nosuch', '--set', 'retention.ms=1', ...b])).stderr, /UNKNOWN_TOPIC_OR_PARTITION/);
  t.equal((await sluice(['topics', 'alter-config', 'cfg', ...b])).status, 2, 'nothing to change is a usage error');
  t.equal((await sluice(['topics', 'alter-config', 'cfg', '--set', 'retention.ms', ...b])).status, 2, 'key=value is required');

  t.equal((await sluice(['topics', 'alter-config', 'cfg', '--delete', 'segment.bytes', ...b])).status, 0);
  await broker.stop('SIGTERM');
  const again = await startBroker(t, { dataDir: broker.dataDir });
  const after = await describe(again);
  t.same(after.configs.filter((c) => c.source === 'topic'), [
    { name: 'retention.bytes', value: '1', source: 'topic' },
    { name: 'retention.ms', value: '-1', source: 'topic' },
  ], 'the topic\'s own settings after a restart; the deleted one is back to the default');
  t.same(config(after, 'segment.bytes'), { name: 'segment.bytes', value: '1073741824', source: 'default' });
});

t.test('topics delete-records moves a partition\'s log start (as kafka-delete-records): consumers start there, past the end is refused, SIGKILL keeps it', async (t) => {
  const broker = await startBroker(t);
  const b = ['--broker', `127.0.0.1:${broker.port}`];
  await sluice(['topics', 'create', 'trim', '--partitions', '1', ...b]);
  await sluice(['produce', 'trim', '--partition', '0', ...b], 'a\nb\nc\nd\ne\n');
  const moved = await sluice(['topics', 'delete-records', 'trim', '--partition', '0', '--offset', '3', ...b]);
  t.equal(moved.status, 0, moved.stderr);
  t.equal(moved.stdout, 'trim-0 now starts at offset 3\n');
  const consumed = await sluice(['consume', 'trim', '--from-beginning', '--max-messages', '2', '--timeout-ms', '5000', ...b]);
  t.equal(consumed.stdout, 'd\ne\n', 'a consumer from the beginning starts at the new log start (inside the produced batch)');
  const past = await sluice(['topics', 'delete-records', 'trim', '--partition', '0', '--offset', '6', ...b]);
  t.equal(past.status, 1);
  t.match(past.stderr, /OFFSET_OUT_OF_RANGE/);
  t.equal((await sluice(['topics', 'delete-records', 'trim', '--partition', '0', '--offset', '-2', ...b])).status, 2, 'an offset below -1 is a usage error');
  t.equal((await sluice(['topics', 'delete-records', 'trim', '--offset', '1', ...b])).status, 2, '--partition is required');
  await broker.stop('SIGKILL');
  const again = await startBroker(t, { dataDir: broker.dataDir });
  const a = ['--broker', `127.0.0.1:${again.port}`];
  const d = JSON.parse((await sluice(['topics', 'describe', 'trim', '--output', 'json', ...a])).stdout) as { partitions: Array<{ logStartOffset: string; highWatermark: string }> };
  t.same(d.partitions.map((p) => [p.logStartOffset, p.highWatermark]), [['3', '5']], 'the log start is kept after SIGKILL');
  const all = await sluice(['topics', 'delete-records', 'trim', '--partition', '0', '--offset', '-1', ...a]);
  t.equal(all.stdout, 'trim-0 now starts at offset 5\n', '-1 deletes everything');
});

t.test('topics delete --output json says what was deleted (its partitions and their offsets, 64-bit integers as strings)', async (t) => {
  const broker = await startBroker(t);
  const b = ['--broker', `127.0.0.1:${broker.port}`];
  await sluice(['topics', 'create', 'gone', '--partitions', '2', ...b]);
  await sluice(['produce', 'gone', '--partition', '1', ...b], 'a\nb\nc\n');
  await sluice(['topics', 'delete-records', 'gone', '--partition', '1', '--offset', '1', ...b]);
  const deleted = await sluice(['topics', 'delete', 'gone', '--output', 'json', ...b]);
  t.equal(deleted.status, 0, deleted.stderr);
  t.same(JSON.parse(deleted.stdout), {
    name: 'gone',
    deleted: true,
    partitions: [
      { partition: 0, logStartOffset: '0', highWatermark: '0' },
      { partition: 1, logStartOffset: '1', highWatermark: '3' },
    ],
  });
  const list = JSON.parse((await sluice(['topics', 'list', '--output', 'json', ...b])).stdout) as Array<{ name: string }>;
  t.same(list.map((x) => x.name), [], 'the topic is gone');
  const again = await sluice(['topics', 'delete', 'gone', '--output', 'json', ...b]);
  t.equal(again.status, 1);
  t.equal(again.stdout, '', 'no JSON for a topic that is not there');
  t.match(again.stderr, /^sluice: UNKNOWN_TOPIC_OR_PARTITION: /m);
  await sluice(['topics', 'create', 'plain', ...b]);
  const table = await sluice(['topics', 'delete', 'plain', ...b]);
  t.equal(table.stdout, 'deleted topic plain\n', 'the table output stays one line');
  t.equal((await sluice(['topics', 'delete', 'plain', '--output', 'xml', ...b])).status, 2, 'json or table only');
});
