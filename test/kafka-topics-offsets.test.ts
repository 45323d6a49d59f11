// Metadata v0-12, ListOffsets v1-8, CreateTopics v0-7, DeleteTopics v0-6 and DeleteRecords v0-2
// on a real broker, each response walked to its last byte as Kafka's message definitions lay it
// out (the walkers here are written apart from the broker's encoders): topic ids that are real,
// stable across restarts (SIGTERM and SIGKILL) and new for a topic created again; topics asked and
// deleted by id; ListOffsets by time answering the exact record (inside a multi-record batch, and
// a compressed one) with its own timestamp, MAX_TIMESTAMP the first record carrying the largest
// timestamp although it is not the last; DeleteRecords moving the log start so a fetch below it is
// OFFSET_OUT_OF_RANGE, kept after SIGKILL; malformed and mutated flexible requests of these APIs
// answered or refused by closing the connection, never a failure of the broker.

import t from 'tap';
import { execFile } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { KafkaApi } from '../src/doors/kafka/apis.js';
import { KafkaWriter, type KafkaReader, VersionedReader, VersionedWriter } from '../src/protocol/kafka-wire.js';
import { crc32cPure } from '../src/protocol/crc32c.js';
import { BATCH_HEADER_BYTES, encodeRecordBatch, type RecordInput } from '../src/protocol/record-batch.js';
import { random } from './harness/util.js';
import { startBroker, type RunningBroker } from './helpers/broker.js';
import { produceBody, produceResult, RawKafka } from './helpers/kafka-wire.js';

const ZERO = '00000000-0000-0000-0000-000000000000';
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
const ERR = { OFFSET_OUT_OF_RANGE: 1, UNKNOWN_TOPIC_OR_PARTITION: 3, UNSUPPORTED_VERSION: 35, INVALID_REQUEST: 42, UNKNOWN_TOPIC_ID: 100 };

// ---- both forms (classic, or compact with tag buffers in flexible versions) through the codecs' VersionedReader/Writer

/** A struct's tagged fields: none, as the broker writes none. */
const tags = (x: VersionedReader) => {
  if (x.tags().size !== 0) throw new Error('unexpected tagged fields');
};

/** Sends at `v`, with the request header's tag buffer when flexible; the reader is at the response body (past its header's tags). */
async function ask(k: RawKafka, api: number, v: number, flexFrom: number, body: (f: VersionedWriter, w: KafkaWriter) => void): Promise<{ r: KafkaReader; x: VersionedReader }> {
  const flex = v >= flexFrom;
  const r = await k.request(api, v, (w) => {
    const f = new VersionedWriter(w, flex);
    body(f.tags(), w);
  });
  const x = new VersionedReader(r, flex);
  tags(x);
  return { r, x };
}

// ---- Metadata

interface MetaTopic {
  error: number;
  name: string | null;
  id: string | null;
  internal: boolean | null;
  partitions: Array<{ error: number; partition: number; leader: number; epoch: number | null; replicas: number[]; isr: number[]; offline: number[] | null }>;
  ops: number | null;
}

async function metadata(k: RawKafka, v: number, topics: Array<{ name: string | null; id?: string }> | null, opts = { auto: false, clusterOps: false, topicOps: false }) {
  const { r, x } = await ask(k, KafkaApi.Metadata, v, 9, (f, w) => {
    f.array(topics, (topic) => {
      if (v >= 10) w.uuid(topic.id ?? ZERO);
      f.string(topic.name).tags();
    });
    if (v >= 4) w.boolean(opts.auto);
    if (v >= 8 && v <= 10) w.boolean(opts.clusterOps);
    if (v >= 8) w.boolean(opts.topicOps);
    f.tags();
  });
  const nodes = () => x.nullableArray(() => r.int32(), 'nodes')!;
  const throttle = v >= 3 ? r.int32() : null;
  const brokers = x.nullableArray(() => {
    const broker = { node: r.int32(), host: x.nullableString('host'), port: r.int32(), rack: v >= 1 ? x.nullableString('rack') : undefined };
    tags(x);
    return broker;
  }, 'brokers');
  const clusterId = v >= 2 ? x.nullableString('cluster_id') : null;
  const controller = v >= 1 ? r.int32() : null;
  const out: MetaTopic[] = x.nullableArray(() => {
    const error = r.int16();
    const name = x.nullableString('topic name');
    const id = v >= 10 ? r.uuid() : null;
    const internal = v >= 1 ? r.boolean() : null;
    const partitions = x.nullableArray(() => {
      const part = { error: r.int16(), partition: r.int32(), leader: r.int32(), epoch: v >= 7 ? r.int32() : null, replicas: nodes(), isr: nodes(), offline: v >= 5 ? nodes() : null };
      tags(x);
      return part;
    }, 'partitions')!;
    const ops = v >= 8 ? r.int32() : null;
    tags(x);
    return { error, name, id, internal, partitions, ops };
  }, 'topics')!;
  const clusterOps = v >= 8 && v <= 10 ? r.int32() : null;
  tags(x);
  r.end(`Metadata v${v} response`);
  return { throttle, brokers, clusterId, controller, topics: out, clusterOps };
}

