// Idempotent producers against a real broker process: InitProducerId and Produce over Kafka's wire
// (v3 and flexible v9) and Sluice's, duplicates answered with their first offsets and not written,
// gaps and fenced epochs refused, transactions refused, DescribeProducers, producer state kept
// across SIGKILL (rebuilt from the log tail, or loaded from a snapshot: batches timestamped two days
// ago tell the two apart, since a replayed producer's last write is its batch's timestamp), expiry,
// and Sluice's own Producer through a proxy that loses responses after the broker wrote them, and
// through a SIGKILL and restart: every record once, in order.

import t from 'tap';
import { readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Connection } from '../src/client/connection.js';
import { Admin } from '../src/client/admin.js';
import { Producer } from '../src/client/producer.js';
import { sluice } from './helpers/cli.js';
import { ApiKey } from '../src/protocol/messages.js';
import type { KafkaReader, KafkaWriter } from '../src/protocol/kafka-wire.js';
import { decodeRecordBatches, encodeRecordBatch } from '../src/protocol/record-batch.js';
import { call, createTopic, fetchAllBatches, startBroker, type RunningBroker } from './helpers/broker.js';
import { produceBody, produceResult, RawKafka } from './helpers/kafka-wire.js';
import { faultyProxy } from './helpers/proxy.js';

const DAY_MS = 24 * 3_600_000;

/** InitProducerId at `version` (v2+ flexible); its error, id and epoch, read to the last byte. */
async function initProducerId(k: RawKafka, version: number, transactionalId: string | null = null) {
  const flexible = version >= 2;
  const r = await k.request(22, version, (w) => {
    if (flexible) w.noTaggedFields().compactString(transactionalId);
    else w.string(transactionalId);
    w.int32(60_000);
    if (version >= 3) w.int64(-1n).int16(-1);
    if (flexible) w.noTaggedFields();
  });
  if (flexible) r.taggedFields();
  r.int32();
  const out = { errorCode: r.int16(), producerId: r.int64(), producerEpoch: r.int16() };
  if (flexible) r.taggedFields();
  r.end('InitProducerId response');
  return out;
}

interface Idem {
  producerId: bigint;
  epoch: number;
  sequence: number;
  records: number;
  /** Values are `${label}-${i}`. */
  label: string;
  timestampMs?: number;
  attributes?: number;
}

const batchOf = (b: Idem) =>
  encodeRecordBatch(
    Array.from({ length: b.records }, (_, i) => ({ value: `${b.label}-${i}`, timestampMs: b.timestampMs })),
    { producerId: b.producerId, producerEpoch: b.epoch, baseSequence: b.sequence, attributes: b.attributes },
  );

/** Produce v3 of one idempotent batch: its partition's error code and base offset. */
async function produceV3(k: RawKafka, topic: string, b: Idem) {
  return produceResult(await k.request(0, 3, produceBody(topic, 0, batchOf(b))));
}

/** Produce v9 (flexible) of one batch, its response read to the last byte. */
async function produceV9(k: RawKafka, topic: string, b: Idem) {
  const r = await k.request(0, 9, (w: KafkaWriter) =>
    w
      .noTaggedFields()
      .compactString(null)
      .int16(-1)
      .int32(5000)
      .compactArray([topic], (w, name) => w.compactString(name).compactArray([0], (w, p) => w.int32(p).compactBytes(batchOf(b)).noTaggedFields()).noTaggedFields())
      .noTaggedFields(),
  );
  r.taggedFields();
  let out: { errorCode: number; baseOffset: bigint; logStartOffset: bigint; message: string | null } | undefined;
  r.compactArray((t: KafkaReader) => {
    t.compactString();
    t.compactArray((p) => {
      p.int32();
      const errorCode = p.int16();
      const baseOffset = p.int64();
      p.int64();
      const logStartOffset = p.int64();
      p.compactArray(() => undefined);
      out = { errorCode, baseOffset, logStartOffset, message: p.compactNullableString() };
      p.taggedFields();
    });
    t.taggedFields();
  });
  r.int32();
  r.taggedFields();
  r.end('Produce v9 response');
  return out!;
}

