// The group coordinator driven by a manual scheduler (no sleeping) over a real __consumer_offsets
// log: joins, leader assignment, generations, session and rebalance timeouts, stale members,
// commits that survive a reopen.

import t from 'tap';
import { pino } from 'pino';
import { ManualScheduler } from '../src/clock.js';
import type { JoinResult } from '../src/group/group.js';
import { GroupCoordinator, MemberIdRequired, type JoinRequest } from '../src/group/coordinator.js';
import { OffsetStore } from '../src/group/offset-store.js';
import { TopicRegistry } from '../src/log/topic-registry.js';
import { code } from './helpers/outcome.js';
import { tmpDir } from './helpers/tmp.js';

const logger = pino({ level: 'silent' });

async function setup(t: Parameters<typeof tmpDir>[0], dir = tmpDir(t), initialRebalanceDelayMs = 0, offsetsRetentionMs?: number, startMs = 1_000_000) {
  const topics = await TopicRegistry.open(dir, { partitions: 1 }, logger);
  if (!topics.get('orders')) await topics.create('orders', 6);
  const store = await OffsetStore.open(topics);
  const clock = new ManualScheduler(startMs);
  const coordinator = new GroupCoordinator(store, clock, logger, (topic, p) => topics.get(topic)?.partitions[p] !== undefined, { initialRebalanceDelayMs, ...(offsetsRetentionMs !== undefined ? { offsetsRetentionMs } : {}) });
  return { topics, store, clock, coordinator, dir, close: () => (coordinator.stop(), topics.close()) };
}

const join = (c: GroupCoordinator, memberId = '', clientId = 'c', sessionTimeoutMs = 10_000): Promise<Awaited<ReturnType<GroupCoordinator['join']>>> =>
  c.join({
    groupId: 'g',
    memberId,
    clientId,
    clientHost: '127.0.0.1',
    sessionTimeoutMs,
    rebalanceTimeoutMs: 20_000,
    protocolType: 'consumer',
    protocols: [{ name: 'range', metadata: Buffer.from(clientId) }],
  } satisfies JoinRequest);


t.test('members joining together form one generation; the leader assigns, everyone gets their part', async (t) => {
  const { clock, coordinator, close } = await setup(t, undefined, 3_000);
  t.teardown(close);
  const joins = [join(coordinator, '', 'a'), join(coordinator, '', 'b'), join(coordinator, '', 'c')];
  clock.advance(3_000);
  const results = await Promise.all(joins);
  t.ok(results.every((r) => r.generationId === 1), 'one generation');
  const leader = results.find((r) => r.members.length > 0)!;
  t.same(leader.members.map((m) => m.metadata.toString()).sort(), ['a', 'b', 'c'], 'the leader sees every subscription');
  t.equal(results.filter((r) => r.members.length > 0).length, 1, 'only the leader gets the members');
  t.ok(results.every((r) => r.leaderId === leader.memberId && r.protocolName === 'range'));

  const followers = results.filter((r) => r !== leader).map((r) => coordinator.sync({ groupId: 'g', generationId: 1, memberId: r.memberId }, null));
  const assignments = new Map(results.map((r) => [r.memberId, Buffer.from(`parts of ${r.memberId}`)]));
  const own = await coordinator.sync({ groupId: 'g', generationId: 1, memberId: leader.memberId }, assignments);
  t.equal(own.toString(), `parts of ${leader.memberId}`);
  const got = await Promise.all(followers);
  t.same(got.map((b) => b.toString()), results.filter((r) => r !== leader).map((r) => `parts of ${r.memberId}`));
  t.equal(coordinator.describe('g').state, 'Stable');
});