t.test('Metadata v0-12: ids from v10, leader epochs, offline replicas, authorized operations; topics by id at v12 only', async (t) => {
  const broker = await startBroker(t, { kafka: true, args: ['--auto-create-topics'] });
  const k = await RawKafka.connect(broker.kafkaPort!);
  t.teardown(() => k.close());
  await createTopics(k, 7, [{ name: 'meta', partitions: 2 }]);
  const ids = new Set<string>();
  for (let v = 0; v <= 12; v++) {
    const m = await metadata(k, v, [{ name: 'meta' }], { auto: false, clusterOps: true, topicOps: true });
    t.equal(m.brokers!.length, 1, `v${v}: one broker`);
    const [topic] = m.topics;
    t.match(topic, { error: 0, name: 'meta' }, `v${v}: the topic`);
    t.same(topic!.partitions.map((p) => [p.partition, p.replicas, p.isr]), [[0, [m.brokers![0]!.node], [m.brokers![0]!.node]], [1, [m.brokers![0]!.node], [m.brokers![0]!.node]]]);
    if (v >= 10) ids.add(topic!.id!);
    t.equal(topic!.partitions[0]!.epoch, v >= 7 ? 0 : null, `v${v}: leader epoch ${v >= 7 ? 0 : 'absent'}`);
    t.same(topic!.partitions[0]!.offline, v >= 5 ? [] : null, `v${v}: offline replicas`);
    // Asked for, the operations are a bitfield (an admin may do all: READ 3 to DESCRIBE 8, DESCRIBE_CONFIGS 10, ALTER_CONFIGS 11).
    if (v >= 8) t.equal(topic!.ops, 0b1101_1111_1000, `v${v}: topic operations`);
    t.equal(m.clusterOps, v >= 8 && v <= 10 ? (1 << 5) | (1 << 7) | (1 << 8) | (1 << 10) | (1 << 11) : null, `v${v}: cluster operations only in v8-10`);
  }
  t.equal(ids.size, 1, 'one id at every version');
  const [id] = [...ids];
  t.match(id, UUID, 'a random (v4) UUID');
  t.not(id, ZERO);

  // Not asked for: INT32_MIN.
  t.equal((await metadata(k, 12, [{ name: 'meta' }])).topics[0]!.ops, -0x8000_0000);
  // By id (v12): found, with its name; an unknown id: UNKNOWN_TOPIC_ID, no name, the id echoed.
  const unknown = '0b0f6a4e-1c2d-4e5f-8a9b-0c1d2e3f4a5b';
  const byId = await metadata(k, 12, [{ name: null, id: id! }, { name: null, id: unknown }, { name: 'meta' }]);
  t.match(byId.topics[0], { error: 0, name: 'meta', id }, 'a topic asked by id comes back with its name');
  t.match(byId.topics[1], { error: ERR.UNKNOWN_TOPIC_ID, name: null, id: unknown, partitions: [] });
  t.match(byId.topics[2], { error: 0, name: 'meta', id });
  // Before v12 a topic cannot be asked by id: the request is invalid, answered so.
  for (const v of [10, 11]) {
    t.same((await metadata(k, v, [{ name: 'meta', id: id! }])).topics.map((x) => x.error), [ERR.INVALID_REQUEST], `v${v}: an id is refused`);
  }
  // A name that names nothing: its error and the zero id.
  t.match((await metadata(k, 12, [{ name: 'nope' }])).topics[0], { error: ERR.UNKNOWN_TOPIC_OR_PARTITION, name: 'nope', id: ZERO });
  // v1+: null is every topic, empty is none; v0: empty is every topic.
  t.same((await metadata(k, 12, null)).topics.filter((x) => !x.internal).map((x) => x.name), ['meta']);
  t.same((await metadata(k, 12, [])).topics, []);
  t.same((await metadata(k, 0, [])).topics.map((x) => x.name).filter((n) => n !== '__consumer_offsets'), ['meta'], 'v0 (no internal flag): every topic but the broker\'s own');
  // Auto-create, when asked and allowed, makes a topic with an id of its own.
  const auto = await metadata(k, 12, [{ name: 'auto' }], { auto: true, clusterOps: false, topicOps: false });
  t.match(auto.topics[0], { error: 0, name: 'auto' });
  t.match(auto.topics[0]!.id, UUID);
  t.not(auto.topics[0]!.id, id);
});

