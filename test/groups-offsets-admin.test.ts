// Moving and deleting a group's committed offsets, on a real broker: `groups reset-offsets
// --to-earliest` and `--to-latest` commit what they plan (a consumer of the group then resumes
// there); the TypeScript Admin's resetOffsets, deleteOffsets and deleteGroup called directly; and the
// broker itself refusing an offset commit outside any generation (generation -1, no member id: what
// admin tools send) into a group with live members, UNKNOWN_MEMBER_ID as Kafka answers, through
// Sluice's protocol and through the Kafka door, without the client-side check the tools make first.

import t from 'tap';
import { Kafka, logLevel } from 'kafkajs';
import { Admin } from '../src/client/admin.js';
import { BrokerClient } from '../src/client/broker-client.js';
import { Consumer } from '../src/client/consumer.js';
import { KafkaApi } from '../src/doors/kafka/apis.js';
import type { OffsetCommitResponse } from '../src/protocol/group-messages.js';
import { ApiKey } from '../src/protocol/messages.js';
import { startBroker } from './helpers/broker.js';
import { sluice } from './helpers/cli.js';
import { RawKafka } from './helpers/kafka-wire.js';
import { code } from './helpers/outcome.js';

const GROUP_ARGS = ['--group-initial-rebalance-delay-ms', '0'];

/** The group's committed offsets as `[partition, offset]`, offsets as strings. */
async function committed(admin: Admin, groupId: string): Promise<Array<[number, string]>> {
  const g = await admin.describeGroup(groupId);
  return g.partitions.map((p): [number, string] => [p.partition, String(p.committedOffset)]).sort((a, b) => a[0] - b[0]);
}

/** A group member that has its assignment (and commits nothing: auto-commit off). */
async function liveMember(t: Parameters<typeof startBroker>[0], broker: string, groupId: string, topic: string): Promise<Consumer> {
  let assigned!: () => void;
  const joined = new Promise<void>((resolve) => (assigned = resolve));
  const member = new Consumer({ broker, groupId, autoCommit: false, onAssigned: () => assigned() });
  t.teardown(() => member.close());
  member.subscribe([topic]);
  void member[Symbol.asyncIterator]().next().catch(() => undefined);
  await joined;
  return member;
}

t.test('groups reset-offsets --to-earliest and --to-latest commit the log start and the high watermark; the group resumes there', async (t) => {
  const broker = await startBroker(t, { args: GROUP_ARGS });
  const b = ['--broker', `127.0.0.1:${broker.port}`];
  const admin = new Admin({ broker: `127.0.0.1:${broker.port}` });
  t.teardown(() => admin.close());
  await sluice(['topics', 'create', 'ro', '--partitions', '2', ...b]);
  for (const p of ['0', '1']) await sluice(['produce', 'ro', '--partition', p, ...b], Array.from({ length: 10 }, (_, i) => `p${p}-${i}`).join('\n'));
  // Partition 0's log starts at 4: the earliest is not simply 0.
  t.equal((await sluice(['topics', 'delete-records', 'ro', '--partition', '0', '--offset', '4', ...b])).status, 0);
  t.equal((await sluice(['groups', 'reset-offsets', 'rg', '--topic', 'ro', '--to-offset', '6', ...b])).status, 0, 'a group with no members and no offsets yet');
  t.same(await committed(admin, 'rg'), [[0, '6'], [1, '6']]);

  const earliest = await sluice(['groups', 'reset-offsets', 'rg', '--topic', 'ro', '--to-earliest', '--output', 'json', ...b]);
  t.equal(earliest.status, 0, earliest.stderr);
  t.same(JSON.parse(earliest.stdout), { groupId: 'rg', dryRun: false, partitions: [{ topic: 'ro', partition: 0, current: '6', target: '4' }, { topic: 'ro', partition: 1, current: '6', target: '0' }] });
  t.same(await committed(admin, 'rg'), [[0, '4'], [1, '0']], '--to-earliest committed each log start');
  const resumed = await sluice(['consume', 'ro', '--group', 'rg', '--max-messages', '16', '--timeout-ms', '10000', ...b]);
  t.equal(resumed.status, 0, resumed.stderr);
  t.same(resumed.stdout.trim().split('\n').sort(), [...Array.from({ length: 6 }, (_, i) => `p0-${i + 4}`), ...Array.from({ length: 10 }, (_, i) => `p1-${i}`)].sort(), 'a member of the group starts at those offsets');
  t.same(await committed(admin, 'rg'), [[0, '10'], [1, '10']]);

  t.equal((await sluice(['groups', 'reset-offsets', 'rg', '--topic', 'ro', '--to-earliest', ...b])).status, 0);
  t.same(await committed(admin, 'rg'), [[0, '4'], [1, '0']]);
  await sluice(['produce', 'ro', '--partition', '1', ...b], 'late-1\nlate-2\n');
  const latest = await sluice(['groups', 'reset-offsets', 'rg', '--topic', 'ro', '--to-latest', ...b]);
  t.equal(latest.status, 0, latest.stderr);
  t.match(latest.stdout, /^ro\s+1\s+0\s+12$/m, 'the plan: partition 1 from 0 to its high watermark');
  t.same(await committed(admin, 'rg'), [[0, '10'], [1, '12']], '--to-latest committed each high watermark');
  t.same(JSON.parse((await sluice(['groups', 'describe', 'rg', '--output', 'json', ...b])).stdout).partitions.map((p: { lag: string }) => p.lag), ['0', '0'], 'no lag left');
  await sluice(['produce', 'ro', '--partition', '0', ...b], 'new\n');
  const next = await sluice(['consume', 'ro', '--group', 'rg', '--max-messages', '1', '--timeout-ms', '10000', ...b]);
  t.equal(next.stdout, 'new\n', 'the group goes on with the first record after the reset');
});