/** Every record of partition 0: its value and its batch's producer id, in offset order. */
async function readAll(c: Connection, topic: string): Promise<Array<{ offset: bigint; value: string; producerId: bigint }>> {
  return (await fetchAllBatches(c, topic)).flatMap((b) => b.records.map((r) => ({ offset: r.offset, value: r.value!.toString(), producerId: b.producerId })));
}

async function restart(t: Parameters<typeof startBroker>[0], broker: RunningBroker, args: string[] = []): Promise<RunningBroker> {
  await broker.stop('SIGKILL');
  return startBroker(t, { dataDir: broker.dataDir, kafka: true, args });
}

t.test('InitProducerId v0-5 hands out distinct ids at epoch 0; a transactional id is refused', async (t) => {
  const broker = await startBroker(t, { kafka: true });
  const k = await RawKafka.connect(broker.kafkaPort!);
  t.teardown(() => k.close());
  const answers = [];
  for (const version of [0, 1, 2, 3, 4, 5]) answers.push(await initProducerId(k, version));
  t.same(answers.map((a) => [a.errorCode, a.producerEpoch]), Array(6).fill([0, 0]));
  t.equal(new Set(answers.map((a) => a.producerId)).size, 6, 'six producers, six ids');
  t.same(await initProducerId(k, 4, 'payments-tx'), { errorCode: 42, producerId: -1n, producerEpoch: -1 }, 'INVALID_REQUEST: transactions are not supported');
  // Ids are never handed out twice, also across a SIGKILL (blocks are reserved on disk first).
  const again = await restart(t, broker);
  const k2 = await RawKafka.connect(again.kafkaPort!);
  t.teardown(() => k2.close());
  const after = await initProducerId(k2, 4);
  t.ok(answers.every((a) => a.producerId < after.producerId), `the id after a restart (${after.producerId}) is above every earlier one`);
});

t.test('duplicates, gaps, epochs, transactions and DescribeProducers over Kafka Produce v3 and v9', async (t) => {
  const broker = await startBroker(t, { kafka: true });
  const c = await broker.connect();
  await createTopic(c, 'idem');
  const k = await RawKafka.connect(broker.kafkaPort!);
  t.teardown(() => k.close());
  const { producerId } = await initProducerId(k, 4);
  const idem = (sequence: number, records: number, label: string, epoch = 0): Idem => ({ producerId, epoch, sequence, records, label });

  t.same(await produceV3(k, 'idem', idem(0, 3, 'a')), { errorCode: 0, baseOffset: 0n });
  t.same(await produceV9(k, 'idem', idem(3, 2, 'b')), { errorCode: 0, baseOffset: 3n, logStartOffset: 0n, message: null });
  t.same(await produceV3(k, 'idem', idem(0, 3, 'a')), { errorCode: 0, baseOffset: 0n }, 'a retry of the first batch: its first offset again');
  t.same(await produceV9(k, 'idem', idem(3, 2, 'b')), { errorCode: 0, baseOffset: 3n, logStartOffset: 0n, message: null }, 'and of the second');
  const gap = await produceV9(k, 'idem', idem(9, 1, 'gap'));
  t.equal(gap.errorCode, 45, 'OUT_OF_ORDER_SEQUENCE_NUMBER');
  t.match(gap.message, /sent sequence 9; the partition expects 5/);
  t.same(await produceV3(k, 'idem', idem(0, 1, 'c', 1)), { errorCode: 0, baseOffset: 5n }, 'a new epoch starts at 0');
  t.equal((await produceV3(k, 'idem', idem(5, 1, 'old'))).errorCode, 47, 'INVALID_PRODUCER_EPOCH: the old epoch is fenced');
  t.equal((await produceV3(k, 'idem', { ...idem(1, 1, 'tx', 1), attributes: 0x10 })).errorCode, 42, 'a transactional batch: transactions are not supported');
  t.equal((await produceV3(k, 'idem', { ...idem(1, 1, 'marker', 1), attributes: 0x20 })).errorCode, 42, 'a transaction marker too');
  // Nothing refused or repeated was written.
  t.same(
    (await readAll(c, 'idem')).map((r) => r.value),
    ['a-0', 'a-1', 'a-2', 'b-0', 'b-1', 'c-0'],
  );

  // DescribeProducers v0 (flexible): the producer, its epoch and last sequence; an unknown partition's error.
  const r = await k.request(61, 0, (w) =>
    w
      .noTaggedFields()
      .compactArray(['idem'], (w, name) => w.compactString(name).compactArray([0, 5], (w, p) => w.int32(p)).noTaggedFields())
      .noTaggedFields(),
  );
  r.taggedFields();
  r.int32();
  const partitions: unknown[] = [];
  r.compactArray((t) => {
    t.compactString();
    t.compactArray((p) => {
      const partition = p.int32();
      const errorCode = p.int16();
      p.compactNullableString();
      const producers = p.compactArray((s) => {
        const state = { producerId: s.int64(), epoch: s.int32(), lastSequence: s.int32(), lastTimestampPositive: s.int64() > 0n, coordinatorEpoch: s.int32(), txnStart: s.int64() };
        s.taggedFields();
        return state;
      });
      p.taggedFields();
      partitions.push({ partition, errorCode, producers });
    });
    t.taggedFields();
  });
  r.taggedFields();
  r.end('DescribeProducers response');
  t.same(partitions, [
    { partition: 0, errorCode: 0, producers: [{ producerId, epoch: 1, lastSequence: 0, lastTimestampPositive: true, coordinatorEpoch: -1, txnStart: -1n }] },
    { partition: 5, errorCode: 3, producers: [] },
  ]);
});