// ---- CreateTopics and DeleteTopics

interface Created {
  name: string;
  id: string | null;
  error: number;
  message: string | null;
  partitions: number | null;
  replication: number | null;
  configs: Array<{ name: string; value: string | null; readOnly: boolean; source: number; sensitive: boolean }> | null;
}

async function createTopics(k: RawKafka, v: number, topics: Array<{ name: string; partitions: number; configs?: Array<[string, string]> }>, validateOnly = false): Promise<Created[]> {
  const { r, x } = await ask(k, KafkaApi.CreateTopics, v, 5, (f, w) => {
    f.array(topics, (topic) => {
      f.string(topic.name);
      w.int32(topic.partitions).int16(-1);
      f.array([], () => undefined) // assignments
        .array(topic.configs ?? [], ([name, value]) => f.string(name).string(value).tags())
        .tags();
    });
    w.int32(5000);
    if (v >= 1) w.boolean(validateOnly);
    f.tags();
  });
  if (v >= 2) r.int32();
  const out = x.nullableArray((): Created => {
    const name = x.nullableString('topic name')!;
    const id = v >= 7 ? r.uuid() : null;
    const error = r.int16();
    const message = v >= 1 ? x.nullableString('message') : null;
    const partitions = v >= 5 ? r.int32() : null;
    const replication = v >= 5 ? r.int16() : null;
    const configs =
      v >= 5
        ? x.nullableArray(() => {
            const config = { name: x.nullableString('config name')!, value: x.nullableString('config value'), readOnly: r.boolean(), source: r.int8(), sensitive: r.boolean() };
            tags(x);
            return config;
          }, 'configs')
        : null;
    tags(x);
    return { name, id, error, message, partitions, replication, configs };
  }, 'topics')!;
  tags(x);
  r.end(`CreateTopics v${v} response`);
  return out;
}

async function deleteTopics(k: RawKafka, v: number, topics: Array<{ name: string | null; id?: string }>) {
  const { r, x } = await ask(k, KafkaApi.DeleteTopics, v, 4, (f, w) => {
    if (v >= 6) {
      f.array(topics, (topic) => {
        f.string(topic.name);
        w.uuid(topic.id ?? ZERO);
        f.tags();
      });
    } else f.array(topics, (topic) => f.string(topic.name));
    w.int32(5000);
    f.tags();
  });
  if (v >= 1) r.int32();
  const out = x.nullableArray(() => {
    const result = { name: x.nullableString('topic name'), id: v >= 6 ? r.uuid() : null, error: r.int16(), message: v >= 5 ? x.nullableString('message') : null };
    tags(x);
    return result;
  }, 'topics')!;
  tags(x);
  r.end(`DeleteTopics v${v} response`);
  return out;
}

const idOf = async (k: RawKafka, name: string) => (await metadata(k, 12, [{ name }])).topics[0]!.id!;

t.test('CreateTopics v0-7 (partitions, replication and configs from v5, the id at v7, validate only) and DeleteTopics v0-6 (by id at v6)', async (t) => {
  const broker = await startBroker(t, { kafka: true });
  const k = await RawKafka.connect(broker.kafkaPort!);
  t.teardown(() => k.close());
  for (let v = 0; v <= 7; v++) {
    const [created] = await createTopics(k, v, [{ name: `c${v}`, partitions: 3, configs: [['retention.ms', '60000']] }]);
    t.match(created, { name: `c${v}`, error: 0, message: v >= 1 ? null : null }, `v${v}: created`);
    if (v >= 5) {
      t.equal(created!.partitions, 3, `v${v}: its partitions`);
      t.equal(created!.replication, 1, `v${v}: one replica`);
      const retention = created!.configs!.find((c) => c.name === 'retention.ms');
      t.same(retention, { name: 'retention.ms', value: '60000', readOnly: false, source: 1, sensitive: false }, `v${v}: its own setting (DYNAMIC_TOPIC_CONFIG)`);
      t.equal(created!.configs!.find((c) => c.name === 'cleanup.policy')?.source, 5, `v${v}: a default (DEFAULT_CONFIG)`);
    }
    if (v >= 7) t.equal(created!.id, await idOf(k, 'c7'), 'v7: the id Metadata reports');
  }
  // An error: no id, -1 counts and null configs.
  const [again] = await createTopics(k, 7, [{ name: 'c7', partitions: 1 }]);
  t.match(again, { error: 36, id: ZERO, partitions: -1, replication: -1, configs: null });
  t.match(again!.message, /already exists/);
  // Validate only: what it would make, no id, and nothing made.
  const [validated] = await createTopics(k, 7, [{ name: 'dry', partitions: 4 }], true);
  t.match(validated, { error: 0, id: ZERO, partitions: 4, replication: 1 });
  t.equal((await metadata(k, 12, [{ name: 'dry' }])).topics[0]!.error, ERR.UNKNOWN_TOPIC_OR_PARTITION, 'validate_only created nothing');

  for (let v = 0; v <= 5; v++) {
    const [deleted] = await deleteTopics(k, v, [{ name: `c${v}` }]);
    t.match(deleted, { name: `c${v}`, error: 0, id: null, message: null }, `v${v}: deleted by name`);
  }
  const id6 = await idOf(k, 'c6');
  const unknown = '1b0f6a4e-1c2d-4e5f-8a9b-0c1d2e3f4a5b';
  const byId = await deleteTopics(k, 6, [{ name: null, id: id6 }, { name: null, id: unknown }, { name: 'c7', id: ZERO }, { name: 'c7', id: unknown }, { name: null }]);
  t.match(byId[0], { name: 'c6', id: id6, error: 0 }, 'v6: deleted by id, answered with its name');
  t.match(byId[1], { name: null, id: unknown, error: ERR.UNKNOWN_TOPIC_ID });
  t.match(byId[2], { name: 'c7', error: 0 }, 'v6: by name, answered with its id');
  t.match(byId[2]!.id, UUID);
  t.match(byId[3], { error: ERR.INVALID_REQUEST }, 'v6: a name and an id is refused');
  t.match(byId[4], { error: ERR.INVALID_REQUEST }, 'v6: neither is refused');
  t.same((await metadata(k, 12, null)).topics.filter((x) => !x.internal).map((x) => x.name), [], 'every topic is gone');
});

