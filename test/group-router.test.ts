// A cluster member's groups without the cluster around them: real __consumer_offsets partitions in a
// registry, whose roles the test sets as the replica manager would, a real LogService for the
// router's acks=all appends, and a manual scheduler. A group is served only while its partition is
// led here; losing the leadership fails parked joins and in-flight commits with NOT_COORDINATOR;
// leading again replays what the log holds. The group → partition rule is Kafka's.

import t from 'tap';
import { pino } from 'pino';
import { ManualScheduler } from '../src/clock.js';
import type { JoinRequest } from '../src/group/coordinator.js';
import { GroupRouter } from '../src/group/group-router.js';
import { javaStringHashCode, OFFSETS_TOPIC, offsetsPartitionFor } from '../src/group/offsets-topic.js';
import { LogService } from '../src/log/log-service.js';
import type { Partition } from '../src/log/partition.js';
import { TopicRegistry } from '../src/log/topic-registry.js';
import { code } from './helpers/outcome.js';
import { tmpDir } from './helpers/tmp.js';

const logger = pino({ level: 'silent' });
const OFFSETS_PARTITIONS = 3;
const GROUP = 'g';

t.test("group → partition is Kafka's: abs(String.hashCode) % partitions, Integer.MIN_VALUE as 0", async (t) => {
  t.equal(javaStringHashCode('hello'), 99162322, 'Java\'s "hello".hashCode()');
  t.equal(javaStringHashCode('polygenelubricants'), -0x8000_0000, 'a string whose Java hash is Integer.MIN_VALUE');
  t.equal(offsetsPartitionFor('polygenelubricants', 50), 0, 'Utils.abs(Integer.MIN_VALUE) is 0, not negative');
  t.equal(offsetsPartitionFor('hello', 50), 22);
  t.equal(offsetsPartitionFor('my-group', 50), 12, 'a negative hash (-1906497762) by its absolute value');
  t.equal(offsetsPartitionFor('my-group', 10), 2);
  t.equal(javaStringHashCode('\u{1F600}'), 0xd83d * 31 + 0xde00, 'over UTF-16 code units, as Java strings are');
});

async function setup(t: Parameters<typeof tmpDir>[0]) {
  const topics = await TopicRegistry.open(tmpDir(t), { partitions: 1 }, logger);
  await topics.create(OFFSETS_TOPIC, OFFSETS_PARTITIONS);
  topics.markInternal(OFFSETS_TOPIC);
  await topics.create('orders', 2);
  const log = new LogService(topics);
  log.setLeadership({ leaseValid: () => true, replicationTimeoutMs: 60_000, clock: { nowMs: () => performance.now() }, knows: () => false, preferredReadReplica: () => -1 });
  const scheduler = new ManualScheduler(1_000_000);
  const router = new GroupRouter({
    topics,
    scheduler,
    logger,
    partitionExists: (topic, partition) => topics.get(topic)?.partitions[partition] !== undefined,
    coordinator: { initialRebalanceDelayMs: 0 },
    append: async (partition, batch) => {
      await log.appendInternal(partition, batch);
    },
  });
  t.teardown(async () => {
    router.stop();
    log.stop();
    await topics.close();
  });
  const partition = topics.partition(OFFSETS_TOPIC, offsetsPartitionFor(GROUP, OFFSETS_PARTITIONS));
  return { topics, router, scheduler, partition };
}

/** Takes a role as the replica manager does, and tells the router. */
function lead(router: GroupRouter, p: Partition, epoch: number, isr = [1]): void {
  p.becomeLeader({ nodeId: 1, replicas: [1, 2], isr, nowMs: performance.now() }, epoch, 1);
  router.roleChanged(p);
}
function follow(router: GroupRouter, p: Partition, epoch: number): void {
  p.becomeFollower(epoch, 2);
  router.roleChanged(p);
}

const joinRequest = (memberId = '', clientId = 'a'): JoinRequest => ({
  groupId: GROUP,
  memberId,
  clientId,
  clientHost: '127.0.0.1',
  sessionTimeoutMs: 10_000,
  rebalanceTimeoutMs: 20_000,
  protocolType: 'consumer',
  protocols: [{ name: 'range', metadata: Buffer.from(clientId) }],
});

