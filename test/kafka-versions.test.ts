// The Produce (v3-v8) and Fetch (v4-v17) versions current clients use, byte for byte on a real
// broker: a zstd batch only from Produce v7 (as Kafka: a client that asks with less cannot read
// one), the log start offset (v5), record errors and the message (v8); Fetch sessions declined
// with session id 0 (KIP-227) and an unknown session refused, preferred read replica -1 (v11), the
// flexible form (v12), topics by id (v13+), the fetched batch the one produced, byte for byte.

import t from 'tap';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { KafkaApi } from '../src/doors/kafka/apis.js';
import type { KafkaReader, KafkaWriter } from '../src/protocol/kafka-wire.js';
import { crc32cPure } from '../src/protocol/crc32c.js';
import { encodeRecordBatch } from '../src/protocol/record-batch.js';
import { createTopic, startBroker } from './helpers/broker.js';
import { produceBody, RawKafka } from './helpers/kafka-wire.js';

/** A batch marked zstd (codec 4), CRC fixed: the broker never decodes records, so any payload will do. */
function zstdBatch(): Buffer {
  const b = encodeRecordBatch([{ key: null, value: 'compressed in spirit' }]);
  b.writeInt16BE(b.readInt16BE(21) | 4, 21);
  b.writeUInt32BE(crc32cPure(b.subarray(21)), 17);
  return b;
}

function readProduce(r: KafkaReader, v: number) {
  r.int32(); // topics: 1
  r.string();
  r.int32(); // partitions: 1
  const partition = r.int32();
  const out = { partition, error: r.int16(), base: r.int64(), appendTime: r.int64(), logStart: v >= 5 ? r.int64() : null, recordErrors: v >= 8 ? r.array((e) => e.int32()) : null, message: v >= 8 ? r.nullableString() : null };
  r.int32(); // throttle
  r.end(`Produce v${v} response`);
  return out;
}

/** A one-partition Fetch; from v13 `topic` is the topic's id. */
function fetchBody(v: number, topic: string, offset: bigint, session = { id: 0, epoch: -1 }) {
  const flexible = v >= 12;
  return (w: KafkaWriter) => {
    if (flexible) w.noTaggedFields(); // request header v2
    if (v <= 14) w.int32(-1); // replica id (v15+: a follower's tagged replica state)
    w.int32(0).int32(1).int32(1 << 20).int8(0);
    if (v >= 7) w.int32(session.id).int32(session.epoch);
    if (v >= 13) w.uvarint(2).uuid(topic).uvarint(2).int32(0);
    else if (flexible) w.uvarint(2).compactString(topic).uvarint(2).int32(0);
    else w.int32(1).string(topic).int32(1).int32(0);
    if (v >= 9) w.int32(-1);
    w.int64(offset);
    if (v >= 12) w.int32(-1); // last fetched epoch
    if (v >= 5) w.int64(-1n);
    w.int32(1 << 20);
    if (flexible) w.noTaggedFields().noTaggedFields(); // partition, topic
    if (v >= 7) (flexible ? w.uvarint(1) : w.int32(0)); // forgotten topics
    if (v >= 11) (flexible ? w.compactString('') : w.string(''));
    if (flexible) w.noTaggedFields();
  };
}

function readFetch(r: KafkaReader, v: number) {
  const flexible = v >= 12;
  if (flexible) r.taggedFields(); // response header v1
  const throttle = r.int32();
  const error = v >= 7 ? r.int16() : null;
  const session = v >= 7 ? r.int32() : null;
  const tags = (x: KafkaReader) => {
    if (flexible) x.taggedFields();
  };
  const array = <T>(x: KafkaReader, read: (x: KafkaReader) => T) => (flexible ? x.compactArray(read) : x.array(read));
  const partitions = array(r, (tp) => {
    const topic = v >= 13 ? tp.uuid() : flexible ? tp.compactString() : tp.string();
    const list = array(tp, (p) => {
      const out = {
        topic,
        partition: p.int32(),
        error: p.int16(),
        hw: p.int64(),
        lso: p.int64(),
        logStart: v >= 5 ? p.int64() : null,
        aborted: flexible ? p.compactNullableArray((a) => a.int64()) : p.nullableArray((a) => a.int64()),
        preferredReplica: v >= 11 ? p.int32() : null,
        records: flexible ? p.compactNullableBytes() : p.nullableBytes(),
      };
      tags(p);
      return out;
    });
    tags(tp);
    return list;
  }).flat();
  tags(r);
  r.end(`Fetch v${v} response`);
  return { throttle, error, session, partitions };
}

