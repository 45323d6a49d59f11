// Kafka-compatible key partitioning (murmur2 vectors from Kafka's own tests), sticky partitioning,
// and the range and roundrobin assignors.

import t from 'tap';
import { decodeAssignment, encodeAssignment, rangeAssignor, roundRobinAssignor } from '../src/client/assignors.js';
import { murmur2, partitionForKey, StickyPartitioner } from '../src/client/partitioner.js';

t.test('murmur2 matches Kafka', async (t) => {
  const cases: Array<[string, number]> = [
    ['21', -973932308],
    ['foobar', -790332482],
    ['a-little-bit-long-string', -985981536],
    ['a-little-bit-longer-string', -1486304829],
    ['lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8', -58897971],
    ['abc', 479470107],
  ];
  for (const [key, hash] of cases) t.equal(murmur2(Buffer.from(key)), hash, key);
  t.equal(partitionForKey(Buffer.from('foobar'), 7), (-790332482 & 0x7fffffff) % 7);
});

t.test('sticky partitioner keeps unkeyed records together until a batch is sent', async (t) => {
  const s = new StickyPartitioner();
  const first = s.partition('t', 6);
  for (let i = 0; i < 10; i++) t.equal(s.partition('t', 6), first);
  s.batchSent('t', first, 6);
  t.not(s.partition('t', 6), first, 'moves on after a batch');
  t.equal(new StickyPartitioner().partition('one', 1), 0);
});

t.test('range: consecutive partitions, the first members get the remainder', async (t) => {
  const members = [
    { memberId: 'c', topics: ['orders', 'audit'] },
    { memberId: 'a', topics: ['orders'] },
    { memberId: 'b', topics: ['orders', 'audit'] },
  ];
  const out = rangeAssignor.assign(members, new Map([['orders', 7], ['audit', 2]]));
  t.same(Object.fromEntries([...out].map(([m, a]) => [m, Object.fromEntries(a)])), {
    a: { orders: [0, 1, 2] },
    b: { audit: [0], orders: [3, 4] },
    c: { audit: [1], orders: [5, 6] },
  });
});

t.test('roundrobin deals partitions in turn; 6 partitions over 3 members is 2 each', async (t) => {
  const members = ['m3', 'm1', 'm2'].map((memberId) => ({ memberId, topics: ['orders'] }));
  const out = roundRobinAssignor.assign(members, new Map([['orders', 6]]));
  t.same(Object.fromEntries([...out].map(([m, a]) => [m, a.get('orders')])), { m1: [0, 3], m2: [1, 4], m3: [2, 5] });
  const bytes = encodeAssignment(out.get('m1')!);
  t.same(decodeAssignment(bytes), new Map([['orders', [0, 3]]]));
});