t.test('a missed session timeout removes the member; its heartbeat and commits are then rejected', async (t) => {
  const { clock, coordinator, close } = await setup(t);
  t.teardown(close);
  const a = await join(coordinator, '', 'a');
  await coordinator.sync({ groupId: 'g', generationId: 1, memberId: a.memberId }, new Map([[a.memberId, Buffer.from('all')]]));
  // b joins: a learns of the rebalance by its heartbeat and rejoins.
  const bJoin = join(coordinator, '', 'b');
  t.equal(await code(() => coordinator.heartbeat({ groupId: 'g', generationId: 1, memberId: a.memberId })), 'REBALANCE_IN_PROGRESS');
  const [a2, b] = await Promise.all([join(coordinator, a.memberId, 'a'), bJoin]);
  t.equal(a2.generationId, 2);
  t.equal(b.generationId, 2);
  await Promise.all([
    coordinator.sync({ groupId: 'g', generationId: 2, memberId: a.memberId }, new Map([[a.memberId, Buffer.from('x')], [b.memberId, Buffer.from('y')]])),
    coordinator.sync({ groupId: 'g', generationId: 2, memberId: b.memberId }, null),
  ]);

  // A commit with the old generation is refused.
  t.equal(await code(coordinator.commit({ groupId: 'g', generationId: 1, memberId: a.memberId }, [{ topic: 'orders', partition: 0, offset: 5n, metadata: null }])), 'ILLEGAL_GENERATION');

  // a keeps heartbeating, b goes silent past its 10 s session.
  for (let i = 0; i < 3; i++) {
    clock.advance(3_000);
    coordinator.heartbeat({ groupId: 'g', generationId: 2, memberId: a.memberId });
  }
  clock.advance(2_000);
  t.equal(await code(() => coordinator.heartbeat({ groupId: 'g', generationId: 2, memberId: b.memberId })), 'UNKNOWN_MEMBER_ID', 'the expired member is gone');
  t.equal(await code(coordinator.commit({ groupId: 'g', generationId: 2, memberId: b.memberId }, [{ topic: 'orders', partition: 1, offset: 1n, metadata: null }])), 'UNKNOWN_MEMBER_ID');
  t.equal(await code(() => coordinator.heartbeat({ groupId: 'g', generationId: 2, memberId: a.memberId })), 'REBALANCE_IN_PROGRESS', 'the survivor is told to rejoin');
  const a3 = await join(coordinator, a.memberId, 'a');
  t.equal(a3.generationId, 3);
  t.same(a3.members.map((m) => m.memberId), [a.memberId], 'the group is a alone');
});

t.test('a member that does not rejoin within the rebalance timeout is dropped from the generation', async (t) => {
  const { clock, coordinator, close } = await setup(t);
  t.teardown(close);
  const a = await join(coordinator, '', 'a');
  await coordinator.sync({ groupId: 'g', generationId: 1, memberId: a.memberId }, new Map());
  const b = join(coordinator, '', 'b');
  let settled = false;
  void b.then(() => (settled = true));
  clock.advance(5_000);
  await Promise.resolve();
  t.notOk(settled, 'b waits for a to rejoin');
  clock.advance(15_000); // rebalance timeout 20 s
  const bJoined = await b;
  t.equal(bJoined.generationId, 2);
  t.same(bJoined.members.map((m) => m.memberId), [bJoined.memberId]);
  t.equal(await code(() => coordinator.heartbeat({ groupId: 'g', generationId: 1, memberId: a.memberId })), 'UNKNOWN_MEMBER_ID');
});

t.test('leave starts a rebalance; the last member leaving empties the group', async (t) => {
  const { coordinator, close } = await setup(t);
  t.teardown(close);
  const a = await join(coordinator, '', 'a');
  await coordinator.sync({ groupId: 'g', generationId: 1, memberId: a.memberId }, new Map());
  coordinator.leave('g', a.memberId);
  const d = coordinator.describe('g');
  t.equal(d.state, 'Empty');
  t.equal(d.generationId, 2);
  t.equal(await code(() => coordinator.leave('g', a.memberId)), 'UNKNOWN_MEMBER_ID');
});

t.test('bad joins: session timeout out of range, no common strategy, unknown member id', async (t) => {
  const { coordinator, close } = await setup(t);
  t.teardown(close);
  t.equal(await code(() => join(coordinator, '', 'a', 10)), 'INVALID_SESSION_TIMEOUT');
  await join(coordinator, '', 'a');
  const other = () =>
    coordinator.join({ groupId: 'g', memberId: '', clientId: 'z', clientHost: 'h', sessionTimeoutMs: 10_000, rebalanceTimeoutMs: 10_000, protocolType: 'consumer', protocols: [{ name: 'sticky', metadata: Buffer.alloc(0) }] });
  t.equal(await code(other), 'INCONSISTENT_GROUP_PROTOCOL');
  t.equal(await code(() => join(coordinator, 'nobody', 'a')), 'UNKNOWN_MEMBER_ID');
  t.equal(await code(() => coordinator.join({ groupId: '', memberId: '', clientId: 'a', clientHost: 'h', sessionTimeoutMs: 10_000, rebalanceTimeoutMs: 1, protocolType: 'consumer', protocols: [] })), 'INVALID_GROUP_ID');
});