t.test('Produce v3-v8: zstd from v7; log start offset from v5; record errors and message at v8', async (t) => {
  const broker = await startBroker(t, { kafka: true });
  await createTopic(await broker.connect(), 'z', 1);
  const k = await RawKafka.connect(broker.kafkaPort!);
  t.teardown(() => k.close());
  const zstd = zstdBatch();
  for (const v of [3, 6]) {
    const refused = readProduce(await k.request(KafkaApi.Produce, v, produceBody('z', 0, zstd)), v);
    t.equal(refused.error, 76, `v${v}: UNSUPPORTED_COMPRESSION_TYPE for zstd`);
  }
  let expected = 0n;
  for (const v of [7, 8]) {
    const ok = readProduce(await k.request(KafkaApi.Produce, v, produceBody('z', 0, zstd)), v);
    t.same({ error: ok.error, base: ok.base, logStart: ok.logStart }, { error: 0, base: expected, logStart: 0n }, `v${v}: zstd appended as produced`);
    expected += 1n;
    if (v === 8) t.same([ok.recordErrors, ok.message], [[], null], 'v8: no record errors, no message');
  }
  const plain = readProduce(await k.request(KafkaApi.Produce, 5, produceBody('z', 0, encodeRecordBatch([{ key: null, value: 'plain' }]))), 5);
  t.same({ error: plain.error, base: plain.base, logStart: plain.logStart }, { error: 0, base: 2n, logStart: 0n }, 'v5: log start offset');
  const bad = readProduce(await k.request(KafkaApi.Produce, 8, produceBody('nosuch', 0, encodeRecordBatch([{ key: null, value: 'x' }]))), 8);
  t.equal(bad.error, 3, 'v8: UNKNOWN_TOPIC_OR_PARTITION');
  t.match(bad.message, /nosuch/, 'v8: with the message');

  // Fetch returns the zstd batch exactly as produced (the broker never decodes it).
  const fetched = readFetch(await k.request(KafkaApi.Fetch, 11, fetchBody(11, 'z', 0n)), 11);
  const first = fetched.partitions[0]!.records!;
  // The broker stamps the base offset and the leader epoch (bytes 0-7 and 12-15, outside the CRC).
  t.equal(first.readBigInt64BE(0), 0n);
  t.equal(first.subarray(16, zstd.length).toString('hex'), zstd.subarray(16).toString('hex'), 'byte for byte from the magic byte on, CRC and codec intact');
});

t.test('Fetch v4-v17: sessions declined (id 0), an unknown session refused, log start offset, preferred replica -1, topics by id from v13', async (t) => {
  const broker = await startBroker(t, { kafka: true });
  await createTopic(await broker.connect(), 'f', 1);
  const topicId = (JSON.parse(readFileSync(join(broker.dataDir, '.topics', 'f.json'), 'utf8')) as { topicId: string }).topicId;
  const k = await RawKafka.connect(broker.kafkaPort!);
  t.teardown(() => k.close());
  await k.request(KafkaApi.Produce, 3, produceBody('f', 0, encodeRecordBatch([{ key: null, value: 'one' }, { key: null, value: 'two' }])));
  for (let v = 4; v <= 17; v++) {
    const name = v >= 13 ? topicId : 'f';
    const f = readFetch(await k.request(KafkaApi.Fetch, v, fetchBody(v, name, 0n, { id: 0, epoch: v >= 7 ? 0 : -1 })), v);
    const p = f.partitions[0]!;
    t.same({ topic: p.topic, error: p.error, hw: p.hw, lso: p.lso }, { topic: name, error: 0, hw: 2n, lso: 2n }, `v${v}: the topic by ${v >= 13 ? 'id' : 'name'}, offsets`);
    t.ok(p.records && p.records.length > 61, `v${v}: the batch`);
    t.same(p.aborted, [], `v${v}: no aborted transactions`);
    t.equal(p.logStart, v >= 5 ? 0n : null);
    t.equal(p.preferredReplica, v >= 11 ? -1 : null);
    if (v >= 7) t.same([f.error, f.session], [0, 0], `v${v}: a session asked for (epoch 0) is declined with id 0`);
  }
  for (const v of [7, 12, 17]) {
    const unknown = readFetch(await k.request(KafkaApi.Fetch, v, fetchBody(v, v >= 13 ? topicId : 'f', 0n, { id: 12345, epoch: 1 })), v);
    t.same([unknown.error, unknown.session, unknown.partitions], [70, 0, []], `v${v}: FETCH_SESSION_ID_NOT_FOUND for a session the broker never gave`);
  }
  const noSuchId = '0f0e0d0c-0b0a-4908-8706-050403020100';
  const missing = readFetch(await k.request(KafkaApi.Fetch, 13, fetchBody(13, noSuchId, 0n)), 13);
  t.same(missing.partitions.map((p) => [p.topic, p.partition, p.error, p.hw, p.records?.length]), [[noSuchId, 0, 100, -1n, 0]], 'v13: an id no topic has is UNKNOWN_TOPIC_ID');
});