t.test('producer state survives SIGKILL: replayed from the log tail, or loaded from a snapshot', async (t) => {
  const twoDaysAgo = Date.now() - 2 * DAY_MS;
  // Snapshots after every append: the state survives the kill in a file, with the broker's append times.
  const args = ['--producer-snapshot-interval-bytes', '1'];
  let broker = await startBroker(t, { kafka: true, args });
  const c = await broker.connect();
  await createTopic(c, 'kept');
  let k = await RawKafka.connect(broker.kafkaPort!);
  const { producerId } = await initProducerId(k, 4);
  const fresh: Idem = { producerId, epoch: 0, sequence: 0, records: 4, label: 'fresh' };
  const old: Idem = { producerId: producerId + 1n, epoch: 0, sequence: 0, records: 2, label: 'old', timestampMs: twoDaysAgo };
  t.equal((await produceV3(k, 'kept', fresh)).baseOffset, 0n);
  t.equal((await produceV3(k, 'kept', old)).baseOffset, 4n);
  k.close();
  const dir = join(broker.dataDir, 'kept-0');
  const snapshots = () => readdirSync(dir).filter((f) => f.endsWith('.snapshot'));
  t.same(snapshots(), ['00000000000000000004.snapshot', '00000000000000000006.snapshot'], 'the newest two snapshots, named by the offset they cover up to');

  broker = await restart(t, broker, args);
  k = await RawKafka.connect(broker.kafkaPort!);
  t.same(await produceV3(k, 'kept', fresh), { errorCode: 0, baseOffset: 0n }, 'a duplicate after SIGKILL');
  t.same(await produceV3(k, 'kept', old), { errorCode: 0, baseOffset: 4n }, 'the snapshot kept the two-day-old batch\'s producer (the broker wrote it just now)');
  t.equal((await produceV3(k, 'kept', { ...fresh, sequence: 9, records: 1 })).errorCode, 45, 'and its sequence');
  t.same(await produceV3(k, 'kept', { ...fresh, sequence: 4, records: 1, label: 'next' }), { errorCode: 0, baseOffset: 6n });
  k.close();

  // Without snapshots the state is replayed from the log: the producer of the batch timestamped two
  // days ago counts as silent for two days (past the one-day expiry), as in Kafka; the other is kept.
  await broker.stop('SIGKILL');
  for (const f of snapshots()) rmSync(join(dir, f));
  broker = await startBroker(t, { dataDir: broker.dataDir, kafka: true });
  k = await RawKafka.connect(broker.kafkaPort!);
  t.teardown(() => k.close());
  t.same(await produceV3(k, 'kept', { ...fresh, sequence: 4, records: 1, label: 'next' }), { errorCode: 0, baseOffset: 6n }, 'replayed from the log: still a duplicate');
  t.same(snapshots(), ['00000000000000000007.snapshot'], 'the replay wrote a snapshot at once: a second crash replays nothing before it');
  t.same(await produceV3(k, 'kept', old), { errorCode: 0, baseOffset: 7n }, 'replayed: the old batch\'s producer expired, so its retry is written again');
  const c2 = await broker.connect();
  t.same((await readAll(c2, 'kept')).map((r) => r.value), ['fresh-0', 'fresh-1', 'fresh-2', 'fresh-3', 'old-0', 'old-1', 'next-0', 'old-0', 'old-1']);
});

