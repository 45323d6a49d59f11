// The Kafka listener's consumer-group APIs at every version it serves, from raw requests whose
// answers are read field by field to their last byte: JoinGroup v0-9 (MEMBER_ID_REQUIRED from
// v4, instance ids from v5, flexible from v6), SyncGroup v0-5, Heartbeat v0-4, LeaveGroup v0-5
// (batches with per-member errors from v3), DescribeGroups v0-5, ListGroups v0-5 (states filter
// v4, types filter v5), OffsetCommit v2-8 and OffsetFetch v6-8 (several groups in one request).
// Static membership (KIP-345): a restarted member gets its assignment back without a rebalance,
// and its predecessor's member id is fenced; the same with kcat (librdkafka), unmodified, whose
// member is killed and started again with its group.instance.id.

import t, { type Test } from 'tap';
import { KafkaApi } from '../src/doors/kafka/apis.js';
import { type KafkaReader, type KafkaWriter, VersionedReader, VersionedWriter } from '../src/protocol/kafka-wire.js';
import { startBroker } from './helpers/broker.js';
import { closesEachConnection, RawKafka } from './helpers/kafka-wire.js';
import { Kafka, logLevel } from 'kafkajs';
import { spawn, type ChildProcess } from 'node:child_process';
import { Admin } from '../src/client/admin.js';

/** Creates topics with kafkajs's admin client (commits name partitions that must exist). */
async function createTopics(port: number, topics: Array<[string, number]>) {
  const admin = new Kafka({ brokers: [`127.0.0.1:${port}`], clientId: 'groups-versions-test', logLevel: logLevel.NOTHING }).admin();
  await admin.connect();
  try {
    await admin.createTopics({ topics: topics.map(([topic, numPartitions]) => ({ topic, numPartitions })) });
  } finally {
    await admin.disconnect();
  }
}

/** First flexible versions, from Kafka's message schemas (kept here, apart from the broker's table). */
const FLEXIBLE_FROM: Record<number, number> = {
  [KafkaApi.JoinGroup]: 6,
  [KafkaApi.SyncGroup]: 4,
  [KafkaApi.Heartbeat]: 4,
  [KafkaApi.LeaveGroup]: 4,
  [KafkaApi.DescribeGroups]: 5,
  [KafkaApi.ListGroups]: 3,
  [KafkaApi.OffsetCommit]: 8,
  [KafkaApi.OffsetFetch]: 6,
};
const FENCED_INSTANCE_ID = 82;
const MEMBER_ID_REQUIRED = 79;
const UNKNOWN_MEMBER_ID = 25;
const REBALANCE_IN_PROGRESS = 27;
const INCONSISTENT_GROUP_PROTOCOL = 23;
const NOT_ASKED = -0x8000_0000;

/** Writes a request body in the version's encoding (header v2's tag buffer first when flexible). */
function requestBody(api: number, version: number, write: (v: VersionedWriter, w: KafkaWriter) => void) {
  const flexible = version >= FLEXIBLE_FROM[api]!;
  return (w: KafkaWriter) => {
    if (flexible) w.noTaggedFields();
    write(new VersionedWriter(w, flexible), w);
    if (flexible) w.noTaggedFields();
  };
}

/** Sends a request; the response body is read by `read`, which must reach its last byte. */
async function call<T>(k: RawKafka, api: number, version: number, write: (v: VersionedWriter, w: KafkaWriter) => void, read: (v: VersionedReader, r: KafkaReader) => T): Promise<T> {
  return answer(k, k.send(api, version, requestBody(api, version, write)), api, version, read);
}

/** The response to request `id` (the next frame), read to its end. */
async function answer<T>(k: RawKafka, id: number, api: number, version: number, read: (v: VersionedReader, r: KafkaReader) => T): Promise<T> {
  const { correlationId, body: r } = await k.next();
  if (correlationId !== id) throw new Error(`response for ${correlationId}, expected ${id}`);
  const v = new VersionedReader(r, version >= FLEXIBLE_FROM[api]!);
  v.tags(); // the response header's tag buffer (header v1) when flexible
  const result = read(v, r);
  v.end(`API ${api} v${version} response`);
  return result;
}

const throttle = (r: KafkaReader, version: number, from: number) => (version >= from ? r.int32() : 0);

interface Join {
  groupId: string;
  memberId?: string;
  instance?: string | null;
  protocols?: Array<[string, string]>;
}

function writeJoin(version: number, j: Join) {
  return (v: VersionedWriter, w: KafkaWriter) => {
    v.string(j.groupId);
    w.int32(10_000);
    if (version >= 1) w.int32(10_000);
    v.string(j.memberId ?? '');
    if (version >= 5) v.string(j.instance ?? null);
    const protocols: Array<[string, string]> = j.protocols ?? [['range', 'meta']];
    v.string('consumer').array(protocols, ([name, meta]) => v.string(name).bytes(Buffer.from(meta)).tags());
    if (version >= 8) v.string('testing');
  };
}

