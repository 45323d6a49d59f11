// Consumer groups end to end with the TypeScript client: three members share a 6-partition topic
// two partitions each; one member is SIGKILLed and the other two take over its partitions after
// its session times out without losing a message; committed offsets are honoured after a broker
// restart (at-least-once: duplicates only from uncommitted work).

import t from 'tap';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { Admin } from '../src/client/admin.js';
import { SluiceError } from '../src/errors.js';
import { Consumer, type TopicPartition } from '../src/client/consumer.js';
import { Producer } from '../src/client/producer.js';
import { createTopic, startBroker } from './helpers/broker.js';
import { until } from './helpers/transfer.js';
import { tmpDir } from './helpers/tmp.js';

const MEMBER = fileURLToPath(new URL('./fixtures/group-member.mjs', import.meta.url));
const SESSION_MS = 1_500;
const ARGS = ['--group-initial-rebalance-delay-ms', '1000', '--group-min-session-timeout-ms', '100'];

interface Member {
  consumer: Consumer;
  assigned: TopicPartition[];
  values: string[];
  done: Promise<void>;
}

function member(port: number, clientId: string): Member {
  const m: Member = { assigned: [], values: [], done: Promise.resolve(), consumer: undefined as unknown as Consumer };
  m.consumer = new Consumer({
    broker: `127.0.0.1:${port}`,
    clientId,
    groupId: 'workers',
    fromBeginning: true,
    sessionTimeoutMs: SESSION_MS,
    heartbeatIntervalMs: 200,
    autoCommitIntervalMs: 200,
    maxWaitMs: 200,
    onAssigned: (parts) => void (m.assigned = parts),
  });
  m.consumer.subscribe(['jobs']);
  m.done = (async () => {
    for await (const msg of m.consumer) m.values.push(msg.value!.toString());
  })();
  return m;
}

async function produceRange(port: number, from: number, to: number): Promise<void> {
  const producer = new Producer({ broker: `127.0.0.1:${port}`, acks: 'all' });
  await producer.send('jobs', Array.from({ length: to - from }, (_, i) => ({ key: `k${(from + i) % 13}`, value: `job-${from + i}` })));
  await producer.close();
}

t.test('three members, one killed: the others take over its partitions and nothing is lost; offsets survive a restart', async (t) => {
  const data = tmpDir(t);
  const broker = await startBroker(t, { dataDir: data, args: ARGS });
  await createTopic(await broker.connect(), 'jobs', 6);
  await produceRange(broker.port, 0, 300);

  const child = spawn(process.execPath, [MEMBER, String(broker.port), 'workers', 'jobs', String(SESSION_MS)], { stdio: ['ignore', 'pipe', 'inherit'] });
  t.teardown(() => void child.kill('SIGKILL'));
  const childValues: string[] = [];
  let childAssigned: TopicPartition[] = [];
  let partial = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => {
    const lines = (partial + d).split('\n');
    partial = lines.pop()!;
    for (const line of lines) {
      const j = JSON.parse(line) as { assigned?: TopicPartition[]; value?: string };
      if (j.assigned) childAssigned = j.assigned;
      else childValues.push(j.value!);
    }
  });
  const a = member(broker.port, 'a');
  const b = member(broker.port, 'b');
  t.teardown(() => Promise.all([a.consumer.close(), b.consumer.close()]));

  await until('all three members assigned', () => a.assigned.length === 2 && b.assigned.length === 2 && childAssigned.length === 2, 15_000);
  const all = [...a.assigned, ...b.assigned, ...childAssigned].map((p) => p.partition).sort();
  t.same(all, [0, 1, 2, 3, 4, 5], 'each member has two partitions, together all six');
  await until('the first 300 records', () => new Set([...a.values, ...b.values, ...childValues]).size === 300, 15_000);

  const killedAt = Date.now();
  child.kill('SIGKILL');
  await produceRange(broker.port, 300, 600);
  await until('the takeover', () => a.assigned.length + b.assigned.length === 6, 15_000);
  const takeoverMs = Date.now() - killedAt;
  t.ok(takeoverMs < SESSION_MS * 4, `the survivors took over after ${takeoverMs} ms (session timeout ${SESSION_MS} ms)`);
  t.equal(a.assigned.length, 3);
  await until('all 600 records', () => new Set([...a.values, ...b.values, ...childValues]).size === 600, 15_000);
  const seen = [...a.values, ...b.values, ...childValues];
  t.equal(new Set(seen).size, 600, `no message lost (${seen.length - 600} delivered twice, from uncommitted work)`);

  // Everything processed is committed on close; after a restart a new member starts after it.
  await Promise.all([a.consumer.close(), b.consumer.close()]);
  await Promise.all([a.done, b.done]);
  t.equal(await broker.stop(), 0);
  const restarted = await startBroker(t, { dataDir: data, args: ARGS });
  await produceRange(restarted.port, 600, 610);
  const d = member(restarted.port, 'd');
  t.teardown(() => d.consumer.close());
  await until('the 10 new records', () => d.values.length >= 10, 15_000);
  await new Promise((r) => setTimeout(r, 500));
  t.same(d.values.sort(), Array.from({ length: 10 }, (_, i) => `job-${600 + i}`).sort(), 'only the records after the committed offsets');
  t.equal(d.assigned.length, 6);
});

t.test('a consumer closed while its first join waits leaves no member behind (it never learned its member id)', async (t) => {
  // The broker's default 3 s initial rebalance delay holds the first join; the member's session is 60 s.
  const broker = await startBroker(t, { args: ['--group-initial-rebalance-delay-ms', '3000'] });
  const c = await broker.connect();
  await createTopic(c, 'early', 1);
  const address = `127.0.0.1:${broker.port}`;
  const admin = new Admin({ broker: address });
  t.teardown(() => admin.close());
  const consumer = new Consumer({ broker: address, groupId: 'early', sessionTimeoutMs: 60_000 });
  consumer.subscribe(['early']);
  const reading = (async () => {
    for await (const batch of consumer.batches()) void batch;
  })();
  // Before the join arrives the group does not exist; after the member is removed it does not either.
  const memberCount = () => admin.describeGroup('early').then((g) => g.members.length, (err: unknown) => (err instanceof SluiceError && err.code === 'GROUP_ID_NOT_FOUND' ? 0 : Promise.reject(err)));
  let members = 0;
  while (members === 0) members = await memberCount();
  t.equal(members, 1, 'joined, waiting for the rebalance');
  await consumer.close();
  await reading;
  // Removed when its connection closed: well within its 60 s session, before the 3 s delay even ends.
  let left = 1;
  const closedAt = Date.now();
  while (left > 0 && Date.now() - closedAt < 2_000) left = await memberCount();
  t.equal(left, 0, 'no member left in the group');
});