t.test('without a snapshot only the last two segments are replayed, as Kafka does', async (t) => {
  // 1 KiB segments: each ~700-byte batch below fills one.
  let broker = await startBroker(t, { kafka: true, args: ['--segment-bytes', '1024'] });
  const c = await broker.connect();
  await createTopic(c, 'segments');
  let k = await RawKafka.connect(broker.kafkaPort!);
  const early = await initProducerId(k, 4);
  const late = await initProducerId(k, 4);
  const padding = 'x'.repeat(600);
  const first: Idem = { producerId: early.producerId, epoch: 0, sequence: 0, records: 1, label: `early-${padding}` };
  const last: Idem = { producerId: late.producerId, epoch: 0, sequence: 0, records: 1, label: `late-${padding}` };
  t.equal((await produceV3(k, 'segments', first)).baseOffset, 0n);
  for (let i = 1; i <= 4; i++) await k.request(0, 3, produceBody('segments', 0, encodeRecordBatch([{ value: `plain-${i}-${padding}` }])));
  t.equal((await produceV3(k, 'segments', last)).baseOffset, 5n);
  k.close();
  await broker.stop('SIGKILL');
  const dir = join(broker.dataDir, 'segments-0');
  t.ok(readdirSync(dir).filter((f) => f.endsWith('.log')).length >= 4, 'the partition has several segments');
  for (const f of readdirSync(dir).filter((f) => f.endsWith('.snapshot'))) rmSync(join(dir, f));
  broker = await startBroker(t, { dataDir: broker.dataDir, kafka: true, args: ['--segment-bytes', '1024'] });
  k = await RawKafka.connect(broker.kafkaPort!);
  t.teardown(() => k.close());
  t.same(await produceV3(k, 'segments', last), { errorCode: 0, baseOffset: 5n }, 'a producer of the last two segments is known: a duplicate');
  t.same(await produceV3(k, 'segments', first), { errorCode: 0, baseOffset: 6n }, 'one only in older segments is not replayed: its retry is written again');
});

t.test('--producer-id-expiration-ms: a producer silent that long is forgotten', async (t) => {
  const broker = await startBroker(t, { kafka: true, args: ['--producer-id-expiration-ms', '400'] });
  const c = await broker.connect();
  await createTopic(c, 'brief');
  const k = await RawKafka.connect(broker.kafkaPort!);
  t.teardown(() => k.close());
  const { producerId } = await initProducerId(k, 4);
  const b: Idem = { producerId, epoch: 0, sequence: 0, records: 1, label: 'x' };
  t.equal((await produceV3(k, 'brief', b)).errorCode, 0);
  t.equal((await produceV3(k, 'brief', { ...b, sequence: 40 })).errorCode, 45, 'known: a gap is refused');
  await sleep(500); // longer than the expiration: the broker's clock has moved at least that far since the append
  t.same(await produceV3(k, 'brief', { ...b, sequence: 40 }), { errorCode: 0, baseOffset: 1n }, 'forgotten: any sequence is accepted');
});