t.test('topic ids survive SIGTERM and SIGKILL restarts; a topic deleted and created again gets a new one', async (t) => {
  let broker = await startBroker(t, { kafka: true });
  let k = await RawKafka.connect(broker.kafkaPort!);
  await createTopics(k, 7, [{ name: 'kept', partitions: 1 }, { name: 'again', partitions: 1 }]);
  const kept = await idOf(k, 'kept');
  const first = await idOf(k, 'again');
  const restart = async (signal: NodeJS.Signals) => {
    k.close();
    await broker.stop(signal);
    broker = await startBroker(t, { kafka: true, dataDir: broker.dataDir });
    k = await RawKafka.connect(broker.kafkaPort!);
  };
  t.teardown(() => k.close());
  await restart('SIGTERM');
  t.equal(await idOf(k, 'kept'), kept, 'after a clean stop');
  await restart('SIGKILL');
  t.equal(await idOf(k, 'kept'), kept, 'after SIGKILL');
  t.equal(await idOf(k, 'again'), first);
  await deleteTopics(k, 6, [{ name: null, id: first }]);
  const [created] = await createTopics(k, 7, [{ name: 'again', partitions: 1 }]);
  t.not(created!.id, first, 'created again: a new id');
  t.equal(await idOf(k, 'again'), created!.id);
  t.equal((await metadata(k, 12, [{ name: null, id: first }])).topics[0]!.error, ERR.UNKNOWN_TOPIC_ID, 'the old id names nothing');
  await restart('SIGKILL');
  t.equal(await idOf(k, 'again'), created!.id, 'the new id is kept too');
  t.equal(await idOf(k, 'kept'), kept);

  // A topic file from before ids: the next start gives it one and writes it back, so it stays.
  k.close();
  await broker.stop('SIGTERM');
  const file = join(broker.dataDir, '.topics', 'kept.json');
  const { topicId: _, ...old } = JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
  writeFileSync(file, JSON.stringify(old));
  broker = await startBroker(t, { kafka: true, dataDir: broker.dataDir });
  k = await RawKafka.connect(broker.kafkaPort!);
  const given = await idOf(k, 'kept');
  t.match(given, UUID, 'a file without an id gets one');
  t.match(JSON.parse(readFileSync(file, 'utf8')), { topicId: given }, 'written back to the file');
  await restart('SIGKILL');
  t.equal(await idOf(k, 'kept'), given, 'and kept from then on');
});

// ---- ListOffsets and DeleteRecords

async function listOffsets(k: RawKafka, v: number, topic: string, timestamps: bigint[], isolation = 0) {
  const { r, x } = await ask(k, KafkaApi.ListOffsets, v, 6, (f, w) => {
    w.int32(-1);
    if (v >= 2) w.int8(isolation);
    f.array([topic], (name) => {
      f.string(name).array(timestamps, (ts) => {
        w.int32(0);
        if (v >= 4) w.int32(-1);
        w.int64(ts);
        f.tags();
      });
      f.tags();
    });
    f.tags();
  });
  if (v >= 2) r.int32();
  const partitions = x.nullableArray(() => {
    x.nullableString('topic');
    const ps = x.nullableArray(() => {
      const out = { partition: r.int32(), error: r.int16(), timestamp: r.int64(), offset: r.int64(), epoch: v >= 4 ? r.int32() : null };
      tags(x);
      return out;
    }, 'partitions')!;
    tags(x);
    return ps;
  }, 'topics')!.flat();
  tags(x);
  r.end(`ListOffsets v${v} response`);
  return partitions;
}