function readJoin(version: number) {
  return (v: VersionedReader, r: KafkaReader) => {
    const th = throttle(r, version, 2);
    const errorCode = r.int16();
    const generationId = r.int32();
    const protocolType = version >= 7 ? v.nullableString('protocol_type') : undefined;
    const protocolName = version >= 7 ? v.nullableString('protocol_name') : v.string('protocol_name');
    const leader = v.string('leader');
    const skipAssignment = version >= 9 ? r.boolean() : undefined;
    const memberId = v.string('member_id');
    const members = v.array(() => {
      const m = { memberId: v.string('member'), instance: version >= 5 ? v.nullableString('instance') : undefined, metadata: v.bytes('metadata').toString() };
      v.tags();
      return m;
    }, 'members');
    return { throttle: th, errorCode, generationId, protocolType, protocolName, leader, skipAssignment, memberId, members };
  };
}

interface Ref {
  groupId: string;
  generationId: number;
  memberId: string;
  instance?: string | null;
}

function writeSync(version: number, ref: Ref, assignments: Array<[string, string]>, protocol: [string | null, string | null] = ['consumer', 'range']) {
  return (v: VersionedWriter, w: KafkaWriter) => {
    v.string(ref.groupId);
    w.int32(ref.generationId);
    v.string(ref.memberId);
    if (version >= 3) v.string(ref.instance ?? null);
    if (version >= 5) v.string(protocol[0]).string(protocol[1]);
    v.array(assignments, ([member, a]) => v.string(member).bytes(Buffer.from(a)).tags());
  };
}

function readSync(version: number) {
  return (v: VersionedReader, r: KafkaReader) => {
    const th = throttle(r, version, 1);
    const errorCode = r.int16();
    const protocol = version >= 5 ? [v.nullableString('protocol_type'), v.nullableString('protocol_name')] : undefined;
    return { throttle: th, errorCode, protocol, assignment: v.bytes('assignment').toString() };
  };
}

function writeHeartbeat(version: number, ref: Ref) {
  return (v: VersionedWriter, w: KafkaWriter) => {
    v.string(ref.groupId);
    w.int32(ref.generationId);
    v.string(ref.memberId);
    if (version >= 3) v.string(ref.instance ?? null);
  };
}

const readErrorOnly = (version: number) => (_v: VersionedReader, r: KafkaReader) => ({ throttle: throttle(r, version, 1), errorCode: r.int16() });

function writeLeave(version: number, groupId: string, members: Array<{ memberId: string; instance: string | null }>) {
  return (v: VersionedWriter) => {
    v.string(groupId);
    if (version < 3) v.string(members[0]!.memberId);
    else
      v.array(members, (m) => {
        v.string(m.memberId).string(m.instance);
        if (version >= 5) v.string('shutting down');
        v.tags();
      });
  };
}

function readLeave(version: number) {
  return (v: VersionedReader, r: KafkaReader) => {
    const th = throttle(r, version, 1);
    const errorCode = r.int16();
    const members =
      version >= 3
        ? v.array(() => {
            const m = { memberId: v.string('member'), instance: v.nullableString('instance'), errorCode: r.int16() };
            v.tags();
            return m;
          }, 'members')
        : undefined;
    return { throttle: th, errorCode, members };
  };
}

/**
 * Heartbeats until the answer is no longer "fine": a join sent on another connection may reach
 * the broker after a heartbeat sent later, so the test waits for its effect instead of guessing.
 */
async function untilRebalancing(k: RawKafka, ref: Ref): Promise<number> {
  for (;;) {
    const { errorCode } = await call(k, KafkaApi.Heartbeat, 4, writeHeartbeat(4, ref), readErrorOnly(4));
    if (errorCode !== 0) return errorCode;
  }
}

/** JoinGroup (and, from v4 for a dynamic member, the MEMBER_ID_REQUIRED step first). */
async function join(k: RawKafka, version: number, j: Join) {
  const first = await call(k, KafkaApi.JoinGroup, version, writeJoin(version, j), readJoin(version));
  if (first.errorCode !== MEMBER_ID_REQUIRED) return { first: null, joined: first };
  return { first, joined: await call(k, KafkaApi.JoinGroup, version, writeJoin(version, { ...j, memberId: first.memberId }), readJoin(version)) };
}