t.test("Sluice's Producer is idempotent by default; Sluice's protocol has InitProducerId and DescribeProducers too", async (t) => {
  const broker = await startBroker(t);
  const c = await broker.connect();
  await createTopic(c, 'own');
  const ids = await Promise.all([call<{ producerId: bigint; producerEpoch: number }>(c, ApiKey.InitProducerId, {}), call<{ producerId: bigint }>(c, ApiKey.InitProducerId, {})]);
  t.not(ids[0].producerId, ids[1].producerId);
  t.equal(ids[0].producerEpoch, 0);
  await t.rejects(call(c, ApiKey.InitProducerId, { transactionalId: 'tx' }), { code: 'TRANSACTIONS_NOT_SUPPORTED' });

  const producer = new Producer({ broker: `127.0.0.1:${broker.port}` });
  const admin = new Admin({ broker: `127.0.0.1:${broker.port}` });
  t.teardown(() => admin.close());
  await producer.send('own', [{ value: 'one' }, { value: 'two' }]);
  t.ok(producer.identity && producer.identity.producerId > ids[1].producerId, 'it asked for its own id');
  await producer.close();
  const plain = new Producer({ broker: `127.0.0.1:${broker.port}`, acks: 1 });
  await plain.send('own', { value: 'three' });
  t.equal(plain.identity, undefined, 'acks=1: not idempotent (idempotence needs acks all)');
  await plain.close();
  t.throws(() => new Producer({ broker: `127.0.0.1:${broker.port}`, acks: 1, idempotent: true }), { code: 'INVALID_CONFIG' });
  // DescribeProducers through Sluice's protocol: the Admin client and `sluice topics describe-producers`.
  const described = await admin.describeProducers('own');
  t.same(described.map((p) => p.producers.map((s) => [s.producerId, s.producerEpoch, s.lastSequence])), [[[producer.identity!.producerId, 0, 1]]], 'the idempotent producer, its epoch and last sequence (two records: 0 and 1)');
  t.ok(described[0]!.producers[0]!.lastTimestampMs > Date.now() - 60_000, 'and when it last wrote');
  const cliOut = await sluice(['topics', 'describe-producers', 'own', '--broker', `127.0.0.1:${broker.port}`, '--output', 'json']);
  t.equal(cliOut.status, 0, cliOut.stderr);
  t.same((JSON.parse(cliOut.stdout) as Array<{ partition: number; producers: Array<{ producerId: string }> }>).map((p) => [p.partition, p.producers.map((s) => s.producerId)]), [[0, [String(producer.identity!.producerId)]]]);
  t.match((await sluice(['topics', 'describe-producers', 'own', '--broker', `127.0.0.1:${broker.port}`])).stdout, /PRODUCER ID/);
  t.equal((await sluice(['topics', 'describe-producers', 'nosuch', '--broker', `127.0.0.1:${broker.port}`])).status, 1, 'an unknown topic fails');
  t.same(
    (await readAll(c, 'own')).map((r) => [r.value, r.producerId >= 0n]),
    [
      ['one', true],
      ['two', true],
      ['three', false],
    ],
  );
});

t.test('a batch that fails for good does not stop the producer: the next epoch starts at sequence 0', async (t) => {
  const broker = await startBroker(t, { args: ['--max-batch-bytes', '4096'] });
  const c = await broker.connect();
  await createTopic(c, 'gap');
  const producer = new Producer({ broker: `127.0.0.1:${broker.port}`, lingerMs: 0 });
  t.teardown(() => producer.close());
  await producer.send('gap', [{ value: 'a' }, { value: 'b' }]);
  // Too large for the broker: refused for good, and nothing written, so sequence 2 is never used.
  await t.rejects(producer.send('gap', { value: Buffer.alloc(8192, 0x78) }), { code: 'MESSAGE_TOO_LARGE' });
  const [after] = await producer.send('gap', { value: 'c' });
  t.equal(after!.offset, 2n, 'the next record is written, right after the first two');
  t.equal(producer.identity!.producerEpoch, 1, 'under the next epoch');
  t.same((await fetchAllBatches(c, 'gap')).map((b) => [b.producerEpoch, b.baseSequence, b.records.map((r) => r.value!.toString())]), [[0, 0, ['a', 'b']], [1, 0, ['c']]]);
});