t.test('commits are durable in __consumer_offsets and rebuilt on reopen, with the generation', async (t) => {
  const first = await setup(t);
  const a = await join(first.coordinator, '', 'a');
  await first.coordinator.sync({ groupId: 'g', generationId: 1, memberId: a.memberId }, new Map());
  const outcomes = await first.coordinator.commit({ groupId: 'g', generationId: 1, memberId: a.memberId }, [
    { topic: 'orders', partition: 0, offset: 42n, metadata: 'm' },
    { topic: 'orders', partition: 1, offset: 7n, metadata: null },
    { topic: 'nope', partition: 0, offset: 1n, metadata: null },
  ]);
  t.same(outcomes.map((o) => o.error?.code ?? 'ok'), ['ok', 'ok', 'UNKNOWN_TOPIC_OR_PARTITION']);
  await first.coordinator.commit({ groupId: 'g', generationId: 1, memberId: a.memberId }, [{ topic: 'orders', partition: 0, offset: 50n, metadata: null }]);
  t.equal(await code(first.coordinator.commit({ groupId: 'solo', generationId: -1, memberId: '' }, [{ topic: 'orders', partition: 2, offset: 3n, metadata: null }])), 'ok', 'a group without members may commit (assign() consumers)');
  await first.close();

  const second = await setup(t, first.dir);
  t.teardown(second.close);
  const fetched = second.coordinator.fetchOffsets('g', [{ topic: 'orders', partition: 0 }, { topic: 'orders', partition: 1 }, { topic: 'orders', partition: 5 }]);
  t.same(fetched.map((f) => f.committed?.offset ?? null), [50n, 7n, null]);
  t.same(second.coordinator.listGroups().map((g) => [g.groupId, g.state]), [['g', 'Empty'], ['solo', 'Empty']]);
  const again = await join(second.coordinator, '', 'a');
  t.equal(again.generationId, 2, 'generations keep counting after a restart');
});

t.test('while a rebalance is prepared, members may still commit their generation; not while waiting for the assignment', async (t) => {
  const { coordinator, close } = await setup(t);
  t.teardown(close);
  const a = await join(coordinator, '', 'a');
  await coordinator.sync({ groupId: 'g', generationId: 1, memberId: a.memberId }, new Map());
  const b = join(coordinator, '', 'b');
  const offsets = [{ topic: 'orders', partition: 0, offset: 9n, metadata: null }];
  t.equal(await code(coordinator.commit({ groupId: 'g', generationId: 1, memberId: a.memberId }, offsets)), 'ok', 'a saves its progress before rejoining');
  const [a2] = await Promise.all([join(coordinator, a.memberId, 'a'), b]);
  t.equal(await code(coordinator.commit({ groupId: 'g', generationId: 2, memberId: a.memberId }, offsets)), 'REBALANCE_IN_PROGRESS', 'no commits before the assignment');
  t.equal(await code(coordinator.commit({ groupId: 'g', generationId: 1, memberId: a.memberId }, offsets)), 'ILLEGAL_GENERATION');
  t.equal(a2.generationId, 2);
});

/** A static member's join (KIP-345): `instance` is its group instance id. */
const joinStatic = (c: GroupCoordinator, instance: string, memberId = '', strategies = ['range']) =>
  c.join({
    groupId: 'g',
    memberId,
    groupInstanceId: instance,
    clientId: instance,
    clientHost: '127.0.0.1',
    sessionTimeoutMs: 10_000,
    rebalanceTimeoutMs: 20_000,
    protocolType: 'consumer',
    protocols: strategies.map((name) => ({ name, metadata: Buffer.from(instance) })),
  });

/** Two static members `a` and `b` in a Stable generation 1, each assigned `parts of <instance>`. */
async function stableStaticPair(c: GroupCoordinator, clock: ManualScheduler) {
  const joins = [joinStatic(c, 'a'), joinStatic(c, 'b')];
  clock.advance(3_000); // the initial rebalance delay: both land in generation 1
  const [a, b] = (await Promise.all(joins)) as [JoinResult, JoinResult];
  const leader = [a, b].find((r) => r.members.length > 0)!;
  const assignments = new Map([a, b].map((r) => [r.memberId, Buffer.from(`parts of ${r.memberId === a.memberId ? 'a' : 'b'}`)]));
  await Promise.all([a, b].map((r) => c.sync({ groupId: 'g', generationId: 1, memberId: r.memberId }, r === leader ? assignments : null)));
  return { a, b, leader };
}