t.test('JoinGroup v0-9, SyncGroup v0-5, Heartbeat v0-4, LeaveGroup v0-5: a member through its whole life at each version', async (t) => {
  const broker = await startBroker(t, { kafka: true, args: ['--group-initial-rebalance-delay-ms', '0'] });
  const k = await RawKafka.connect(broker.kafkaPort!);
  t.teardown(() => k.close());
  for (let v = 0; v <= 9; v++) {
    const [sv, hv, lv] = [Math.min(v, 5), Math.min(v, 4), Math.min(v, 5)];
    const groupId = `life-${v}`;
    const instance = v >= 5 ? `instance-${v}` : null;
    const { first, joined } = await join(k, v, { groupId, instance });
    if (v === 4) {
      t.equal(first?.errorCode, MEMBER_ID_REQUIRED, 'v4: a dynamic member is first given its id (KIP-394)');
      t.match(first?.memberId, /^raw-/, 'v4: the id comes with MEMBER_ID_REQUIRED');
      t.equal(first?.generationId, -1);
      t.equal(joined.memberId, first?.memberId, 'v4: it joins with that id');
    } else t.equal(first, null, `v${v}: ${v < 4 ? 'before KIP-394' : 'a static member'}: joined at once`);
    t.same(
      { ...joined, memberId: 'm', leader: 'l', members: joined.members.map((m) => ({ ...m, memberId: 'm' })) },
      {
        throttle: 0,
        errorCode: 0,
        generationId: 1,
        protocolType: v >= 7 ? 'consumer' : undefined,
        protocolName: 'range',
        leader: 'l',
        skipAssignment: v >= 9 ? false : undefined,
        memberId: 'm',
        members: [{ memberId: 'm', instance: v >= 5 ? instance : undefined, metadata: 'meta' }],
      },
      `JoinGroup v${v}`,
    );
    t.equal(joined.leader, joined.memberId, `JoinGroup v${v}: the only member leads`);
    const ref = { groupId, generationId: 1, memberId: joined.memberId, instance };
    const synced = await call(k, KafkaApi.SyncGroup, sv, writeSync(sv, ref, [[joined.memberId, `assignment ${v}`]]), readSync(sv));
    t.same(synced, { throttle: 0, errorCode: 0, protocol: sv >= 5 ? ['consumer', 'range'] : undefined, assignment: `assignment ${v}` }, `SyncGroup v${sv}`);
    t.same(await call(k, KafkaApi.Heartbeat, hv, writeHeartbeat(hv, ref), readErrorOnly(hv)), { throttle: 0, errorCode: 0 }, `Heartbeat v${hv}`);
    const left = await call(k, KafkaApi.LeaveGroup, lv, writeLeave(lv, groupId, [{ memberId: joined.memberId, instance }]), readLeave(lv));
    t.same(left, { throttle: 0, errorCode: 0, members: lv >= 3 ? [{ memberId: joined.memberId, instance, errorCode: 0 }] : undefined }, `LeaveGroup v${lv}`);
    t.same(await call(k, KafkaApi.Heartbeat, hv, writeHeartbeat(hv, ref), readErrorOnly(hv)), { throttle: 0, errorCode: UNKNOWN_MEMBER_ID }, `Heartbeat v${hv} after leaving`);
  }

  // SyncGroup v5 names the protocol the member joined with: another one is refused.
  const { joined } = await join(k, 9, { groupId: 'named', instance: 'x' });
  const ref = { groupId: 'named', generationId: 1, memberId: joined.memberId, instance: 'x' };
  const wrong = await call(k, KafkaApi.SyncGroup, 5, writeSync(5, ref, [], ['consumer', 'roundrobin']), readSync(5));
  t.same(wrong, { throttle: 0, errorCode: INCONSISTENT_GROUP_PROTOCOL, protocol: [null, null], assignment: '' }, 'SyncGroup v5 with another protocol name');
  const unsaid = await call(k, KafkaApi.SyncGroup, 5, writeSync(5, ref, [], [null, null]), readSync(5));
  t.same(unsaid.errorCode, 0, 'SyncGroup v5 without protocol names is not checked');

  // LeaveGroup v3+: one batch, one outcome per member. y joins on a connection of its own (its
  // join waits for x to rejoin, and a connection answers in order).
  const k2 = await RawKafka.connect(broker.kafkaPort!);
  t.teardown(() => k2.close());
  const yJoin = k2.send(KafkaApi.JoinGroup, 9, requestBody(KafkaApi.JoinGroup, 9, writeJoin(9, { groupId: 'named', instance: 'y' })));
  // x rejoins once its heartbeat shows y's join has started the rebalance (so y is in it).
  t.equal(await untilRebalancing(k, ref), REBALANCE_IN_PROGRESS);
  t.equal((await join(k, 9, { groupId: 'named', memberId: joined.memberId, instance: 'x' })).joined.generationId, 2);
  const other = { joined: await answer(k2, yJoin, KafkaApi.JoinGroup, 9, readJoin(9)) };
  t.equal(other.joined.generationId, 2);
  const batch = await call(
    k,
    KafkaApi.LeaveGroup,
    5,
    writeLeave(5, 'named', [
      { memberId: 'ghost', instance: null },
      { memberId: 'stale', instance: 'x' },
      { memberId: '', instance: 'x' },
      { memberId: other.joined.memberId, instance: 'y' },
    ]),
    readLeave(5),
  );
  t.same(
    batch.members?.map((m) => [m.memberId, m.instance, m.errorCode]),
    [
      ['ghost', null, UNKNOWN_MEMBER_ID],
      ['stale', 'x', FENCED_INSTANCE_ID],
      ['', 'x', 0],
      [other.joined.memberId, 'y', 0],
    ],
    'LeaveGroup v5: an unknown member, a fenced one, a static member by instance id alone, one by both',
  );
  t.equal(batch.errorCode, 0, 'the group itself had no error');
});

