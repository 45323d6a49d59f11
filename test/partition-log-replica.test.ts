// A follower's log through the facade: the leader's slices appended as they are (same bytes, same
// offsets, the leader's epochs), out-of-sequence appends refused, truncation of a divergent tail,
// a reset to the leader's log start, reads bounded by a high watermark, the leader epoch; each
// checked again after a reopen and by verify().

import t from 'tap';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { ManualClock } from '../src/clock.js';
import { PartitionLog } from '../src/storage/partition-log.js';
import { decodeRecordBatches } from '../src/protocol/record-batch.js';
import { pino } from 'pino';
import { TopicRegistry } from '../src/log/topic-registry.js';
import { batchOf, tmpDir } from './helpers/tmp.js';

const options = { segmentBytes: 4096, indexIntervalBytes: 256 };

/** Every byte of `log` from `from` to its end, as reads hand them out. */
function bytesFrom(log: PartitionLog, from: bigint): Buffer {
  const pieces: Buffer[] = [];
  let offset = from;
  while (offset < log.highWatermark) {
    const slice = log.slice(offset, 64 * 1024);
    pieces.push(slice.read());
    offset = slice.nextOffset;
  }
  return Buffer.concat(pieces);
}

/** Copies the leader's batches from `from` into the follower, in slices of changing sizes; returns the append times seen. */
function replicate(leader: PartitionLog, follower: PartitionLog, from: bigint): number[] {
  let offset = from;
  const times: number[] = [];
  const budgets = [0, 300, 1000, 3000];
  while (offset < leader.highWatermark) {
    const slice = leader.slice(offset, budgets[times.length % budgets.length]!);
    const r = follower.appendReplica(slice.read());
    if (r.baseOffset !== offset || r.lastOffset + 1n !== slice.nextOffset) throw new Error(`replica append at ${offset} got ${r.baseOffset}..${r.lastOffset}`);
    offset = slice.nextOffset;
    times.push(r.appendTimeMs);
  }
  return times;
}

t.test('a follower holds the bytes and offsets of its leader, before and after a reopen', async (t) => {
  const dir = tmpDir(t);
  const leader = await PartitionLog.open(join(dir, 'leader'), options);
  for (let i = 0; i < 200; i++) leader.append(batchOf(i, 1 + (i % 3)));
  t.equal(leader.leaderEpoch, 0);
  leader.setLeaderEpoch(4);
  t.equal(leader.leaderEpoch, 4);
  for (let i = 200; i < 300; i++) leader.append(batchOf(i, 2));
  t.throws(() => leader.setLeaderEpoch(3), { code: 'INVALID_CONFIG' }, 'epochs only move forward');
  leader.reconfigure({ segmentBytes: 4096, indexIntervalBytes: 256 }); // no leaderEpoch: the log keeps its own
  t.equal(leader.leaderEpoch, 4);

  const clock = new ManualClock(1_700_000_000_000);
  const followerDir = join(dir, 'follower');
  let follower = await PartitionLog.open(followerDir, { ...options, segmentBytes: 10_000 }, clock);
  const times = replicate(leader, follower, 0n);
  t.ok(times.length > 10, `${times.length} replica appends`);
  t.ok(times.every((ms) => ms === clock.nowMs()), "append times are the follower's clock");
  t.equal(follower.highWatermark, leader.highWatermark, 'same end');
  t.notSame(follower.segmentBaseOffsets(), leader.segmentBaseOffsets(), 'the follower rolls at its own size');
  const leaderBytes = bytesFrom(leader, 0n);
  t.ok(bytesFrom(follower, 0n).equals(leaderBytes), 'byte-identical');
  const epochs = new Set(decodeRecordBatches(bytesFrom(follower, 0n)).map((b) => b.partitionLeaderEpoch));
  t.same([...epochs].sort(), [0, 4], "the leader's epochs, not the follower's");
  t.same(follower.verify(), []);
  await follower.close();
  follower = await PartitionLog.open(followerDir, { ...options, segmentBytes: 10_000 });
  t.ok(bytesFrom(follower, 0n).equals(leaderBytes), 'byte-identical after a reopen');
  t.same(follower.verify(), []);
  await follower.close();
  await leader.close();
});

t.test('replica appends out of sequence are refused and write nothing', async (t) => {
  const dir = tmpDir(t);
  const leader = await PartitionLog.open(join(dir, 'leader'), options);
  for (let i = 0; i < 10; i++) leader.append(batchOf(i, 2));
  const follower = await PartitionLog.open(join(dir, 'follower'), options);
  follower.appendReplica(leader.read(0n, 0).data);
  const end = follower.highWatermark;
  t.equal(end, 2n);
  t.throws(() => follower.appendReplica(leader.read(4n, 0).data), { code: 'OFFSET_OUT_OF_SEQUENCE' }, 'a gap');
  t.throws(() => follower.appendReplica(leader.read(0n, 0).data), { code: 'OFFSET_OUT_OF_SEQUENCE' }, 'an overlap');
  t.throws(() => follower.appendReplica(batchOf(99)), { code: 'OFFSET_OUT_OF_SEQUENCE' }, 'an unstamped batch (base offset 0)');
  const corrupt = Buffer.from(leader.read(2n, 0).data);
  corrupt[corrupt.length - 1]! ^= 1;
  t.throws(() => follower.appendReplica(corrupt), { code: 'CORRUPT_MESSAGE' });
  t.equal(follower.highWatermark, end);
  t.equal(follower.stats().sizeBytes, leader.read(0n, 0).data.length, 'nothing written');
  await follower.close();
  await leader.close();
});