/** One batch of records with these timestamps (values r0, r1, ...), as a client writes it. */
function batchAt(timestamps: number[], gzip = false): Buffer {
  const records: RecordInput[] = timestamps.map((ts, i) => ({ value: `r${i}`, timestampMs: ts }));
  const plain = encodeRecordBatch(records, { baseTimestampMs: Math.min(...timestamps) });
  if (!gzip) return plain;
  // Compressed as a client does: the records after the header become one gzip stream.
  const header = Buffer.from(plain.subarray(0, BATCH_HEADER_BYTES));
  const batch = Buffer.concat([header, gzipSync(plain.subarray(BATCH_HEADER_BYTES))]);
  batch.writeInt32BE(batch.length - 12, 8);
  batch.writeInt16BE(batch.readInt16BE(21) | 1, 21);
  batch.writeUInt32BE(crc32cPure(batch.subarray(21)), 17);
  return batch;
}

async function produce(k: RawKafka, topic: string, batch: Buffer): Promise<bigint> {
  const result = produceResult(await k.request(KafkaApi.Produce, 3, produceBody(topic, 0, batch)));
  if (result.errorCode !== 0) throw new Error(`produce failed with ${result.errorCode}`);
  return result.baseOffset;
}

t.test('ListOffsets v1-8: the exact record by time (in a batch, in a gzip batch) with its timestamp, max timestamp (v7), earliest local (v8)', async (t) => {
  const broker = await startBroker(t, { kafka: true });
  const k = await RawKafka.connect(broker.kafkaPort!);
  t.teardown(() => k.close());
  await createTopics(k, 7, [{ name: 'times', partitions: 1 }, { name: 'empty', partitions: 1 }]);
  // Offsets 0-4 in one batch; the largest timestamp (9000, offset 6) sits mid-way in the second,
  // gzip-compressed batch, before a later record with a smaller one.
  t.equal(await produce(k, 'times', batchAt([1000, 3000, 2000, 5000, 4000])), 0n);
  t.equal(await produce(k, 'times', batchAt([6000, 9000, 7000, 9000, 8000], true)), 5n);
  const cases: Array<[bigint, bigint, bigint, string]> = [
    [2500n, 1n, 3000n, 'inside the first batch: the first record at or past the time, not the batch'],
    [3500n, 3n, 5000n, 'the first record by offset whose timestamp reaches the time (5000 at 3, not 4000 at 4)'],
    [1000n, 0n, 1000n, 'exactly a record\'s time'],
    [6500n, 6n, 9000n, 'inside the compressed batch'],
    [8500n, 6n, 9000n, 'inside the compressed batch, past its earlier records'],
    [-2n, 0n, -1n, 'earliest'],
    [-1n, 10n, -1n, 'latest'],
  ];
  for (let v = 1; v <= 8; v++) {
    const answers = await listOffsets(k, v, 'times', [...cases.map(([ts]) => ts), 9001n]);
    cases.forEach(([asked, offset, timestamp, what], i) => t.match(answers[i], { error: 0, offset, timestamp, epoch: v >= 4 ? 0 : null }, `v${v} ${asked}: ${what}`));
    t.match(answers[cases.length], { error: 0, offset: -1n, timestamp: -1n, epoch: v >= 4 ? -1 : null }, `v${v}: past every record: none`);
  }
  t.same(await listOffsets(k, 5, 'times', [2500n], 1), await listOffsets(k, 5, 'times', [2500n], 0), 'READ_COMMITTED answers as READ_UNCOMMITTED (no transactions)');
  // MAX_TIMESTAMP (v7+): the first record carrying the largest timestamp, although it is neither the last nor the only one.
  for (const v of [7, 8]) t.match((await listOffsets(k, v, 'times', [-3n]))[0], { error: 0, offset: 6n, timestamp: 9000n, epoch: 0 }, `v${v}: max timestamp`);
  t.match((await listOffsets(k, 8, 'empty', [-3n, -4n, -2n]))[0], { error: 0, offset: -1n, timestamp: -1n }, 'an empty log has no max timestamp');
  t.match((await listOffsets(k, 8, 'times', [-4n]))[0], { error: 0, offset: 0n, timestamp: -1n }, 'v8: earliest local is the log start (no tiered storage)');
  // What a version cannot ask for is refused, not answered as something else.
  t.match((await listOffsets(k, 6, 'times', [-3n]))[0], { error: ERR.UNSUPPORTED_VERSION, offset: -1n }, 'v6: max timestamp is v7+');
  t.match((await listOffsets(k, 7, 'times', [-4n]))[0], { error: ERR.UNSUPPORTED_VERSION }, 'v7: earliest local is v8+');
  t.match((await listOffsets(k, 8, 'times', [-7n]))[0], { error: ERR.INVALID_REQUEST }, 'an unknown negative timestamp');
});