t.test('static membership: a restarted member rejoins with its instance id and gets its partitions back without a rebalance', async (t) => {
  const broker = await startBroker(t, { kafka: true, args: ['--group-initial-rebalance-delay-ms', '0'] });
  const connect = async () => {
    const k = await RawKafka.connect(broker.kafkaPort!);
    t.teardown(() => k.close());
    return k;
  };
  await createTopics(broker.kafkaPort!, [['orders', 3]]);
  const [ka, kb] = [await connect(), await connect()];
  const groupId = 'static';

  // a (a dynamic member, via KIP-394) forms generation 1 alone.
  const a1 = (await join(ka, 9, { groupId })).joined;
  await call(ka, KafkaApi.SyncGroup, 5, writeSync(5, { groupId, generationId: 1, memberId: a1.memberId }, [[a1.memberId, 'a: p0 p1 p2']]), readSync(5));
  // b (static, instance "b") joins: a learns of the rebalance from its heartbeat and rejoins.
  const bJoin = kb.send(KafkaApi.JoinGroup, 9, requestBody(KafkaApi.JoinGroup, 9, writeJoin(9, { groupId, instance: 'b' })));
  t.equal(await untilRebalancing(ka, { groupId, generationId: 1, memberId: a1.memberId }), REBALANCE_IN_PROGRESS);
  const a2 = (await join(ka, 9, { groupId, memberId: a1.memberId })).joined;
  const b1 = await answer(kb, bJoin, KafkaApi.JoinGroup, 9, readJoin(9));
  t.equal(a2.generationId, 2);
  t.equal(b1.generationId, 2);
  t.equal(a2.leader, a1.memberId, 'a leads');
  t.same(
    a2.members.map((m) => [m.memberId, m.instance]),
    [
      [a1.memberId, null],
      [b1.memberId, 'b'],
    ],
    "the leader sees b's instance id",
  );
  const assignments: Array<[string, string]> = [
    [a1.memberId, 'a: p0 p1'],
    [b1.memberId, 'b: p2'],
  ];
  const bSync = kb.send(KafkaApi.SyncGroup, 5, requestBody(KafkaApi.SyncGroup, 5, writeSync(5, { groupId, generationId: 2, memberId: b1.memberId, instance: 'b' }, [])));
  t.equal((await call(ka, KafkaApi.SyncGroup, 5, writeSync(5, { groupId, generationId: 2, memberId: a1.memberId }, assignments), readSync(5))).assignment, 'a: p0 p1');
  t.equal((await answer(kb, bSync, KafkaApi.SyncGroup, 5, readSync(5))).assignment, 'b: p2');

  // b's process dies: its connection closes, and that removes nobody.
  kb.close();
  await kb.closed;
  const listed = await call(ka, KafkaApi.ListGroups, 4, (v) => v.array(['Stable'], (s) => v.string(s)), (v, r) => {
    r.int32();
    r.int16();
    return v.array(() => {
      const g = { groupId: v.string('id'), type: v.string('type'), state: v.string('state') };
      v.tags();
      return g;
    }, 'groups');
  });
  t.same(listed, [{ groupId, type: 'consumer', state: 'Stable' }], 'still Stable after the old connection closed');

  // A new process with the same instance id and no member id.
  const kb2 = await connect();
  const b2 = (await join(kb2, 9, { groupId, instance: 'b' })).joined;
  t.equal(b2.errorCode, 0);
  t.not(b2.memberId, b1.memberId, 'a new member id');
  t.equal(b2.generationId, 2, 'the same generation: no rebalance');
  t.equal(b2.leader, a1.memberId, 'a still leads');
  t.same(b2.members, [], 'no assignment to compute');
  t.equal(b2.skipAssignment, false);
  const b2Sync = await call(kb2, KafkaApi.SyncGroup, 5, writeSync(5, { groupId, generationId: 2, memberId: b2.memberId, instance: 'b' }, []), readSync(5));
  t.same(b2Sync, { throttle: 0, errorCode: 0, protocol: ['consumer', 'range'], assignment: 'b: p2' }, 'the same partitions as before');
  const aBeat = await call(ka, KafkaApi.Heartbeat, 4, writeHeartbeat(4, { groupId, generationId: 2, memberId: a1.memberId }), readErrorOnly(4));
  t.equal(aBeat.errorCode, 0, 'a is not asked to rejoin: its generation is still current');

  // The old member id is fenced wherever it names the instance.
  const stale = { groupId, generationId: 2, memberId: b1.memberId, instance: 'b' };
  t.equal((await call(ka, KafkaApi.Heartbeat, 4, writeHeartbeat(4, stale), readErrorOnly(4))).errorCode, FENCED_INSTANCE_ID, 'Heartbeat v4 with the stale member id');
  t.equal((await call(ka, KafkaApi.Heartbeat, 2, writeHeartbeat(2, stale), readErrorOnly(2))).errorCode, UNKNOWN_MEMBER_ID, 'Heartbeat v2 (no instance id): just unknown');
  t.equal((await call(ka, KafkaApi.SyncGroup, 5, writeSync(5, stale, []), readSync(5))).errorCode, FENCED_INSTANCE_ID, 'SyncGroup v5');
  t.equal((await call(ka, KafkaApi.JoinGroup, 9, writeJoin(9, { groupId, memberId: b1.memberId, instance: 'b' }), readJoin(9))).errorCode, FENCED_INSTANCE_ID, 'JoinGroup v9');
  for (const v of [7, 8]) {
    const committed = await call(ka, KafkaApi.OffsetCommit, v, writeCommit(v, { ...stale, topic: 'orders', offsets: [[0, 5n]] }), readCommit(v));
    t.same(committed, [['orders', [[0, FENCED_INSTANCE_ID]]]], `OffsetCommit v${v} from the fenced member id`);
    const fresh = await call(ka, KafkaApi.OffsetCommit, v, writeCommit(v, { ...stale, memberId: b2.memberId, topic: 'orders', offsets: [[0, 5n]] }), readCommit(v));
    t.same(fresh, [['orders', [[0, 0]]]], `OffsetCommit v${v} from the instance's member id`);
  }
  const listedAgain = await call(
    ka,
    KafkaApi.DescribeGroups,
    5,
    (v, w) => {
      v.array([groupId], (g) => v.string(g));
      w.boolean(false);
    },
    (v, r) => readDescribe(v, r, 5),
  );
  t.equal(listedAgain[0]!.state, 'Stable', 'no rebalance at any point since');
});