t.test('Admin called directly: resetOffsets (plan, dry run, every target), deleteOffsets and deleteGroup; nothing changes while a member is live', async (t) => {
  const broker = await startBroker(t, { args: GROUP_ARGS });
  const address = `127.0.0.1:${broker.port}`;
  const admin = new Admin({ broker: address });
  t.teardown(() => admin.close());
  await admin.createTopic('ad', { partitions: 2 });
  await sluice(['produce', 'ad', '--partition', '0', '--broker', address], 'a\nb\nc\nd\ne\n');
  await sluice(['produce', 'ad', '--partition', '1', '--broker', address], 'a\nb\nc\n');

  t.same(await admin.resetOffsets('ag', 'ad', { latest: true }), [{ topic: 'ad', partition: 0, current: null, target: 5n }, { topic: 'ad', partition: 1, current: null, target: 3n }], 'the plan, with no offsets before');
  t.same(await committed(admin, 'ag'), [[0, '5'], [1, '3']]);
  const dry = await admin.resetOffsets('ag', 'ad', { earliest: true }, { dryRun: true });
  t.same(dry.map((p) => [p.current, p.target]), [[5n, 0n], [3n, 0n]]);
  t.same(await committed(admin, 'ag'), [[0, '5'], [1, '3']], 'a dry run commits nothing');
  await admin.resetOffsets('ag', 'ad', { earliest: true });
  t.same(await committed(admin, 'ag'), [[0, '0'], [1, '0']]);
  await admin.resetOffsets('ag', 'ad', { offset: 4n }, { partitions: [1] });
  t.same(await committed(admin, 'ag'), [[0, '0'], [1, '3']], 'one partition, clamped to its high watermark');
  await admin.resetOffsets('ag', 'ad', { shiftBy: 2n });
  t.same(await committed(admin, 'ag'), [[0, '2'], [1, '3']], 'shifted, and clamped');
  await admin.resetOffsets('ag', 'ad', { timestampMs: Date.now() + 60_000 });
  t.same(await committed(admin, 'ag'), [[0, '5'], [1, '3']], 'a time after every record: the end');
  t.equal(await code(admin.resetOffsets('ag', 'nosuch', { earliest: true })), 'UNKNOWN_TOPIC_OR_PARTITION');

  // A live member: every change is refused, and nothing changes.
  const member = await liveMember(t, address, 'ag', 'ad');
  t.equal((await admin.describeGroup('ag')).members.length, 1);
  t.equal(await code(admin.resetOffsets('ag', 'ad', { earliest: true })), 'NON_EMPTY_GROUP');
  t.same(
    (await admin.deleteOffsets('ag', 'ad', [0])).map((o) => [o.partition, o.error?.code]),
    [[0, 'GROUP_SUBSCRIBED_TO_TOPIC']],
    'the broker keeps the offsets of a topic the member reads (Admin does not check first)',
  );
  t.equal(await code(admin.deleteGroup('ag')), 'NON_EMPTY_GROUP');
  t.same(await committed(admin, 'ag'), [[0, '5'], [1, '3']], 'the offsets are as they were');
  await member.close();
  t.equal((await admin.describeGroup('ag')).members.length, 0, 'the member left');

  t.same(await admin.deleteOffsets('ag', 'ad', [0]), [{ partition: 0 }]);
  t.same(await committed(admin, 'ag'), [[1, '3']], 'partition 0 forgotten');
  await admin.deleteOffsets('ag', 'ad');
  t.same(await committed(admin, 'ag'), [], 'every partition of the topic forgotten');
  await admin.resetOffsets('ag', 'ad', { latest: true });
  await admin.deleteGroup('ag');
  t.equal(await code(admin.describeGroup('ag')), 'GROUP_ID_NOT_FOUND', 'the group is gone');
  t.equal(await code(admin.deleteGroup('ag')), 'GROUP_ID_NOT_FOUND');
});

/** An OffsetCommit outside any generation through Sluice's protocol: 'ok', or the error code of the answer (whole or per partition). */
async function adminCommit(client: BrokerClient, groupId: string, topic: string, offsets: bigint[]): Promise<string> {
  try {
    const r = await client.call<OffsetCommitResponse>(ApiKey.OffsetCommit, { groupId, generationId: -1, memberId: '', offsets: offsets.map((offset, partition) => ({ topic, partition, offset })) });
    return r.partitions.find((p) => p.error)?.error?.code ?? 'ok';
  } catch (err) {
    return (err as { code: string }).code;
  }
}