t.test('static membership: a restarted instance gets its assignment back in the same generation, without a rebalance; its predecessor is fenced', async (t) => {
  const { clock, coordinator, close } = await setup(t, undefined, 3_000);
  t.teardown(close);
  const { a, b } = await stableStaticPair(coordinator, clock);
  t.ok(a.generationId === 1 && b.generationId === 1);
  t.same(coordinator.describe('g').members.map((m) => m.groupInstanceId).sort(), ['a', 'b'], 'members carry their instance ids');

  // b restarts: a new process, no member id, the same instance id and strategies.
  const b2 = await joinStatic(coordinator, 'b');
  t.not(b2.memberId, b.memberId, 'a new member id');
  t.equal(b2.generationId, 1, 'the same generation');
  t.same(b2.members, [], 'not asked to assign');
  t.not(b2.leaderId, b2.memberId, 'not told it leads, so it computes no assignment a Stable group would ignore');
  t.equal(coordinator.describe('g').state, 'Stable', 'no rebalance');
  t.equal((await coordinator.sync({ groupId: 'g', generationId: 1, memberId: b2.memberId, groupInstanceId: 'b' }, null)).toString(), 'parts of b', 'its previous assignment');
  t.equal(await code(() => coordinator.heartbeat({ groupId: 'g', generationId: 1, memberId: a.memberId, groupInstanceId: 'a' })), 'ok', 'the other member is undisturbed');

  const stale = { groupId: 'g', generationId: 1, memberId: b.memberId, groupInstanceId: 'b' };
  t.equal(await code(() => coordinator.heartbeat(stale)), 'FENCED_INSTANCE_ID', 'the old member id with the instance id is fenced');
  t.equal(await code(coordinator.commit(stale, [{ topic: 'orders', partition: 0, offset: 1n, metadata: null }])), 'FENCED_INSTANCE_ID');
  t.equal(await code(() => joinStatic(coordinator, 'b', b.memberId)), 'FENCED_INSTANCE_ID', 'and so is its join');
  t.equal(await code(() => coordinator.heartbeat({ ...stale, groupInstanceId: null })), 'UNKNOWN_MEMBER_ID', 'without the instance id it is simply unknown');
  t.equal(await code(() => coordinator.heartbeat({ ...stale, memberId: b2.memberId, groupInstanceId: 'nobody' })), 'UNKNOWN_MEMBER_ID', 'an instance nobody holds is unknown, as Kafka answers');
});

t.test('static membership: a restarted leader stays the leader without a rebalance; different strategies rebalance', async (t) => {
  const { clock, coordinator, close } = await setup(t, undefined, 3_000);
  t.teardown(close);
  const { a, b, leader } = await stableStaticPair(coordinator, clock);
  const instance = leader === a ? 'a' : 'b';
  const other = leader === a ? b : a;
  const l2 = await joinStatic(coordinator, instance);
  t.equal(l2.leaderId, leader.memberId, 'the answer names the leader before the replacement');
  t.equal(coordinator.describe('g').leaderId, l2.memberId, 'the new member id leads from now on');
  t.equal(coordinator.describe('g').state, 'Stable');

  // The other instance restarts offering other strategies: the group rebalances to agree on one.
  const otherInstance = leader === a ? 'b' : 'a';
  const o2 = joinStatic(coordinator, otherInstance, '', ['roundrobin', 'range']);
  t.equal(coordinator.describe('g').state, 'PreparingRebalance', 'a rebalance');
  t.equal(await code(() => coordinator.heartbeat({ groupId: 'g', generationId: 1, memberId: other.memberId, groupInstanceId: otherInstance })), 'FENCED_INSTANCE_ID');
  const [l3, o3] = await Promise.all([joinStatic(coordinator, instance, l2.memberId), o2]);
  t.equal(l3.generationId, 2);
  t.equal(o3.generationId, 2);
});