function writeCommit(version: number, c: Ref & { topic: string; offsets: Array<[number, bigint]> }) {
  return (v: VersionedWriter, w: KafkaWriter) => {
    v.string(c.groupId);
    w.int32(c.generationId);
    v.string(c.memberId);
    if (version >= 7) v.string(c.instance ?? null);
    if (version <= 4) w.int64(-1n);
    v.array([c.topic], (name) => {
      v.string(name).array(c.offsets, ([p, offset]) => {
        w.int32(p).int64(offset);
        if (version >= 6) w.int32(-1);
        v.string(`v${version}`).tags();
      });
      v.tags();
    });
  };
}

function readCommit(version: number) {
  return (v: VersionedReader, r: KafkaReader) => {
    throttle(r, version, 3);
    return v.array(() => {
      const name = v.string('topic');
      const partitions = v.array(() => {
        const p = [r.int32(), r.int16()];
        v.tags();
        return p;
      }, 'partitions');
      v.tags();
      return [name, partitions];
    }, 'topics');
  };
}

function readDescribe(v: VersionedReader, r: KafkaReader, version: number) {
  throttle(r, version, 1);
  return v.array(() => {
    const g = {
      errorCode: r.int16(),
      groupId: v.string('group'),
      state: v.string('state'),
      protocolType: v.string('type'),
      protocol: v.string('protocol'),
      members: v.array(() => {
        const m = {
          memberId: v.string('member'),
          instance: version >= 4 ? v.nullableString('instance') : undefined,
          clientId: v.string('client'),
          clientHost: v.string('host'),
          metadata: v.bytes('metadata').toString(),
          assignment: v.bytes('assignment').toString(),
        };
        v.tags();
        return m;
      }, 'members'),
      authorizedOperations: version >= 3 ? r.int32() : undefined,
    };
    v.tags();
    return g;
  }, 'groups');
}

