// LogService on real partition logs (no broker process): parked fetches end on data, on abort, on
// stop and on topic deletion, and leave no listener behind; produce reports per partition.

import t from 'tap';
import { pino } from 'pino';
import { LogService } from '../src/log/log-service.js';
import { TopicRegistry } from '../src/log/topic-registry.js';
import { batchOf, tmpDir } from './helpers/tmp.js';

async function setup(t: Parameters<typeof tmpDir>[0]) {
  const topics = await TopicRegistry.open(tmpDir(t), { partitions: 1 }, pino({ level: 'silent' }));
  t.teardown(() => topics.close());
  await topics.create('a', 2);
  return { topics, service: new LogService(topics) };
}

const parkedOn = (topics: TopicRegistry) => topics.get('a')!.partitions.reduce((n, p) => n + p!.listenerCount, 0);
const both = [
  { topic: 'a', partition: 0, offset: 0n, maxBytes: 1 << 20 },
  { topic: 'a', partition: 1, offset: 0n, maxBytes: 1 << 20 },
];

t.test('a parked fetch wakes on an append to any of its partitions and unregisters', async (t) => {
  const { topics, service } = await setup(t);
  const parked = service.fetch(both, { maxWaitMs: 60_000, minBytes: 1, maxBytes: 1 << 20 });
  t.equal(parkedOn(topics), 2, 'registered on both partitions');
  await service.produce([{ topic: 'a', partition: 1, batches: batchOf(1) }], 1);
  const [p0, p1] = await parked;
  t.equal(p0!.slice, undefined);
  t.equal(p1!.slice?.bytes, batchOf(1).length);
  t.equal(parkedOn(topics), 0, 'no listener left behind');
});

t.test('abort (the connection closed), stop and deletion end a parked fetch', async (t) => {
  const { topics, service } = await setup(t);
  const abort = new AbortController();
  const aborted = service.fetch(both, { maxWaitMs: 60_000, minBytes: 1, maxBytes: 1 << 20, signal: abort.signal });
  abort.abort();
  t.same((await aborted).map((o) => o.slice), [undefined, undefined]);
  t.equal(parkedOn(topics), 0);

  const deleted = service.fetch(both, { maxWaitMs: 60_000, minBytes: 1, maxBytes: 1 << 20 });
  const partitions = topics.get('a')!.partitions;
  await topics.delete('a');
  t.same((await deleted).map((o) => o.error?.code), ['UNKNOWN_TOPIC_OR_PARTITION', 'UNKNOWN_TOPIC_OR_PARTITION']);
  t.equal(partitions.reduce((n, p) => n + p!.listenerCount, 0), 0);

  await topics.create('a', 1);
  const stopped = service.fetch([both[0]!], { maxWaitMs: 60_000, minBytes: 1, maxBytes: 1 << 20 });
  service.stop();
  t.equal((await stopped)[0]?.highWatermark, 0n);
  const after = await service.fetch([both[0]!], { maxWaitMs: 60_000, minBytes: 1, maxBytes: 1 << 20 });
  t.equal(after[0]?.highWatermark, 0n, 'after stop, fetches answer at once');
});

t.test('the request byte limit: the first partition may exceed it by one batch, later ones get nothing', async (t) => {
  const { service } = await setup(t);
  const big = batchOf(1, 200);
  await service.produce([{ topic: 'a', partition: 0, batches: big }, { topic: 'a', partition: 1, batches: batchOf(2) }], 1);
  const [p0, p1] = await service.fetch(both, { maxWaitMs: 0, minBytes: 1, maxBytes: 100 });
  t.equal(p0!.slice?.bytes, big.length, 'one whole batch, over the limit');
  t.equal(p1!.slice, undefined, 'no room left');
  t.equal(p1!.highWatermark, 1n, 'but its offsets are reported');
});