async function deleteRecords(k: RawKafka, v: number, topic: string, offsets: Array<[number, bigint]>) {
  const { r, x } = await ask(k, KafkaApi.DeleteRecords, v, 2, (f, w) => {
    f.array([topic], (name) => {
      f.string(name).array(offsets, ([partition, offset]) => {
        w.int32(partition).int64(offset);
        f.tags();
      });
      f.tags();
    });
    w.int32(5000);
    f.tags();
  });
  r.int32(); // throttle
  const out = x.nullableArray(() => {
    const name = x.nullableString('topic');
    const ps = x.nullableArray(() => {
      const entry = { name, partition: r.int32(), lowWatermark: r.int64(), error: r.int16() };
      tags(x);
      return entry;
    }, 'partitions')!;
    tags(x);
    return ps;
  }, 'topics')!.flat();
  tags(x);
  r.end(`DeleteRecords v${v} response`);
  return out;
}

/** Fetch v11 of one partition at `offset`: its error, log start and the first batch's base offset. */
async function fetchAt(k: RawKafka, topic: string, offset: bigint) {
  const r = await k.request(KafkaApi.Fetch, 11, (w) => {
    w.int32(-1).int32(0).int32(1).int32(1 << 20).int8(0).int32(0).int32(-1);
    w.int32(1).string(topic).int32(1).int32(0).int32(-1).int64(offset).int64(-1n).int32(1 << 20);
    w.int32(0).string('');
  });
  r.int32();
  r.int16();
  r.int32();
  const [p] = r.array((tp) => {
    tp.string();
    return tp.array((p) => {
      const out = { partition: p.int32(), error: p.int16(), hw: p.int64(), lso: p.int64(), logStart: p.int64() };
      p.nullableArray((a) => a.int64());
      p.int32();
      const records = p.nullableBytes();
      return { ...out, firstBase: records && records.length > 0 ? records.readBigInt64BE(0) : null };
    });
  }).flat();
  return p!;
}

t.test('DeleteRecords v0-2: the log start moves (inside a batch), fetches below it are OFFSET_OUT_OF_RANGE, ListOffsets earliest answers it, SIGKILL keeps it', async (t) => {
  let broker = await startBroker(t, { kafka: true });
  let k = await RawKafka.connect(broker.kafkaPort!);
  const restarted = async (b: RunningBroker, signal: NodeJS.Signals) => {
    await b.stop(signal);
    return startBroker(t, { kafka: true, dataDir: b.dataDir });
  };
  await createTopics(k, 7, [{ name: 'trim', partitions: 1 }]);
  for (let i = 0; i < 4; i++) await produce(k, 'trim', batchAt([1000 + i * 10, 1001 + i * 10, 1002 + i * 10])); // offsets 0-11, batches of 3
  t.same(await deleteRecords(k, 0, 'trim', [[0, 4n]]), [{ name: 'trim', partition: 0, lowWatermark: 4n, error: 0 }], 'v0: to 4, inside the second batch');
  t.same(await deleteRecords(k, 1, 'trim', [[0, 2n]]), [{ name: 'trim', partition: 0, lowWatermark: 4n, error: 0 }], 'v1: below the start changes nothing');
  t.same(await deleteRecords(k, 2, 'trim', [[0, 13n], [7, 1n]]), [
    { name: 'trim', partition: 0, lowWatermark: -1n, error: ERR.OFFSET_OUT_OF_RANGE },
    { name: 'trim', partition: 7, lowWatermark: -1n, error: ERR.UNKNOWN_TOPIC_OR_PARTITION },
  ], 'v2: past the high watermark, and a partition that does not exist');
  t.match(await fetchAt(k, 'trim', 3n), { error: ERR.OFFSET_OUT_OF_RANGE, logStart: 4n }, 'a fetch below the start');
  t.match(await fetchAt(k, 'trim', 4n), { error: 0, logStart: 4n, firstBase: 3n }, 'at the start: the whole batch holding it');
  t.match((await listOffsets(k, 8, 'trim', [-2n, -4n, 1000n])), [{ offset: 4n }, { offset: 4n }, { offset: 4n, timestamp: 1011n }], 'earliest, earliest local and a time before the start answer the start');

  k.close();
  broker = await restarted(broker, 'SIGKILL');
  k = await RawKafka.connect(broker.kafkaPort!);
  t.teardown(() => k.close());
  t.match(await fetchAt(k, 'trim', 3n), { error: ERR.OFFSET_OUT_OF_RANGE, logStart: 4n }, 'after SIGKILL: still below the start');
  t.match((await listOffsets(k, 1, 'trim', [-2n]))[0], { offset: 4n }, 'after SIGKILL: earliest is the start');
  // -1: everything up to the high watermark.
  t.same(await deleteRecords(k, 2, 'trim', [[0, -1n]]), [{ name: 'trim', partition: 0, lowWatermark: 12n, error: 0 }], '-1 is the high watermark');
  t.match((await listOffsets(k, 7, 'trim', [-2n, -1n, -3n])), [{ offset: 12n }, { offset: 12n }, { offset: -1n, timestamp: -1n }], 'nothing left to read');
  k.close();
  broker = await restarted(broker, 'SIGTERM');
  k = await RawKafka.connect(broker.kafkaPort!);
  t.match((await listOffsets(k, 1, 'trim', [-2n]))[0], { offset: 12n }, 'after a clean restart too');
  t.equal(await produce(k, 'trim', batchAt([5000])), 12n, 'appends go on from the high watermark');
  t.match(await fetchAt(k, 'trim', 12n), { error: 0, logStart: 12n, firstBase: 12n });
});