t.test('DescribeGroups v0-5 (instance ids v4+, operations when asked v3+) and ListGroups v0-5 (states filter v4, types filter v5)', async (t) => {
  const broker = await startBroker(t, { kafka: true, args: ['--group-initial-rebalance-delay-ms', '0'] });
  await createTopics(broker.kafkaPort!, [['orders', 1]]);
  const k = await RawKafka.connect(broker.kafkaPort!);
  t.teardown(() => k.close());
  const { joined } = await join(k, 9, { groupId: 'busy', instance: 'i1' });
  await call(k, KafkaApi.SyncGroup, 5, writeSync(5, { groupId: 'busy', generationId: 1, memberId: joined.memberId, instance: 'i1' }, [[joined.memberId, 'all']]), readSync(5));
  // An Empty group: committed offsets only.
  await call(k, KafkaApi.OffsetCommit, 8, writeCommit(8, { groupId: 'idle', generationId: -1, memberId: '', topic: 'orders', offsets: [[0, 1n]] }), readCommit(8));

  for (let v = 0; v <= 5; v++) {
    for (const ask of v >= 3 ? [false, true] : [false]) {
      const groups = await call(
        k,
        KafkaApi.DescribeGroups,
        v,
        (vw, w) => {
          vw.array(['busy', 'idle', 'unknown'], (g) => vw.string(g));
          if (v >= 3) w.boolean(ask);
        },
        (vr, r) => readDescribe(vr, r, v),
      );
      const ops = v >= 3 ? (ask ? (1 << 3) | (1 << 6) | (1 << 8) : NOT_ASKED) : undefined;
      t.same(
        groups,
        [
          {
            errorCode: 0,
            groupId: 'busy',
            state: 'Stable',
            protocolType: 'consumer',
            protocol: 'range',
            members: [{ memberId: joined.memberId, instance: v >= 4 ? 'i1' : undefined, clientId: 'raw', clientHost: '127.0.0.1', metadata: 'meta', assignment: 'all' }],
            authorizedOperations: ops,
          },
          { errorCode: 0, groupId: 'idle', state: 'Empty', protocolType: '', protocol: '', members: [], authorizedOperations: ops },
          { errorCode: 0, groupId: 'unknown', state: 'Dead', protocolType: '', protocol: '', members: [], authorizedOperations: ops },
        ],
        `DescribeGroups v${v}${ask ? ' with operations (READ, DELETE, DESCRIBE for an admin)' : ''}`,
      );
    }
  }

  const list = (v: number, states: string[], types: string[] = []) =>
    call(
      k,
      KafkaApi.ListGroups,
      v,
      (vw) => {
        if (v >= 4) vw.array(states, (s) => vw.string(s));
        if (v >= 5) vw.array(types, (s) => vw.string(s));
      },
      (vr, r) => {
        const th = throttle(r, v, 1);
        const errorCode = r.int16();
        const groups = vr.array(() => {
          const g = [vr.string('id'), vr.string('type'), ...(v >= 4 ? [vr.string('state')] : []), ...(v >= 5 ? [vr.string('group type')] : [])];
          vr.tags();
          return g;
        }, 'groups');
        return { throttle: th, errorCode, groups };
      },
    );
  for (let v = 0; v <= 5; v++) {
    const all = await list(v, []);
    const busy = ['busy', 'consumer', ...(v >= 4 ? ['Stable'] : []), ...(v >= 5 ? ['classic'] : [])];
    const idle = ['idle', '', ...(v >= 4 ? ['Empty'] : []), ...(v >= 5 ? ['classic'] : [])];
    t.same(all, { throttle: 0, errorCode: 0, groups: [busy, idle] }, `ListGroups v${v}: every group`);
  }
  t.same((await list(4, ['Stable'])).groups.map((g) => g[0]), ['busy'], 'v4: states filter Stable');
  t.same((await list(4, ['empty', 'Dead'])).groups.map((g) => g[0]), ['idle'], 'v4: states match regardless of case');
  t.same((await list(5, [], ['consumer'])).groups, [], 'v5: no KIP-848 "consumer" groups here');
  t.same((await list(5, ['Stable'], ['Classic'])).groups.map((g) => g[0]), ['busy'], 'v5: classic groups, in a state');
});