t.test("Sluice's protocol: the broker refuses a commit with generation -1 into a group with live members (UNKNOWN_MEMBER_ID)", async (t) => {
  const broker = await startBroker(t, { args: GROUP_ARGS });
  const address = `127.0.0.1:${broker.port}`;
  const admin = new Admin({ broker: address });
  t.teardown(() => admin.close());
  await admin.createTopic('raw', { partitions: 2 });
  // The client layer under Admin: no describe first, just the commit.
  const client = new BrokerClient({ broker: address });
  t.teardown(() => client.close());
  t.equal(await adminCommit(client, 'rawg', 'raw', [1n, 1n]), 'ok', 'a group without members takes it');
  t.same(await committed(admin, 'rawg'), [[0, '1'], [1, '1']]);

  const member = await liveMember(t, address, 'rawg', 'raw');
  t.equal(await adminCommit(client, 'rawg', 'raw', [7n, 7n]), 'UNKNOWN_MEMBER_ID', 'refused while a member is live');
  t.same(await committed(admin, 'rawg'), [[0, '1'], [1, '1']], 'nothing was committed');
  await member.close();
  t.equal(await adminCommit(client, 'rawg', 'raw', [7n, 7n]), 'ok', 'taken again once the member has left');
  t.same(await committed(admin, 'rawg'), [[0, '7'], [1, '7']]);
});

t.test('the Kafka door: kafkajs admin.setOffsets refuses a group with a running consumer, and a raw generation -1 commit gets UNKNOWN_MEMBER_ID (25)', async (t) => {
  const broker = await startBroker(t, { kafka: true, args: GROUP_ARGS });
  const kafka = new Kafka({ brokers: [`127.0.0.1:${broker.kafkaPort}`], clientId: 'offsets-admin-test', logLevel: logLevel.NOTHING, retry: { retries: 2, initialRetryTime: 100 } });
  const admin = kafka.admin();
  await admin.connect();
  t.teardown(() => admin.disconnect());
  await admin.createTopics({ topics: [{ topic: 'kt', numPartitions: 2 }] });
  const producer = kafka.producer();
  await producer.connect();
  await producer.send({ topic: 'kt', messages: [0, 1].flatMap((partition) => ['a', 'b', 'c'].map((value) => ({ partition, value }))) });
  await producer.disconnect();
  const offsets = async () => (await admin.fetchOffsets({ groupId: 'kg', topics: ['kt'] }))[0]!.partitions.map((p) => [p.partition, p.offset]).sort();
  await admin.setOffsets({ groupId: 'kg', topic: 'kt', partitions: [{ partition: 0, offset: '1' }, { partition: 1, offset: '1' }] });
  t.same(await offsets(), [[0, '1'], [1, '1']], 'setOffsets on a group without members');

  const consumer = kafka.consumer({ groupId: 'kg', maxWaitTimeInMs: 100 });
  t.teardown(() => consumer.disconnect());
  await consumer.connect();
  await consumer.subscribe({ topic: 'kt' });
  let joined!: () => void;
  const member = new Promise<void>((resolve) => (joined = resolve));
  consumer.on(consumer.events.GROUP_JOIN, () => joined());
  // No commits from the member itself: the offsets change only if the admin commit is taken.
  await consumer.run({ autoCommit: false, eachMessage: async () => undefined });
  await member;

  // kafkajs checks the group's state itself first (it never sends the commit).
  const refused = await admin.setOffsets({ groupId: 'kg', topic: 'kt', partitions: [{ partition: 0, offset: '3' }, { partition: 1, offset: '3' }] }).then(
    () => null,
    (err: Error) => err.message,
  );
  t.match(refused, /The consumer group must have no running instances, current state: Stable/);
  // A tool that does not check: OffsetCommit v2, generation -1, no member id. The broker refuses it.
  const raw = await RawKafka.connect(broker.kafkaPort!);
  t.teardown(() => raw.close());
  const commit = () =>
    raw.request(KafkaApi.OffsetCommit, 2, (w) => w.string('kg').int32(-1).string('').int64(-1n).int32(1).string('kt').int32(2).int32(0).int64(3n).string(null).int32(1).int64(3n).string(null));
  const errorCodes = (r: Awaited<ReturnType<typeof commit>>) => {
    const codes: number[] = [];
    for (let topics = r.int32(); topics > 0; topics--) {
      r.string();
      for (let partitions = r.int32(); partitions > 0; partitions--) {
        r.int32();
        codes.push(r.int16());
      }
    }
    return codes;
  };
  t.same(errorCodes(await commit()), [25, 25], 'UNKNOWN_MEMBER_ID for each partition');
  t.same(await offsets(), [[0, '1'], [1, '1']], 'the offsets are unchanged');
  await consumer.disconnect();
  t.same(errorCodes(await commit()), [0, 0], 'the same commit is taken once the consumer has left');
  t.same(await offsets(), [[0, '3'], [1, '3']]);
});