t.test('DescribeCluster v0 (flexible: header v2 request, header v1 response): the one broker, its cluster id, operations only when asked', async (t) => {
  const broker = await startBroker(t, { kafka: true });
  const k = await RawKafka.connect(broker.kafkaPort!);
  t.teardown(() => k.close());
  const ask = async (include: boolean) => {
    const r = await k.request(KafkaApi.DescribeCluster, 0, (w) => w.noTaggedFields().boolean(include).noTaggedFields());
    t.equal(r.taggedFields().size, 0, 'response header v1: an empty tag buffer after the correlation id');
    const answer = {
      throttle: r.int32(),
      error: r.int16(),
      message: r.compactNullableString(),
      clusterId: r.compactString(),
      controllerId: r.int32(),
      brokers: r.compactArray((b) => {
        const broker = { id: b.int32(), host: b.compactString(), port: b.int32(), rack: b.compactNullableString() };
        b.taggedFields();
        return broker;
      }),
      operations: r.int32(),
    };
    t.equal(r.taggedFields().size, 0);
    r.end('DescribeCluster v0 response');
    return answer;
  };
  const plain = await ask(false);
  t.match(plain, { throttle: 0, error: 0, message: null, controllerId: 0, brokers: [{ id: 0, host: '127.0.0.1', port: broker.kafkaPort, rack: null }], operations: -0x8000_0000 });
  t.ok(plain.clusterId.length > 0, 'the cluster id Metadata gives');
  const asked = await ask(true);
  t.equal(asked.operations, (1 << 5) | (1 << 7) | (1 << 8) | (1 << 10) | (1 << 11), 'CREATE, ALTER, DESCRIBE, DESCRIBE_CONFIGS, ALTER_CONFIGS for an admin (anyone, without --auth-file)');
});

t.test('FindCoordinator v0-v4: this broker for every group key (v4: each of several keys); transactional keys refused', async (t) => {
  const broker = await startBroker(t, { kafka: true });
  const k = await RawKafka.connect(broker.kafkaPort!);
  t.teardown(() => k.close());
  const port = broker.kafkaPort!;
  for (const v of [0, 1, 2]) {
    const r = await k.request(KafkaApi.FindCoordinator, v, (w) => (v >= 1 ? w.string('g').int8(0) : w.string('g')));
    const answer = { throttle: v >= 1 ? r.int32() : null, error: r.int16(), message: v >= 1 ? r.nullableString() : null, node: r.int32(), host: r.string(), port: r.int32() };
    r.end(`FindCoordinator v${v}`);
    t.same(answer, { throttle: v >= 1 ? 0 : null, error: 0, message: null, node: 0, host: '127.0.0.1', port }, `v${v}`);
  }
  const v3 = await k.request(KafkaApi.FindCoordinator, 3, (w) => w.noTaggedFields().compactString('g').int8(0).noTaggedFields());
  t.equal(v3.taggedFields().size, 0, 'response header v1');
  const three = { throttle: v3.int32(), error: v3.int16(), message: v3.compactNullableString(), node: v3.int32(), host: v3.compactString(), port: v3.int32() };
  v3.taggedFields();
  v3.end('FindCoordinator v3');
  t.same(three, { throttle: 0, error: 0, message: null, node: 0, host: '127.0.0.1', port }, 'v3 (flexible)');
  const batched = async (keyType: number) => {
    const r = await k.request(KafkaApi.FindCoordinator, 4, (w) => w.noTaggedFields().int8(keyType).compactArray(['a', 'b'], (w, key) => w.compactString(key)).noTaggedFields());
    r.taggedFields();
    r.int32();
    const out = r.compactArray((c) => {
      const entry = { key: c.compactString(), node: c.int32(), host: c.compactString(), port: c.int32(), error: c.int16(), message: c.compactNullableString() };
      c.taggedFields();
      return entry;
    });
    r.taggedFields();
    r.end('FindCoordinator v4');
    return out;
  };
  t.same(await batched(0), ['a', 'b'].map((key) => ({ key, node: 0, host: '127.0.0.1', port, error: 0, message: null })), 'v4: one coordinator per key');
  t.same(await batched(1), ['a', 'b'].map((key) => ({ key, node: -1, host: '', port: -1, error: 42, message: 'transactions are not supported' })), 'v4: transactional ids refused (INVALID_REQUEST)');
});
