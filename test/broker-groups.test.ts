// The consumer-group APIs over the wire against a real broker: join, sync, heartbeat, commit,
// fetch offsets, describe with lag, list, metrics, stale generations, and committed offsets that
// survive SIGKILL and restart.

import t from 'tap';
import type { Connection } from '../src/client/connection.js';
import { ApiKey } from '../src/protocol/messages.js';
import { call, createTopic, produce, scrape, startBroker } from './helpers/broker.js';
import { batchOf, tmpDir } from './helpers/tmp.js';

const GROUP_ARGS = ['--group-initial-rebalance-delay-ms', '0', '--group-min-session-timeout-ms', '100'];

interface Joined {
  memberId: string;
  generationId: number;
  leaderId: string;
  protocolName: string;
  members: Array<{ memberId: string; metadata: Uint8Array }>;
}

const joinGroup = (c: Connection, memberId = '', sessionTimeoutMs = 10_000) =>
  call<Joined>(c, ApiKey.JoinGroup, {
    groupId: 'g',
    memberId,
    sessionTimeoutMs,
    rebalanceTimeoutMs: 10_000,
    protocolType: 'consumer',
    protocols: [{ name: 'range', metadata: Buffer.from('orders') }],
  });

const errorCode = (p: Promise<unknown>) => p.then(() => 'ok', (err: { code: string }) => err.code);

t.test('join, sync, commit, fetch offsets, describe with lag, list, metrics', async (t) => {
  const broker = await startBroker(t, { args: GROUP_ARGS });
  const admin = await broker.connect('admin');
  await createTopic(admin, 'orders', 2);
  for (let i = 0; i < 10; i++) await produce(admin, [{ topic: 'orders', partition: i % 2, batches: batchOf(i) }]);

  const coordinator = await call<{ host: string; port: number }>(admin, ApiKey.FindCoordinator, { groupId: 'g' });
  t.same(coordinator, { nodeId: 0, host: '127.0.0.1', port: broker.port });

  const a = await broker.connect('member-a');
  const joined = await joinGroup(a);
  t.equal(joined.generationId, 1);
  t.equal(joined.leaderId, joined.memberId, 'alone, it leads');
  t.match(joined.memberId, /^member-a-/);
  t.same(Buffer.from(joined.members[0]!.metadata).toString(), 'orders');
  const synced = await call<{ assignment: Uint8Array }>(a, ApiKey.SyncGroup, {
    groupId: 'g',
    generationId: 1,
    memberId: joined.memberId,
    assignments: [{ memberId: joined.memberId, assignment: Buffer.from('orders:0,1') }],
  });
  t.equal(Buffer.from(synced.assignment).toString(), 'orders:0,1');
  await call(a, ApiKey.Heartbeat, { groupId: 'g', generationId: 1, memberId: joined.memberId });

  const committed = await call<{ partitions: Array<{ error?: { code: string } }> }>(a, ApiKey.OffsetCommit, {
    groupId: 'g',
    generationId: 1,
    memberId: joined.memberId,
    offsets: [
      { topic: 'orders', partition: 0, offset: 3n, metadata: 'm0' },
      { topic: 'orders', partition: 1, offset: 5n },
    ],
  });
  t.same(committed.partitions.map((p) => p.error), [undefined, undefined]);
  const stale = await errorCode(call(a, ApiKey.OffsetCommit, { groupId: 'g', generationId: 0, memberId: joined.memberId, offsets: [] }));
  t.equal(stale, 'ILLEGAL_GENERATION');

  const fetched = await call<{ partitions: Array<{ offset: bigint | null; metadata: string | null }> }>(admin, ApiKey.OffsetFetch, {
    groupId: 'g',
    partitions: [{ topic: 'orders', partition: 0 }, { topic: 'orders', partition: 1 }, { topic: 'other', partition: 0 }],
  });
  t.same(fetched.partitions.map((p) => [p.offset, p.metadata]), [[3n, 'm0'], [5n, null], [null, null]]);

  const described = await call<{ groups: Array<{ state: string; members: Array<{ clientId: string; assignment: Uint8Array }>; offsets: Array<{ partition: number; lag: bigint; highWatermark: bigint }> }> }>(
    admin,
    ApiKey.DescribeGroups,
    { groups: ['g', 'nobody'] },
  );
  const g = described.groups[0]!;
  t.equal(g.state, 'Stable');
  t.same(g.members.map((m) => [m.clientId, Buffer.from(m.assignment).toString()]), [['member-a', 'orders:0,1']]);
  t.same(g.offsets.map((o) => [o.partition, o.highWatermark, o.lag]), [[0, 5n, 2n], [1, 5n, 0n]]);
  t.equal(described.groups[1]!.state, 'Dead');

  const listed = await call<{ groups: Array<{ groupId: string; state: string }> }>(admin, ApiKey.ListGroups, {});
  t.same(listed.groups, [{ groupId: 'g', protocolType: 'consumer', state: 'Stable' }]);

  const text = await scrape(broker);
  t.match(text, /^sluice_group_lag\{group="g",topic="orders",partition="0"\} 2$/m);
  t.match(text, /^sluice_group_committed_offset\{group="g",topic="orders",partition="1"\} 5$/m);
  t.match(text, /^sluice_group_members\{group="g",state="Stable"\} 1$/m);

  await call(a, ApiKey.LeaveGroup, { groupId: 'g', memberId: joined.memberId });
  const after = await call<{ groups: Array<{ state: string }> }>(admin, ApiKey.ListGroups, {});
  t.equal(after.groups[0]?.state, 'Empty');
});