t.test('OffsetCommit v2-8 and OffsetFetch v6-8: flexible forms, require_stable, several groups in one request (null topics = all)', async (t) => {
  const broker = await startBroker(t, { kafka: true });
  await createTopics(broker.kafkaPort!, [['orders', 2], ['other', 1]]);
  const k = await RawKafka.connect(broker.kafkaPort!);
  t.teardown(() => k.close());
  // A commit to a partition that does not exist says so, per partition.
  for (let v = 2; v <= 8; v++) {
    const committed = await call(k, KafkaApi.OffsetCommit, v, writeCommit(v, { groupId: 'one', generationId: -1, memberId: '', topic: 'orders', offsets: [[0, BigInt(v)], [99, 1n]] }), readCommit(v));
    t.same(committed, [['orders', [[0, 0], [99, 3]]]], `OffsetCommit v${v}: committed, and UNKNOWN_TOPIC_OR_PARTITION for partition 99`);
  }
  await call(k, KafkaApi.OffsetCommit, 8, writeCommit(8, { groupId: 'two', generationId: -1, memberId: '', topic: 'orders', offsets: [[1, 42n]] }), readCommit(8));
  await call(k, KafkaApi.OffsetCommit, 8, writeCommit(8, { groupId: 'two', generationId: -1, memberId: '', topic: 'other', offsets: [[0, 7n]] }), readCommit(8));

  const readTopics = (v: VersionedReader, r: KafkaReader) =>
    v.array(() => {
      const name = v.string('topic');
      const partitions = v.array(() => {
        const p = { partition: r.int32(), offset: r.int64(), leaderEpoch: r.int32(), metadata: v.nullableString('metadata'), errorCode: r.int16() };
        v.tags();
        return p;
      }, 'partitions');
      v.tags();
      return { name, partitions };
    }, 'topics');
  const topicsBody = (v: VersionedWriter, topics: Array<[string, number[]]> | null) => v.array(topics, ([name, ps]) => v.string(name).array(ps, (p) => v.w.int32(p)).tags());

  for (const version of [6, 7]) {
    const fetched = await call(
      k,
      KafkaApi.OffsetFetch,
      version,
      (v, w) => {
        v.string('one');
        topicsBody(v, [['orders', [0, 1]]]);
        if (version >= 7) w.boolean(true);
      },
      (v, r) => ({ throttle: r.int32(), topics: readTopics(v, r), errorCode: r.int16() }),
    );
    t.same(
      fetched,
      {
        throttle: 0,
        topics: [{ name: 'orders', partitions: [{ partition: 0, offset: 8n, leaderEpoch: -1, metadata: 'v8', errorCode: 0 }, { partition: 1, offset: -1n, leaderEpoch: -1, metadata: '', errorCode: 0 }] }],
        errorCode: 0,
      },
      `OffsetFetch v${version}${version >= 7 ? ' (require_stable: nothing is ever pending here)' : ''}`,
    );
  }

  const v8 = await call(
    k,
    KafkaApi.OffsetFetch,
    8,
    (v, w) => {
      v.array(
        [
          ['one', [['orders', [0]]]],
          ['two', null],
          ['none', null],
        ] as Array<[string, Array<[string, number[]]> | null]>,
        ([groupId, topics]) => {
          v.string(groupId);
          topicsBody(v, topics);
          v.tags();
        },
      );
      w.boolean(false);
    },
    (v, r) => {
      const th = r.int32();
      const groups = v.array(() => {
        const g = { groupId: v.string('group'), topics: readTopics(v, r), errorCode: r.int16() };
        v.tags();
        return g;
      }, 'groups');
      return { throttle: th, groups };
    },
  );
  t.same(
    v8,
    {
      throttle: 0,
      groups: [
        { groupId: 'one', topics: [{ name: 'orders', partitions: [{ partition: 0, offset: 8n, leaderEpoch: -1, metadata: 'v8', errorCode: 0 }] }], errorCode: 0 },
        {
          groupId: 'two',
          topics: [
            { name: 'orders', partitions: [{ partition: 1, offset: 42n, leaderEpoch: -1, metadata: 'v8', errorCode: 0 }] },
            { name: 'other', partitions: [{ partition: 0, offset: 7n, leaderEpoch: -1, metadata: 'v8', errorCode: 0 }] },
          ],
          errorCode: 0,
        },
        { groupId: 'none', topics: [], errorCode: 0 },
      ],
    },
    'OffsetFetch v8: the named partitions of one group, every committed one of another (null), none of a group without commits',
  );
});

t.test('a null where a version has none, or a version past the table, closes the connection; the broker stays up', async (t) => {
  const broker = await startBroker(t, { kafka: true });
  const flexible = (write: (w: KafkaWriter) => void) => (w: KafkaWriter) => write(w.noTaggedFields());
  const cases: Array<[string, (k: RawKafka) => void]> = [
    ['JoinGroup v6 with a null group id', (k) => k.send(KafkaApi.JoinGroup, 6, flexible((w) => w.compactString(null)))],
    ['JoinGroup v9 with null protocols', (k) => k.send(KafkaApi.JoinGroup, 9, flexible((w) => w.compactString('g').int32(10_000).int32(10_000).compactString('').compactString(null).compactString('consumer').compactArray(null, () => undefined).compactString(null).noTaggedFields()))],
    ['SyncGroup v5 with null assignments', (k) => k.send(KafkaApi.SyncGroup, 5, flexible((w) => w.compactString('g').int32(1).compactString('m').compactString(null).compactString(null).compactString(null).compactArray(null, () => undefined).noTaggedFields()))],
    ['LeaveGroup v5 with null members', (k) => k.send(KafkaApi.LeaveGroup, 5, flexible((w) => w.compactString('g').compactArray(null, () => undefined).noTaggedFields()))],
    ['ListGroups v4 with a null states filter', (k) => k.send(KafkaApi.ListGroups, 4, flexible((w) => w.compactArray(null, () => undefined).noTaggedFields()))],
    ['OffsetFetch v8 with null groups', (k) => k.send(KafkaApi.OffsetFetch, 8, flexible((w) => w.compactArray(null, () => undefined).boolean(false).noTaggedFields()))],
    ['OffsetCommit v8 with null topics', (k) => k.send(KafkaApi.OffsetCommit, 8, flexible((w) => w.compactString('g').int32(-1).compactString('').compactString(null).compactArray(null, () => undefined).noTaggedFields()))],
    ['DescribeGroups v5 without its tag buffer', (k) => k.send(KafkaApi.DescribeGroups, 5, flexible((w) => w.compactArray(['g'], (w, g) => w.compactString(g)).boolean(false)))],
    ['JoinGroup v10 (past the table)', (k) => k.send(KafkaApi.JoinGroup, 10, flexible((w) => w.compactString('g')))],
    ['OffsetCommit v9 (KIP-848 member epochs, not served)', (k) => k.send(KafkaApi.OffsetCommit, 9, flexible((w) => w.compactString('g')))],
  ];
  await closesEachConnection(broker.kafkaPort!, cases, (what) => t.pass(what));
  const k = await RawKafka.connect(broker.kafkaPort!);
  t.teardown(() => k.close());
  const all = await call(k, KafkaApi.OffsetFetch, 7, (v, w) => {
    v.string('g');
    v.array(null, () => undefined);
    w.boolean(false);
  }, (v, r) => ({ throttle: r.int32(), topics: v.array(() => undefined, 'topics'), errorCode: r.int16() }));
  t.same(all, { throttle: 0, topics: [], errorCode: 0 }, 'OffsetFetch v7 topics null is "all" (none committed), not malformed');
  t.equal(broker.proc.exitCode, null, 'the broker is up');
});