/** A whole request frame (size, header v2 with its empty tag buffer, body), as a flexible client writes it. */
function frame(apiKey: number, v: number, body: (w: KafkaWriter) => void): Buffer {
  const w = new KafkaWriter().int16(apiKey).int16(v).int32(1).string('fuzz').noTaggedFields();
  body(w);
  const payload = Buffer.concat(w.pieces() as Buffer[]);
  const size = Buffer.alloc(4);
  size.writeInt32BE(payload.length);
  return Buffer.concat([size, payload]);
}

t.test('malformed and mutated flexible requests of these APIs close the connection or are answered; the broker stays up', async (t) => {
  const broker = await startBroker(t, { kafka: true });
  const k = await RawKafka.connect(broker.kafkaPort!);
  await createTopics(k, 7, [{ name: 'fuzz', partitions: 1 }]);
  await produce(k, 'fuzz', batchAt([1000, 2000, 3000]));
  const id = await idOf(k, 'fuzz');
  k.close();
  const metadata12 = frame(KafkaApi.Metadata, 12, (w) => w.compactArray([null, 'fuzz'], (w, name) => w.uuid(name ? ZERO : id).compactString(name).noTaggedFields()).boolean(false).boolean(true).noTaggedFields());
  const listOffsets8 = frame(KafkaApi.ListOffsets, 8, (w) => w.int32(-1).int8(1).compactArray(['fuzz'], (w, n) => w.compactString(n).compactArray([-3n, 1500n, -4n], (w, ts) => w.int32(0).int32(-1).int64(ts).noTaggedFields()).noTaggedFields()).noTaggedFields());
  const deleteRecords2 = frame(KafkaApi.DeleteRecords, 2, (w) => w.compactArray(['fuzz'], (w, n) => w.compactString(n).compactArray([1n], (w, o) => w.int32(0).int64(o).noTaggedFields()).noTaggedFields()).int32(1000).noTaggedFields());
  // Well formed, each is answered.
  for (const request of [metadata12, listOffsets8, deleteRecords2]) {
    const c = await RawKafka.connect(broker.kafkaPort!);
    c.writeRaw(request);
    const answer = await c.nextFrame();
    t.equal(answer.readInt32BE(0), 1, `API ${request.readInt16BE(4)} v${request.readInt16BE(6)} answered`);
    c.close();
  }
  const malformed: Array<[string, Buffer]> = [
    ['ListOffsets with isolation level 2', frame(KafkaApi.ListOffsets, 8, (w) => w.int32(-1).int8(2).compactArray([], () => undefined).noTaggedFields())],
    ['a Metadata v12 topic count past the request', frame(KafkaApi.Metadata, 12, (w) => w.uvarint(1000).boolean(false).boolean(false).noTaggedFields())],
    ['a DeleteTopics v6 topic with a null id field cut short', frame(KafkaApi.DeleteTopics, 6, (w) => w.compactArray([0], (w) => w.compactString(null).int32(7)))],
    ['CreateTopics v5 without its body tag buffer', frame(KafkaApi.CreateTopics, 5, (w) => w.compactArray([], () => undefined).int32(1000).boolean(false))],
  ];
  for (const [what, request] of malformed) {
    const c = await RawKafka.connect(broker.kafkaPort!);
    c.writeRaw(request);
    await c.closed;
    t.pass(`${what}: connection closed`);
  }
  const next = random(19);
  let answered = 0;
  let closed = 0;
  const requests = [metadata12, listOffsets8, deleteRecords2];
  for (let i = 0; i < 300; i++) {
    const input = Buffer.from(requests[i % requests.length]!);
    for (let f = 1 + Math.floor(next() * 3); f > 0; f--) {
      const at = 8 + Math.floor(next() * (input.length - 8)); // keep the API key and version: these APIs are the point
      input[at] = input[at]! ^ (1 + Math.floor(next() * 255));
    }
    const c = await RawKafka.connect(broker.kafkaPort!);
    c.writeRaw(input);
    const outcome = await Promise.race([c.next().then(() => 'answered', () => 'closed'), c.closed.then(() => 'closed')]);
    if (outcome === 'answered') answered++;
    else closed++;
    c.close();
  }
  t.ok(answered > 0 && closed > 0, `300 mutated requests: ${answered} answered, ${closed} closed`);
  const unexpected = broker.lines.filter((l) => typeof l === 'object' && /failed unexpectedly/.test(String(l.msg)));
  t.same(unexpected, [], 'no decoder or handler failed unexpectedly');
  t.equal(broker.proc.exitCode, null, 'the broker is up');
});