t.test('a second member joins, the first learns by heartbeat and rejoins; a silent member times out', async (t) => {
  const broker = await startBroker(t, { args: GROUP_ARGS });
  const admin = await broker.connect('admin');
  await createTopic(admin, 'orders', 2);
  const a = await broker.connect('a');
  const b = await broker.connect('b');
  const a1 = await joinGroup(a, '', 10_000);
  await call(a, ApiKey.SyncGroup, { groupId: 'g', generationId: 1, memberId: a1.memberId, assignments: [] });

  const bJoin = joinGroup(b, '', 500);
  // b's join travels on its own connection: wait until the broker has it.
  const state = async () => (await call<{ groups: Array<{ state: string }> }>(admin, ApiKey.ListGroups, {})).groups[0]?.state;
  while ((await state()) !== 'PreparingRebalance') await new Promise((r) => setTimeout(r, 10));
  t.equal(await errorCode(call(a, ApiKey.Heartbeat, { groupId: 'g', generationId: 1, memberId: a1.memberId })), 'REBALANCE_IN_PROGRESS');
  const [a2, b2] = await Promise.all([joinGroup(a, a1.memberId, 10_000), bJoin]);
  t.equal(a2.generationId, 2);
  t.equal(b2.generationId, 2);
  const leader = a2.leaderId === a2.memberId ? a : b;
  const leaderJoin = a2.leaderId === a2.memberId ? a2 : b2;
  t.equal(leaderJoin.members.length, 2, 'the leader sees both members');
  const assignments = [a2, b2].map((j) => ({ memberId: j.memberId, assignment: Buffer.from(`for ${j.memberId}`) }));
  const syncs = await Promise.all([
    call<{ assignment: Uint8Array }>(leader, ApiKey.SyncGroup, { groupId: 'g', generationId: 2, memberId: leaderJoin.memberId, assignments }),
    call<{ assignment: Uint8Array }>(leader === a ? b : a, ApiKey.SyncGroup, { groupId: 'g', generationId: 2, memberId: (leader === a ? b2 : a2).memberId }),
  ]);
  t.ok(syncs.every((s) => Buffer.from(s.assignment).toString().startsWith('for ')));

  // b goes silent (session 500 ms); a keeps heartbeating and is told to rejoin once b is gone.
  let code = 'ok';
  for (let i = 0; i < 40 && code === 'ok'; i++) {
    await new Promise((r) => setTimeout(r, 100));
    code = await errorCode(call(a, ApiKey.Heartbeat, { groupId: 'g', generationId: 2, memberId: a1.memberId }));
  }
  t.equal(code, 'REBALANCE_IN_PROGRESS');
  t.equal(await errorCode(call(b, ApiKey.Heartbeat, { groupId: 'g', generationId: 2, memberId: b2.memberId })), 'UNKNOWN_MEMBER_ID', 'the timed-out member is unknown');
  const a3 = await joinGroup(a, a1.memberId);
  t.equal(a3.generationId, 3);
  t.same(a3.members.map((m) => m.memberId), [a1.memberId]);
});