t.test('static membership: only the session timeout or a leave removes a static member, freeing its instance id', async (t) => {
  const { clock, coordinator, close } = await setup(t, undefined, 3_000);
  t.teardown(close);
  const { a, b } = await stableStaticPair(coordinator, clock);
  clock.advance(9_000);
  coordinator.heartbeat({ groupId: 'g', generationId: 1, memberId: a.memberId, groupInstanceId: 'a' });
  clock.advance(2_000); // b's session (10 s) ran out
  t.same(coordinator.describe('g').members.map((m) => m.groupInstanceId), ['a'], 'b is gone');
  t.equal(coordinator.describe('g').state, 'PreparingRebalance');
  t.equal(await code(() => coordinator.heartbeat({ groupId: 'g', generationId: 1, memberId: b.memberId, groupInstanceId: 'b' })), 'UNKNOWN_MEMBER_ID', 'its instance id is free again');
  const a2 = await joinStatic(coordinator, 'a', a.memberId);
  t.equal(a2.generationId, 2);

  // A batch leave: per-member outcomes.
  const outcomes = coordinator.leaveMembers('g', [
    { memberId: 'ghost', groupInstanceId: null },
    { memberId: 'wrong-id', groupInstanceId: 'a' },
    { memberId: '', groupInstanceId: 'b' },
    { memberId: '', groupInstanceId: 'a' },
  ]);
  t.same(outcomes.map((e) => e?.code), ['UNKNOWN_MEMBER_ID', 'FENCED_INSTANCE_ID', 'UNKNOWN_MEMBER_ID', undefined], 'unknown member, fenced id, unknown instance, left by instance id');
  t.equal(coordinator.describe('g').state, 'Empty');
});

t.test('KIP-394: a new dynamic member is first given its member id, and the rebalance waits for it to come back', async (t) => {
  const { clock, coordinator, close } = await setup(t);
  t.teardown(close);
  const ask = (memberId: string, clientId: string) =>
    coordinator.join({ groupId: 'g', memberId, clientId, clientHost: 'h', sessionTimeoutMs: 10_000, rebalanceTimeoutMs: 20_000, protocolType: 'consumer', protocols: [{ name: 'range', metadata: Buffer.alloc(0) }], requireKnownMemberId: true });
  /** The member id handed out with MEMBER_ID_REQUIRED to a join without one. */
  const idFor = async (clientId: string): Promise<string> => {
    try {
      await ask('', clientId);
    } catch (err) {
      if (err instanceof MemberIdRequired && err.code === 'MEMBER_ID_REQUIRED') return err.memberId;
      throw err;
    }
    throw new Error('answered without a member id');
  };
  const given = await idFor('a');
  t.match(given, /^a-/, 'a member id is given');
  t.same(coordinator.describe('g').members, [], 'not a member yet');
  const a = await ask(given, 'a');
  t.equal(a.memberId, given, 'joined with the id it was given');
  await coordinator.sync({ groupId: 'g', generationId: 1, memberId: a.memberId }, new Map());

  // b is given an id; a's rejoin waits for b rather than completing a generation b will upset.
  const bId = await idFor('b');
  let settled = false;
  const a2 = ask(a.memberId, 'a').finally(() => (settled = true));
  await Promise.resolve();
  t.notOk(settled, 'the rebalance waits for the pending member');
  const [a3, b] = await Promise.all([a2, ask(bId, 'b')]);
  t.equal(a3.generationId, 2);
  t.equal(b.generationId, 2);

  // A pending id never used expires after the session timeout.
  const cId = await idFor('c');
  clock.advance(10_001);
  t.equal(await code(() => ask(cId, 'c')), 'UNKNOWN_MEMBER_ID', 'an expired pending id');
});

t.test('offsets expire as KIP-211 says: a group that had members, retention after it went empty; a standalone commit, retention after it was made', async (t) => {
  const retentionMs = 60_000;
  const { clock, store, coordinator, close } = await setup(t, undefined, 0, retentionMs);
  t.teardown(close);
  const a = await join(coordinator, '', 'a', 10_000);
  await coordinator.sync({ groupId: 'g', generationId: a.generationId, memberId: a.memberId }, new Map([[a.memberId, Buffer.from('all')]]));
  await coordinator.commit({ groupId: 'g', generationId: a.generationId, memberId: a.memberId }, [{ topic: 'orders', partition: 0, offset: 7n, metadata: null }]);
  await coordinator.commit({ groupId: 'solo', generationId: -1, memberId: '' }, [{ topic: 'orders', partition: 1, offset: 3n, metadata: null }]);
  // The member stays two retention periods past its commit, heartbeating, then leaves.
  for (let ms = 0; ms < 2 * retentionMs; ms += 5_000) {
    clock.advance(5_000);
    coordinator.heartbeat({ groupId: 'g', generationId: a.generationId, memberId: a.memberId });
  }
  t.same(await coordinator.expireOffsets(), [{ groupId: 'solo', partitions: 1 }], 'the standalone commit is older than retention; the group with a member keeps its own');
  const leftAt = clock.nowMs();
  coordinator.leave('g', a.memberId);
  // Storing the empty group's state is the coordinator's own write: wait for that record, not for a time.
  while (store.group('g')?.stateTimestampMs !== leftAt) await new Promise((resolve) => setImmediate(resolve));
  t.equal(coordinator.describe('g').state, 'Empty');
  clock.advance(1_000);
  t.same(await coordinator.expireOffsets(), [], 'empty for 1 s: its commit, 2 retention periods old, stays (by commit time it would go)');
  t.equal(coordinator.fetchOffsets('g', [{ topic: 'orders', partition: 0 }])[0]!.committed?.offset, 7n);
  clock.advance(retentionMs);
  t.same(await coordinator.expireOffsets(), [{ groupId: 'g', partitions: 1 }], 'empty for longer than retention: gone');
  t.equal(coordinator.describe('g').state, 'Dead', 'and the group with them');
});