/** A kcat balanced consumer (`-G`) running until killed; `assigned()` waits for its next "rebalanced ... assigned:" line. */
function kcatMember(t: Test, broker: string, instance: string) {
  const child: ChildProcess = spawn('kcat', ['-b', broker, '-G', 'kcat-static', 'spread', '-X', `group.instance.id=${instance}`, '-X', 'session.timeout.ms=30000', '-o', 'beginning'], { stdio: ['ignore', 'ignore', 'pipe'] });
  t.teardown(() => child.kill('SIGKILL'));
  let stderr = '';
  let seen = 0;
  const waiters: Array<() => void> = [];
  child.stderr!.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
    for (const wake of waiters.splice(0)) wake();
  });
  // Whole lines only: stderr arrives in chunks, and a line cut after "assigned: " would read as an empty assignment.
  const rebalances = () => [...stderr.matchAll(/rebalanced \(memberid (\S+)\): assigned: (.*)\n/g)].map((m) => ({ memberId: m[1]!, assigned: m[2]!.trim() }));
  return {
    child,
    rebalances,
    async assigned(): Promise<{ memberId: string; assigned: string }> {
      while (rebalances().length <= seen) await new Promise<void>((resolve) => waiters.push(resolve));
      return rebalances()[seen++]!;
    },
  };
}

t.test('kcat (librdkafka) static members: one killed and started again with its group.instance.id gets its partition back; the other is not rebalanced', async (t) => {
  const broker = await startBroker(t, { kafka: true, args: ['--group-initial-rebalance-delay-ms', '0'] });
  await createTopics(broker.kafkaPort!, [['spread', 2]]);
  const bootstrap = `127.0.0.1:${broker.kafkaPort}`;
  const admin = new Admin({ broker: `127.0.0.1:${broker.port}` });
  t.teardown(() => admin.close());

  // "one" takes both partitions; "two" joins, and the rebalance gives each one partition.
  const one = kcatMember(t, bootstrap, 'one');
  t.equal((await one.assigned()).assigned, 'spread [0], spread [1]', 'alone, one has both partitions');
  const two = kcatMember(t, bootstrap, 'two');
  await Promise.all([one.assigned(), two.assigned()]);
  // Under load librdkafka may go through more than one round; wait until the group is Stable and
  // each member's last logged assignment is the group's, so "before" is the settled state.
  const format = (a: Array<{ topic: string; partition: number }>) => a.map((p) => `${p.topic} [${p.partition}]`).join(', ');
  let before = await admin.describeGroup('kcat-static');
  const settled = () =>
    before.state === 'Stable' &&
    before.members.length === 2 &&
    [one, two].every((m) => {
      const last = m.rebalances().at(-1);
      return last && format(before.members.find((b) => b.memberId === last.memberId)?.assignment ?? []) === last.assigned;
    });
  while (!settled()) {
    await new Promise((resolve) => setTimeout(resolve, 50));
    before = await admin.describeGroup('kcat-static');
  }
  const oneFirst = one.rebalances().at(-1)!;
  const twoFirst = two.rebalances().at(-1)!;
  const twoRounds = two.rebalances().length;
  t.same([oneFirst.assigned, twoFirst.assigned].sort(), ['spread [0]', 'spread [1]'], 'a partition each');

  // "one" dies without a word (SIGKILL: no LeaveGroup, its connection just goes away) and starts again.
  one.child.kill('SIGKILL');
  await new Promise((resolve) => one.child.once('exit', resolve));
  const again = kcatMember(t, bootstrap, 'one');
  const oneAgain = await again.assigned();
  t.not(oneAgain.memberId, oneFirst.memberId, 'a new member id');
  t.equal(oneAgain.assigned, oneFirst.assigned, 'the same partition as before');

  const after = await admin.describeGroup('kcat-static');
  t.equal(after.state, 'Stable', 'no rebalance under way');
  t.equal(after.generationId, before.generationId, 'the same generation: there was no rebalance');
  t.same(after.members.map((m) => m.memberId).sort(), [oneAgain.memberId, twoFirst.memberId].sort(), 'the new member id replaced the old one');
  t.equal(two.rebalances().length, twoRounds, '"two" was never asked to rebalance again');
});