/**
 * Sends `count` records one per send() call: the first alone (the producer looks its topic up and
 * gets its id), then bursts (of 10), each its own batch and request, up to 5 requests in flight.
 */
async function sendThrough(port: number, topic: string, count: number, options: { idempotent: boolean; retryBackoffMs?: number; burst?: number; during?: (sent: number) => Promise<void> }) {
  const producer = new Producer({ broker: `127.0.0.1:${port}`, lingerMs: 0, maxInFlightRequests: 5, retries: 20, retryBackoffMs: options.retryBackoffMs ?? 20, idempotent: options.idempotent });
  await producer.send(topic, { value: '0' });
  const sends: Array<Promise<unknown>> = [];
  for (let i = 1; i < count; i++) {
    sends.push(producer.send(topic, { value: String(i) }));
    if (i % (options.burst ?? 10) === 0) {
      await options.during?.(i);
      await sleep(1); // the linger timer closes the burst's batch
    }
  }
  await Promise.all(sends);
  await producer.close();
}

t.test('responses lost after the broker wrote: retries write every record once, in order', async (t) => {
  const broker = await startBroker(t);
  const c = await broker.connect();
  await createTopic(c, 'lossy');
  await createTopic(c, 'lossy-plain');
  const proxy = await faultyProxy(t, broker.port);
  // Every 5th response from the broker is lost (Metadata, InitProducerId and Produce alike).
  proxy.lose = (n) => n % 5 === 0;
  // 1,250 records in 250 batches, more than the 200 the broker remembers, and a retry waits 1 s
  // while later batches go on: the producer's window (counted from its oldest unacknowledged
  // batch, not over the unacknowledged ones) is what keeps every retry recognisable.
  await sendThrough(proxy.port, 'lossy', 1250, { idempotent: true, retryBackoffMs: 1000, burst: 5 });
  // At least one: no retry can hold a request slot before the first loss, so the 5th response comes.
  t.ok(proxy.lost >= 1, `${proxy.lost} of ${proxy.lost + proxy.forwarded} responses lost`);
  const values = (await readAll(c, 'lossy')).map((r) => Number(r.value));
  t.same(values, Array.from({ length: 1250 }, (_, i) => i), 'each record once, in send() order');

  // The same faults without idempotence write some records twice: what the test above rules out.
  const lostBefore = proxy.lost;
  await sendThrough(proxy.port, 'lossy-plain', 400, { idempotent: false });
  t.ok(proxy.lost > lostBefore);
  t.ok((await readAll(c, 'lossy-plain')).length > 400, 'without idempotence a retry after a lost response is written again');
});

t.test('a broker SIGKILLed and restarted mid-stream: every record once, in order', async (t) => {
  let broker = await startBroker(t);
  const c = await broker.connect();
  await createTopic(c, 'through-kill');
  const proxy = await faultyProxy(t, broker.port);
  // Requests in flight at the kill lose their responses with the broker (some written, some not): retried.
  let killed = false;
  await sendThrough(proxy.port, 'through-kill', 300, {
    idempotent: true,
    during: async (sent) => {
      if (killed || sent < 150) return;
      killed = true;
      broker = await restart(t, broker);
      proxy.upstreamPort = broker.port;
    },
  });
  t.ok(killed);
  const c2 = await broker.connect();
  const values = (await readAll(c2, 'through-kill')).map((r) => Number(r.value));
  t.same(values, Array.from({ length: 300 }, (_, i) => i));
  await c.close().catch(() => undefined);
});