t.test('a group is served while its offsets partition is led here, dropped when it is not, replayed when it is again', async (t) => {
  const { router, partition, topics } = await setup(t);
  t.equal(await code(() => router.join(joinRequest())), 'NOT_COORDINATOR', 'nothing is led yet');
  t.equal(await code(() => router.join({ ...joinRequest(), groupId: '' })), 'INVALID_GROUP_ID', 'a bad group id is refused as such first');

  // Another offsets partition led here does not make this broker the group's coordinator.
  const other = topics.partition(OFFSETS_TOPIC, (partition.index + 1) % OFFSETS_PARTITIONS);
  lead(router, other, 0);
  t.equal(await code(() => router.fetchOffsets(GROUP, null)), 'NOT_COORDINATOR', 'the group lives in another partition');

  lead(router, partition, 0);
  t.same(router.ledPartitions, [partition.index, other.index].sort(), 'both partitions led');
  const a = await router.join(joinRequest());
  t.equal(a.generationId, 1);
  await router.sync({ groupId: GROUP, generationId: 1, memberId: a.memberId }, new Map([[a.memberId, Buffer.from('all')]]));
  const committed = await router.commit({ groupId: GROUP, generationId: 1, memberId: a.memberId }, [{ topic: 'orders', partition: 0, offset: 7n, metadata: null }]);
  t.same(committed.map((o) => o.error), [undefined], 'acknowledged (the leader is its whole ISR)');
  t.ok(partition.highWatermark > 0n, 'the commit is in the offsets partition, under its high watermark');
  t.same(router.listGroups().map((g) => g.groupId), [GROUP], 'listed here');

  // b joins; its join is parked until a rejoins, and the leadership moves first.
  const parked = router.join(joinRequest('', 'b'));
  follow(router, partition, 1);
  t.equal(await code(parked), 'NOT_COORDINATOR', 'the parked join fails: its member must find the new coordinator');
  t.equal(await code(() => router.heartbeat({ groupId: GROUP, generationId: 1, memberId: a.memberId })), 'NOT_COORDINATOR');
  t.equal(await code(() => router.fetchOffsets(GROUP, null)), 'NOT_COORDINATOR');
  t.equal(await code(() => router.describe(GROUP)), 'NOT_COORDINATOR');
  t.equal(await code(() => router.deleteGroup(GROUP)), 'NOT_COORDINATOR');
  t.same(router.listGroups(), [], 'no longer listed');
  t.same(router.ledPartitions, [other.index], 'only the other partition is led');

  // Leading again (a later epoch): the state is what the log holds, members are not.
  lead(router, partition, 2);
  t.same(router.fetchOffsets(GROUP, [{ topic: 'orders', partition: 0 }]).map((o) => o.committed?.offset), [7n], 'the commit was replayed from the log');
  const d = router.describe(GROUP);
  t.equal(d.members.length, 0, 'members must join again');
  t.equal(d.generationId, 1, 'the stored generation');
  t.equal(await code(() => router.heartbeat({ groupId: GROUP, generationId: 1, memberId: a.memberId })), 'UNKNOWN_MEMBER_ID', 'the old member is unknown to the new coordinator');
  t.equal((await router.join(joinRequest())).generationId, 2, 'a new generation after the stored one');
});

t.test('a commit waiting for its in-sync replicas when the leadership moves answers NOT_COORDINATOR and is not visible', async (t) => {
  const { router, partition } = await setup(t);
  // Broker 2 is in the ISR and never fetches: the high watermark cannot pass the commit.
  lead(router, partition, 0, [1, 2]);
  const pending = router.commit({ groupId: GROUP, generationId: -1, memberId: '' }, [{ topic: 'orders', partition: 1, offset: 3n, metadata: null }]);
  let settled = false;
  void pending.then(() => (settled = true));
  await new Promise((r) => setTimeout(r, 50));
  t.notOk(settled, 'not acknowledged before the replicas hold it');
  t.same(router.fetchOffsets(GROUP, [{ topic: 'orders', partition: 1 }]).map((o) => o.committed), [null], 'not visible meanwhile');
  follow(router, partition, 1);
  const outcome = await pending;
  t.same(outcome.map((o) => o.error?.code), ['NOT_COORDINATOR'], 'NOT_COORDINATOR: the client asks FindCoordinator and commits again');
});

t.test("a new leader replays its whole log: commits the old leader acknowledged may be past its own high watermark", async (t) => {
  // Two brokers' offsets partitions: `old` leads and acknowledges a commit; `next` follows it.
  const old = await setup(t);
  const next = await setup(t);
  lead(old.router, old.partition, 3);
  const a = await old.router.join(joinRequest());
  await old.router.sync({ groupId: GROUP, generationId: 1, memberId: a.memberId }, new Map([[a.memberId, Buffer.alloc(0)]]));
  const outcome = await old.router.commit({ groupId: GROUP, generationId: 1, memberId: a.memberId }, [{ topic: 'orders', partition: 1, offset: 42n, metadata: 'm' }]);
  t.same(outcome.map((o) => o.error), [undefined], 'acknowledged by the old leader');

  // The follower copies the leader's batches byte for byte, and has not heard of the new high watermark yet.
  next.partition.becomeFollower(3, 1);
  next.router.roleChanged(next.partition);
  const copied = old.partition.log.read(0n, 1 << 20).data;
  next.partition.appendReplica(copied);
  next.partition.setFollowerHighWatermark(0n);
  t.equal(next.partition.highWatermark, 0n, "the follower's high watermark is behind its log end");
  t.equal(next.partition.logEndOffset, old.partition.logEndOffset, 'it holds everything the leader holds');

  // It leads with the old leader still in its ISR: its high watermark waits for that replica's fetches.
  lead(next.router, next.partition, 4, [1, 2]);
  t.ok(next.partition.highWatermark < next.partition.logEndOffset, 'the new leader\'s high watermark is still behind the commit');
  t.same(next.router.fetchOffsets(GROUP, [{ topic: 'orders', partition: 1 }]).map((o) => [o.committed?.offset, o.committed?.metadata]), [[42n, 'm']], 'the acknowledged commit is at the new coordinator');
  t.equal(next.router.describe(GROUP).generationId, 1, 'and the group\'s stored generation');
});