t.test('acks=all flushes every partition written before answering', async (t) => {
  const { topics, service } = await setup(t);
  const outcomes = await service.produce(
    [
      { topic: 'a', partition: 0, batches: batchOf(1) },
      { topic: 'a', partition: 1, batches: batchOf(2) },
      { topic: 'a', partition: 5, batches: batchOf(3) },
    ],
    -1,
  );
  t.same(outcomes.map((o) => o.error?.code ?? String(o.result?.baseOffset)), ['0', '0', 'UNKNOWN_TOPIC_OR_PARTITION']);
  t.same(topics.get('a')!.partitions.map((p) => p!.log.stats().recoveryPoint), [1n, 1n], 'fsynced up to the appended offset');
});

t.test('fetches woken by one append share one slice; a later append and retention are seen at once', async (t) => {
  const { topics, service } = await setup(t);
  await topics.create('r', 1, { segmentBytes: 4096, retentionBytes: 8192 });
  const at0 = [{ topic: 'r', partition: 0, offset: 0n, maxBytes: 1 << 20 }];
  const wait = { maxWaitMs: 60_000, minBytes: 1, maxBytes: 1 << 20 };
  const parked = [service.fetch(at0, wait), service.fetch(at0, wait), service.fetch(at0, wait)];
  await service.produce([{ topic: 'r', partition: 0, batches: batchOf(0) }], 1);
  const woken = (await Promise.all(parked)).map(([o]) => o!);
  t.equal(woken[0]!.slice?.bytes, batchOf(0).length);
  t.ok(woken.every((o) => o.slice === woken[0]!.slice), 'the three woken fetches got one slice');

  await service.produce([{ topic: 'r', partition: 0, batches: batchOf(1) }], 1);
  const [after] = await service.fetch(at0, { ...wait, maxWaitMs: 0 });
  t.equal(after!.slice?.bytes, batchOf(0).length + batchOf(1).length, 'an append replaces the kept slice');
  t.equal(after!.highWatermark, 2n);

  for (let i = 2; i < 300; i++) await service.produce([{ topic: 'r', partition: 0, batches: batchOf(i) }], 1);
  const [before] = await service.fetch(at0, { ...wait, maxWaitMs: 0 });
  t.equal(before!.error, undefined, 'offset 0 is still there before retention');
  const [deleted] = topics.enforceRetention();
  t.ok(deleted && deleted.logStartOffset > 0n, 'retention deleted old segments');
  const [gone] = await service.fetch(at0, { ...wait, maxWaitMs: 0 });
  t.equal(gone!.error?.code, 'OFFSET_OUT_OF_RANGE', 'the slice kept from before retention is not served');
  t.equal(gone!.logStartOffset, deleted!.logStartOffset);
});

t.test('acks=all: a leader that becomes a follower while its append waits for the fsync acknowledges nothing', async (t) => {
  // The cluster torture found this: the role was read after the fsync, saw a follower, and the
  // append was answered as written (a deposed leader's tail, truncated when it followed).
  const { topics, service } = await setup(t);
  service.setLeadership({ leaseValid: () => true, replicationTimeoutMs: 60_000, clock: { nowMs: () => performance.now() }, knows: () => false, preferredReadReplica: () => -1 });
  const p = topics.partition('a', 0);
  p.becomeLeader({ nodeId: 1, replicas: [1], isr: [1], nowMs: performance.now() }, 0, 1);
  const alone = await service.produce([{ topic: 'a', partition: 0, batches: batchOf(1) }], -1);
  t.equal(alone[0]!.error, undefined, 'alone in its ISR, the leader acknowledges an acks=all append');
  // The append happens within produce(); the fsync after it is asynchronous, and the role moves meanwhile.
  const produced = service.produce([{ topic: 'a', partition: 0, batches: batchOf(2) }], -1);
  t.equal(p.logEndOffset, 2n, 'the batch was appended before produce() returned its promise');
  p.becomeFollower(1, 2);
  const [outcome] = await produced;
  t.equal(outcome!.error?.code, 'NOT_LEADER_OR_FOLLOWER', 'the append is not acknowledged: the client retries at the new leader');
  t.equal(outcome!.result, undefined, 'and gets no offsets');
});