t.test('committed offsets survive SIGKILL and restart', async (t) => {
  const data = tmpDir(t);
  const first = await startBroker(t, { dataDir: data, args: GROUP_ARGS });
  const c = await first.connect();
  await createTopic(c, 'orders', 3);
  for (let p = 0; p < 3; p++) {
    await call(c, ApiKey.OffsetCommit, { groupId: 'solo', generationId: -1, memberId: '', offsets: [{ topic: 'orders', partition: p, offset: BigInt(10 + p) }] });
  }
  await first.stop('SIGKILL');
  const second = await startBroker(t, { dataDir: data, args: GROUP_ARGS });
  const fetched = await call<{ partitions: Array<{ partition: number; offset: bigint }> }>(await second.connect(), ApiKey.OffsetFetch, { groupId: 'solo', partitions: null });
  t.same(fetched.partitions.map((p) => [p.partition, p.offset]).sort(), [[0, 10n], [1, 11n], [2, 12n]]);
});

t.test('committed offsets of a group without members expire after --offsets-retention-ms; a group with members keeps them', async (t) => {
  const broker = await startBroker(t, { args: ['--offsets-retention-ms', '300', '--retention-check-interval-ms', '50', '--group-initial-rebalance-delay-ms', '0'] });
  const c = await broker.connect();
  await createTopic(c, 'kept', 1);
  const { Consumer } = await import('../src/client/consumer.js');
  const member = new Consumer({ broker: `127.0.0.1:${broker.port}`, groupId: 'busy', autoCommit: false });
  t.teardown(() => member.close());
  member.subscribe(['kept']);
  const iterating = member[Symbol.asyncIterator]();
  void iterating.next();
  const stateOf = async (groupId: string) => (await call<{ groups: Array<{ state: string; offsets: unknown[] }> }>(c, ApiKey.DescribeGroups, { groups: [groupId] })).groups[0]!;
  for (let i = 0; i < 200 && (await stateOf('busy')).state !== 'Stable'; i++) await new Promise((r) => setTimeout(r, 25));
  await member.commit([{ topic: 'kept', partition: 0, offset: 0n }]);
  // The idle group commits after the busy one: once the idle group's offset expires, the busy
  // group's is older still.
  await call(c, ApiKey.OffsetCommit, { groupId: 'idle', offsets: [{ topic: 'kept', partition: 0, offset: 0n }] });
  // Expiry runs every 50 ms; the idle group's only offset is 300 ms old soon.
  let idle = await stateOf('idle');
  for (let i = 0; i < 200 && idle.offsets.length > 0; i++) {
    await new Promise((r) => setTimeout(r, 25));
    idle = await stateOf('idle');
  }
  t.same(idle.offsets, [], 'the idle group forgot its offset');
  t.equal(idle.state, 'Dead', 'and the group itself');
  const busy = await stateOf('busy');
  t.equal(busy.state, 'Stable');
  t.equal(busy.offsets.length, 1, 'a group with a member keeps its offsets, however old');
});