t.test('truncating a divergent tail, then replicating the leader again', async (t) => {
  const dir = tmpDir(t);
  const leader = await PartitionLog.open(join(dir, 'leader'), options);
  const followerDir = join(dir, 'follower');
  const follower = await PartitionLog.open(followerDir, options);
  for (let i = 0; i < 150; i++) leader.append(batchOf(i, 1 + (i % 3)));
  replicate(leader, follower, 0n);
  const common = follower.highWatermark;
  // The follower leads for a while (a new epoch), the old leader goes on: their tails diverge.
  follower.setLeaderEpoch(1);
  for (let i = 0; i < 150; i++) follower.append(batchOf(1000 + i, 2));
  for (let i = 150; i < 200; i++) leader.append(batchOf(i, 3));
  const segmentsBefore = follower.segmentBaseOffsets();
  const later = segmentsBefore.filter((b) => b > common);
  t.ok(later.length > 2, 'the divergent tail spans segments');
  // An offset inside a batch (the follower's batches hold two records): that batch goes whole.
  t.equal(await follower.truncateTo(common + 1n), common, 'cut at the start of the batch holding it');
  t.equal(follower.highWatermark, common);
  for (const b of later) t.notOk(existsSync(join(followerDir, `${b.toString().padStart(20, '0')}.log`)), `segment ${b} deleted`);
  t.same(follower.segmentBaseOffsets(), segmentsBefore.filter((b) => b <= common));
  t.equal(await follower.truncateTo(common + 100n), common, 'at or past the end: nothing changes');
  t.equal(follower.stats().recoveryPoint, common, 'durable: the recovery point is the new end');
  replicate(leader, follower, common);
  t.ok(bytesFrom(follower, 0n).equals(bytesFrom(leader, 0n)), "the follower's log is the leader's again");
  t.same(follower.verify(), []);

  await follower.deleteRecordsBefore(50n);
  await t.rejects(follower.truncateTo(49n), { code: 'OFFSET_OUT_OF_RANGE' }, 'below the log start');
  await t.rejects(follower.truncateTo(-1n), { code: 'OFFSET_OUT_OF_RANGE' });
  await follower.close();
  const reopened = await PartitionLog.open(followerDir, options);
  t.ok(bytesFrom(reopened, 50n).equals(bytesFrom(leader, 50n)));
  t.same(reopened.verify(), []);
  await reopened.close();
  await leader.close();
});

t.test('a follower behind the leader start resets to it and replicates from there', async (t) => {
  const dir = tmpDir(t);
  const leader = await PartitionLog.open(join(dir, 'leader'), options);
  for (let i = 0; i < 300; i++) leader.append(batchOf(i, 2));
  await leader.deleteRecordsBefore(leader.segmentBaseOffsets()[3]!);
  leader.enforceRetention();
  const start = leader.logStartOffset;
  t.ok(start > 0n);
  const followerDir = join(dir, 'follower');
  const follower = await PartitionLog.open(followerDir, options);
  for (let i = 0; i < 20; i++) follower.append(batchOf(i)); // a stale log, below the leader's start
  const held = follower.slice(0n, 1 << 20);
  const heldBytes = held.read();
  t.throws(() => leader.slice(follower.highWatermark, 100), { code: 'OFFSET_OUT_OF_RANGE' });
  await follower.truncateFullyAndStartAt(start);
  t.equal(follower.logStartOffset, start);
  t.equal(follower.highWatermark, start);
  t.same(follower.segmentBaseOffsets(), [start]);
  t.ok(held.read().equals(heldBytes), 'a slice taken before the reset still reads');
  t.throws(() => follower.read(0n, 100), { code: 'OFFSET_OUT_OF_RANGE' });
  replicate(leader, follower, start);
  t.ok(bytesFrom(follower, start).equals(bytesFrom(leader, start)));
  t.same(follower.verify(), []);
  await follower.close();
  const reopened = await PartitionLog.open(followerDir, options);
  t.equal(reopened.logStartOffset, start);
  t.equal(reopened.highWatermark, leader.highWatermark);
  await reopened.close();
  await leader.close();
});