t.test('kcat (librdkafka) -Q: offsets for times are the exact records, inside one batch; DeleteRecords moves what -o beginning reads', async (t) => {
  const broker = await startBroker(t, { kafka: true });
  const k = await RawKafka.connect(broker.kafkaPort!);
  t.teardown(() => k.close());
  await createTopics(k, 7, [{ name: 'q', partitions: 1 }]);
  await produce(k, 'q', batchAt([1000, 3000, 2000, 5000, 4000], true));
  const b = `127.0.0.1:${broker.kafkaPort}`;
  const kcat = (args: string[]) =>
    new Promise<string>((resolve, reject) => execFile('kcat', ['-b', b, ...args], { timeout: 60_000 }, (err, stdout, stderr) => (err ? reject(new Error(`${err.message} ${stderr}`)) : resolve(stdout))));
  for (const [ts, offset] of [[2500, 1], [3500, 3], [1000, 0], [5001, -1]] as const) {
    t.equal(await kcat(['-Q', '-t', `q:0:${ts}`]), `q [0] offset ${offset}\n`, `-Q q:0:${ts} is offset ${offset}`);
  }
  await deleteRecords(k, 2, 'q', [[0, 3n]]);
  t.equal(await kcat(['-C', '-t', 'q', '-p', '0', '-o', 'beginning', '-e', '-f', '%o:%s\\n']), '3:r3\n4:r4\n', 'read from the beginning: the new log start, inside the (gzip) batch');
});

t.test('OffsetForLeaderEpoch v0-4: a single broker has led every partition at epoch 0; a newer epoch or an unknown partition is answered as such', async (t) => {
  const broker = await startBroker(t, { kafka: true });
  const k = await RawKafka.connect(broker.kafkaPort!);
  t.teardown(() => k.close());
  await createTopics(k, 7, [{ name: 'epochs', partitions: 1 }]);
  t.equal(await produce(k, 'epochs', batchAt([1000, 2000, 3000])), 0n);
  const ask4 = async (v: number, partitions: Array<[number, number]>) => {
    const { r, x } = await ask(k, KafkaApi.OffsetForLeaderEpoch, v, 4, (f, w) => {
      if (v >= 3) w.int32(-1); // replica_id: a consumer
      f.array([['epochs', partitions] as const], ([name, ps]) => {
        f.string(name).array(ps, ([partition, epoch]) => {
          w.int32(partition);
          if (v >= 2) w.int32(-1); // current_leader_epoch: not checked
          w.int32(epoch);
          f.tags();
        });
        f.tags();
      });
      f.tags();
    });
    if (v >= 2) t.equal(r.int32('throttle'), 0);
    const topics = x.array(() => {
      const name = x.string('topic');
      const ps = x.array(() => {
        const out = { error: r.int16('error'), partition: r.int32('partition'), epoch: v >= 1 ? r.int32('epoch') : null, end: r.int64('end') };
        tags(x);
        return out;
      }, 'partitions');
      tags(x);
      return { name, ps };
    }, 'topics');
    tags(x);
    r.end('OffsetForLeaderEpoch');
    return topics[0]!.ps;
  };
  for (let v = 0; v <= 4; v++) {
    const [current, newer, unknown] = await ask4(v, [[0, 0], [0, 7], [3, 0]]);
    t.match(current, { error: 0, partition: 0, epoch: v >= 1 ? 0 : null, end: 3n }, `v${v}: epoch 0 ends at the log end`);
    t.match(newer, { error: 0, partition: 0, epoch: v >= 1 ? -1 : null, end: -1n }, `v${v}: an epoch the log never had: undefined`);
    t.match(unknown, { error: ERR.UNKNOWN_TOPIC_OR_PARTITION, partition: 3 }, `v${v}: an unknown partition`);
  }
});