t.test('a group stored while it had members keeps its offsets for retention after a restart: its members left no earlier than that', async (t) => {
  const retentionMs = 60_000;
  const dir = tmpDir(t);
  const first = await setup(t, dir, 0, retentionMs);
  const a = await join(first.coordinator, '', 'a', 10_000);
  await first.coordinator.sync({ groupId: 'g', generationId: a.generationId, memberId: a.memberId }, new Map([[a.memberId, Buffer.from('all')]]));
  await first.coordinator.commit({ groupId: 'g', generationId: a.generationId, memberId: a.memberId }, [{ topic: 'orders', partition: 0, offset: 7n, metadata: null }]);
  while (first.store.group('g')?.protocol == null) await new Promise((resolve) => setImmediate(resolve)); // stored as Stable
  await first.close(); // the broker stops with the member in the group

  // Started again long after the group became Stable, the member not back yet.
  const startMs = first.clock.nowMs() + 10 * retentionMs;
  const second = await setup(t, dir, 0, retentionMs, startMs);
  t.teardown(second.close);
  t.equal(second.coordinator.describe('g').state, 'Empty');
  t.same(await second.coordinator.expireOffsets(), [], 'Stable for 10 retention periods before the restart: not empty that long');
  second.clock.advance(retentionMs - 1_000);
  t.same(await second.coordinator.expireOffsets(), [], 'not yet: empty at most since the restart');
  second.clock.advance(2_000);
  t.same(await second.coordinator.expireOffsets(), [{ groupId: 'g', partitions: 1 }], 'empty for longer than retention since the restart: gone');
});

t.test("a new member whose connection closes while its join waits is removed then, not a session timeout later", async (t) => {
  const { clock, coordinator, close } = await setup(t, undefined, 3_000);
  t.teardown(close);
  const gone = new AbortController();
  const request = { groupId: 'g', memberId: '', clientId: 'x', clientHost: '127.0.0.1', sessionTimeoutMs: 30_000, rebalanceTimeoutMs: 20_000, protocolType: 'consumer', protocols: [{ name: 'range', metadata: Buffer.from('x') }] } satisfies JoinRequest;
  const abandoned = coordinator.join(request, gone.signal);
  t.equal(coordinator.describe('g').members.length, 1, 'waiting out the initial rebalance delay');
  gone.abort();
  t.equal(await code(abandoned), 'UNKNOWN_MEMBER_ID');
  t.equal(coordinator.describe('g').members.length, 0, 'gone at once (its session timeout is 30 s)');

  // A member whose connection stays joins alone, and the group does not wait for the one that left.
  const stays = join(coordinator, '', 'a');
  clock.advance(3_000);
  const a = await stays;
  t.same(a.members.map((m) => m.memberId), [a.memberId], 'one member in the generation');
  await coordinator.sync({ groupId: 'g', generationId: a.generationId, memberId: a.memberId }, new Map([[a.memberId, Buffer.from('all')]]));
  // A join answered is not undone by its connection closing later.
  const later = new AbortController();
  const b = coordinator.join({ ...request, clientId: 'b' }, later.signal);
  const aAgain = join(coordinator, a.memberId, 'a');
  const [bJoined] = await Promise.all([b, aAgain]);
  later.abort();
  t.equal(coordinator.describe('g').members.length, 2, 'b stays: it learned its member id and can leave for itself');
  t.ok(bJoined.memberId.startsWith('b-'));
});