t.test('reads bounded by a high watermark hold whole batches that end at or below it', async (t) => {
  const dir = tmpDir(t);
  const log = await PartitionLog.open(dir, options);
  const ends: bigint[] = [];
  for (let i = 0; i < 200; i++) ends.push(log.append(batchOf(i, 1 + (i % 3))).lastOffset + 1n);
  const end = log.highWatermark;
  const hw = ends[120]!; // a batch boundary well below the log end
  const bounded = log.slice(0n, 1 << 20, hw);
  const batches = decodeRecordBatches(bounded.read());
  const last = batches[batches.length - 1]!;
  t.equal(last.baseOffset + BigInt(last.lastOffsetDelta) + 1n, hw, 'up to the bound');
  t.equal(bounded.nextOffset, hw);
  t.equal(bounded.highWatermark, end, 'the slice still reports the log end');
  t.ok(bounded.read().equals(log.read(0n, 1 << 20, hw).data), 'read() names the same bytes');
  // Every offset below the bound: its batch comes first and nothing passes the bound.
  for (let offset = 0n; offset < hw; offset += 3n) {
    for (const maxBytes of [0, 700, 1 << 20]) {
      const s = log.slice(offset, maxBytes, hw);
      const bs = decodeRecordBatches(s.read());
      const first = bs[0]!;
      const tail = bs[bs.length - 1]!;
      if (!(first.baseOffset <= offset && offset <= first.baseOffset + BigInt(first.lastOffsetDelta))) t.fail(`at ${offset}: starts at ${first.baseOffset}`);
      if (tail.baseOffset + BigInt(tail.lastOffsetDelta) + 1n > hw) t.fail(`at ${offset}/${maxBytes}: past the bound`);
    }
  }
  // At or past the bound (up to the log end): nothing, and the next fetch stays where it is.
  t.equal(log.slice(hw, 1 << 20, hw).ranges.length, 0);
  t.equal(log.slice(hw, 1 << 20, hw).nextOffset, hw);
  t.equal(log.slice(end, 1 << 20, hw).ranges.length, 0);
  t.equal(log.read(hw + 1n, 1 << 20, hw).data.length, 0);
  // A bound inside a batch leaves that batch out, even as the only one.
  const multi = ends.findIndex((e, i) => i > 0 && e - ends[i - 1]! === 3n);
  const base = ends[multi - 1]!;
  t.equal(log.slice(base, 0, base + 1n).ranges.length, 0);
  t.equal(log.slice(base, 0, base + 3n).nextOffset, base + 3n);
  // Out of range is judged against the log, bound or not.
  t.throws(() => log.slice(end + 1n, 100, end + 10n), { code: 'OFFSET_OUT_OF_RANGE' });
  t.throws(() => log.slice(-1n, 100, hw), { code: 'OFFSET_OUT_OF_RANGE' });
  t.throws(() => log.slice(0n, 100, 2n ** 64n), { code: 'INVALID_ARGUMENT' });
  // Unbounded, as before.
  t.equal(log.slice(end, 100).nextOffset, end);
  t.equal(log.slice(0n, 1 << 30).bytes, log.stats().sizeBytes);
  await log.close();
});

t.test('a leader never truncates its log: a truncation meant for a follower is refused', async (t) => {
  // The cluster torture found a fetcher of the broker's former follower role cutting the log of the
  // partition it had just become leader of, to 0 (an answer from the old leader, late).
  const dir = tmpDir(t);
  const topics = await TopicRegistry.open(dir, { partitions: 1 }, pino({ level: 'silent' }));
  t.teardown(() => topics.close());
  await topics.create('led', 1);
  const p = topics.partition('led', 0);
  p.becomeLeader({ nodeId: 1, replicas: [1], isr: [1], nowMs: 0 }, 3, 1);
  p.append(batchOf(1, 2));
  p.append(batchOf(2, 3));
  await t.rejects(p.truncateTo(0n), { code: 'NOT_LEADER_OR_FOLLOWER', message: /a leader does not truncate its log/ });
  await t.rejects(p.truncateFullyAndStartAt(0n), { code: 'NOT_LEADER_OR_FOLLOWER', message: /a leader does not empty its log/ });
  t.equal(p.logEndOffset, 5n, 'the log is whole');
  p.becomeFollower(4, 2);
  t.equal(await p.truncateTo(2n), 2n, 'as a follower it truncates');
});

t.test('a follower truncation under way settles before the partition may lead', async (t) => {
  // The replica manager awaits truncationsSettled() before becomeLeader: a truncation that started
  // as a follower would otherwise cut the new leader's log, and drop the epoch it starts at.
  const topics = await TopicRegistry.open(tmpDir(t), { partitions: 1 }, pino({ level: 'silent' }));
  t.teardown(() => topics.close());
  await topics.create('moving', 1);
  const p = topics.partition('moving', 0);
  p.becomeFollower(1, 2);
  p.appendReplica(Buffer.concat([batchOf(1, 2), batchOf(2, 3)].map((b, i) => { b.writeBigInt64BE(BigInt(i * 2), 0); return b; })));
  t.equal(p.logEndOffset, 5n);
  const truncating = p.truncateTo(2n);
  await p.truncationsSettled();
  t.equal(p.logEndOffset, 2n, 'settled means the truncation is done');
  p.becomeLeader({ nodeId: 1, replicas: [1], isr: [1], nowMs: 0 }, 2, 1);
  t.equal(await truncating, 2n);
  t.same(p.epochs.entries.at(-1), { epoch: 2, startOffset: 2n }, 'the new epoch starts at the truncated end and stays');
});
