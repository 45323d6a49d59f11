// The broker over TCP: topics, produce at each acks level, fetch across segments and partitions,
// long-poll woken by appends, ListOffsets, pipelining, metadata and metrics. A real broker process.

import t from 'tap';
import { KAFKA_API_VERSIONS } from '../src/doors/kafka/apis.js';
import { ApiKey } from '../src/protocol/messages.js';
import { decodeRecordBatches, encodeRecordBatch } from '../src/protocol/record-batch.js';
import { call, createTopic, fetch, produce, scrape, scrapeWhen, startBroker } from './helpers/broker.js';
import { batchOf } from './helpers/tmp.js';

const values = (records: Buffer) => decodeRecordBatches(records).flatMap((b) => b.records.map((r) => r.value?.toString()));

t.test('produce with acks 1 and all, then fetch it back byte for byte across segments', async (t) => {
  const broker = await startBroker(t);
  const c = await broker.connect();
  await createTopic(c, 'orders', 1, { segmentBytes: 2048 });
  const sent: Buffer[] = [];
  for (let i = 0; i < 60; i++) {
    const batch = batchOf(i, 5);
    const [r] = await produce(c, [{ topic: 'orders', partition: 0, batches: batch }], i % 2 === 0 ? 1 : -1);
    t.equal(r?.error, undefined);
    if (r?.baseOffset !== BigInt(i * 5) || r.lastOffset !== BigInt(i * 5 + 4)) t.fail(`batch ${i} got ${r?.baseOffset}..${r?.lastOffset}`);
    sent.push(batch);
  }
  const meta = await call<{ topics: Array<{ name: string; partitions: Array<{ highWatermark: bigint }> }> }>(c, ApiKey.Metadata, { topics: ['orders'] });
  t.equal(meta.topics[0]?.partitions[0]?.highWatermark, 300n);

  // Read it all with small fetches: each ends on a batch boundary and the next starts there.
  const got: Buffer[] = [];
  let offset = 0n;
  let fetches = 0;
  while (offset < 300n) {
    const [p] = await fetch(c, [{ topic: 'orders', partition: 0, offset, maxBytes: 700 }]);
    t.equal(p?.error, undefined);
    const batches = decodeRecordBatches(p!.records);
    t.ok(batches.length > 0, 'every fetch makes progress');
    got.push(p!.records);
    offset = batches.at(-1)!.baseOffset + BigInt(batches.at(-1)!.lastOffsetDelta) + 1n;
    fetches++;
  }
  t.ok(fetches > 10, `read in ${fetches} fetches`);
  const expected = Buffer.concat(sent);
  const actual = Buffer.concat(got);
  // The log stamps offsets (bytes 0-7 of each batch); everything the CRC covers is identical.
  t.equal(actual.length, expected.length);
  t.same(values(actual), values(expected));
  t.ok(decodeRecordBatches(actual).every((b, i) => b.baseOffset === BigInt(i * 5)));
  const segments = (await scrape(broker)).match(/sluice_partition_segments\{topic="orders",partition="0"\} (\d+)/);
  t.ok(Number(segments?.[1]) > 3, `the log rolled into ${segments?.[1]} segments`);
});

t.test('acks=0 gets no response, and the data is there', async (t) => {
  const broker = await startBroker(t);
  const c = await broker.connect();
  await createTopic(c, 'fire', 1);
  for (let i = 0; i < 10; i++) {
    c.send(ApiKey.Produce, 0, { acks: 0, partitions: [{ topic: 'fire', partition: 0, bytes: batchOf(i).length }] }, [batchOf(i)]);
  }
  // Responses are in request order, so this answer comes after all ten appends.
  const [p] = await fetch(c, [{ topic: 'fire', partition: 0, offset: 0n }]);
  t.equal(p?.highWatermark, 10n);
  t.same(values(p!.records), Array.from({ length: 10 }, (_, i) => `batch ${i} record 0`));
});

t.test('one request produces to and fetches from several partitions and topics', async (t) => {
  const broker = await startBroker(t);
  const c = await broker.connect();
  await createTopic(c, 'a', 3);
  await createTopic(c, 'b.events_1', 1);
  const parts = [
    { topic: 'a', partition: 0, batches: encodeRecordBatch([{ value: 'a0' }]) },
    { topic: 'a', partition: 2, batches: Buffer.concat([encodeRecordBatch([{ value: 'a2-x' }]), encodeRecordBatch([{ value: 'a2-y' }, { value: 'a2-z' }])]) },
    { topic: 'b.events_1', partition: 0, batches: encodeRecordBatch([{ value: 'b0' }]) },
    { topic: 'nope', partition: 0, batches: encodeRecordBatch([{ value: 'lost' }]) },
  ];
  const results = await produce(c, parts, 1);
  t.same(results.map((r) => [r.topic, r.partition, r.baseOffset, r.error?.code]), [
    ['a', 0, 0n, undefined],
    ['a', 2, 0n, undefined],
    ['b.events_1', 0, 0n, undefined],
    ['nope', 0, undefined, 'UNKNOWN_TOPIC_OR_PARTITION'],
  ]);
  t.equal(results[1]?.lastOffset, 2n);
  const fetched = await fetch(c, [
    { topic: 'a', partition: 2, offset: 0n },
    { topic: 'a', partition: 1, offset: 0n },
    { topic: 'a', partition: 0, offset: 0n },
    { topic: 'b.events_1', partition: 0, offset: 0n },
    { topic: 'a', partition: 7, offset: 0n },
  ]);
  t.same(fetched.map((p) => [p.topic, p.partition, p.highWatermark, values(p.records), p.error?.code]), [
    ['a', 2, 3n, ['a2-x', 'a2-y', 'a2-z'], undefined],
    ['a', 1, 0n, [], undefined],
    ['a', 0, 1n, ['a0'], undefined],
    ['b.events_1', 0, 1n, ['b0'], undefined],
    ['a', 7, -1n, [], 'UNKNOWN_TOPIC_OR_PARTITION'],
  ]);
});

t.test('a long-poll fetch returns when data arrives, not when the wait ends', async (t) => {
  const broker = await startBroker(t);
  const consumer = await broker.connect('consumer');
  const producer = await broker.connect('producer');
  await createTopic(producer, 'live', 2);
  const startedMs = Date.now();
  const parked = fetch(consumer, [{ topic: 'live', partition: 0, offset: 0n }, { topic: 'live', partition: 1, offset: 0n }], { maxWaitMs: 20_000, minBytes: 1 });
  await new Promise((r) => setTimeout(r, 200));
  await produce(producer, [{ topic: 'live', partition: 1, batches: encodeRecordBatch([{ value: 'wake up' }]) }]);
  const [p0, p1] = await parked;
  const waitedMs = Date.now() - startedMs;
  t.ok(waitedMs < 5_000, `answered after ${waitedMs} ms of a 20 s wait`);
  t.same(values(p1!.records), ['wake up']);
  t.equal(p0!.bytes, 0);

  // minBytes larger than one append: it keeps waiting until enough has arrived.
  const big = fetch(consumer, [{ topic: 'live', partition: 0, offset: 0n }], { maxWaitMs: 20_000, minBytes: 3000 });
  for (let i = 0; i < 5; i++) {
    await produce(producer, [{ topic: 'live', partition: 0, batches: encodeRecordBatch([{ value: Buffer.alloc(1000, i) }]) }]);
  }
  const [b] = await big;
  t.ok(b!.bytes >= 3000, `woke with ${b!.bytes} bytes`);

  // With nothing arriving, it answers empty when maxWaitMs is up.
  const before = Date.now();
  const [empty] = await fetch(consumer, [{ topic: 'live', partition: 1, offset: 1n }], { maxWaitMs: 300, minBytes: 1 });
  t.equal(empty!.bytes, 0);
  t.ok(Date.now() - before >= 250, 'waited out maxWaitMs');
});

t.test('pipelined requests are answered in order, even behind a parked fetch', async (t) => {
  const broker = await startBroker(t);
  const c = await broker.connect();
  await createTopic(c, 'p', 1);
  const order: string[] = [];
  const parked = c.request(ApiKey.Fetch, 0, { maxWaitMs: 10_000, minBytes: 1, partitions: [{ topic: 'p', partition: 0, offset: 0n }] }).then(() => order.push('fetch'));
  // Behind it on the same connection: a produce that wakes it, then metadata.
  const produced = c
    .request(ApiKey.Produce, 0, { acks: 1, partitions: [{ topic: 'p', partition: 0, bytes: batchOf(1).length }] }, [batchOf(1)])
    .then(() => order.push('produce'));
  const meta = c.request(ApiKey.Metadata, 0, { topics: null }).then(() => order.push('metadata'));
  const many = Array.from({ length: 50 }, (_, i) => c.request(ApiKey.ApiVersions, 0, {}).then(() => order.push(`v${i}`)));
  await Promise.all([parked, produced, meta, ...many]);
  t.same(order, ['fetch', 'produce', 'metadata', ...Array.from({ length: 50 }, (_, i) => `v${i}`)]);
});

t.test('ListOffsets: earliest, latest, by timestamp', async (t) => {
  const broker = await startBroker(t);
  const c = await broker.connect();
  await createTopic(c, 'timed', 1);
  for (let i = 0; i < 5; i++) {
    await produce(c, [{ topic: 'timed', partition: 0, batches: encodeRecordBatch([{ value: `t${i}`, timestampMs: 1_000_000 + i * 1000 }, { value: `u${i}`, timestampMs: 1_000_500 + i * 1000 }]) }]);
  }
  const list = (timestamp: bigint) =>
    call<{ partitions: Array<{ offset?: bigint | null; error?: { code: string } }> }>(c, ApiKey.ListOffsets, { partitions: [{ topic: 'timed', partition: 0, timestamp }] }).then(
      (b) => b.partitions[0]!,
    );
  t.equal((await list(-2n)).offset, 0n);
  t.equal((await list(-1n)).offset, 10n);
  t.equal((await list(1_002_000n)).offset, 4n, 'the batch whose records reach the time');
  t.equal((await list(1_002_600n)).offset, 6n, 'the next batch when this one ends earlier');
  t.equal((await list(0n)).offset, 0n);
  t.equal((await list(9_999_999n)).offset, null, 'nothing that late');
  const unknown = await call<{ partitions: Array<{ error?: { code: string } }> }>(c, ApiKey.ListOffsets, { partitions: [{ topic: 'x', partition: 0, timestamp: -1 }] });
  t.equal(unknown.partitions[0]?.error?.code, 'UNKNOWN_TOPIC_OR_PARTITION');
});

t.test('ApiVersions, Metadata, CreateTopics and DeleteTopics', async (t) => {
  const broker = await startBroker(t, { args: ['--auto-create-topics', '--default-partitions', '3'] });
  const c = await broker.connect();
  const versions = await call<{ apis: Array<{ apiKey: number; name: string; maxVersion: number }>; broker: { software: string } }>(c, ApiKey.ApiVersions, {});
  t.same(versions.apis.map((a) => a.name).sort(), [
    'ApiVersions',
    'Authenticate',
    'CreatePartitions',
    'CreateTopics',
    'Credit',
    'DeleteGroups',
    'DeleteRecords',
    'DeleteTopics',
    'DescribeConfigs',
    'DescribeGroups',
    'DescribeProducers',
    'Fetch',
    'FindCoordinator',
    'Heartbeat',
    'IncrementalAlterConfigs',
    'InitProducerId',
    'JoinGroup',
    'LeaveGroup',
    'ListGroups',
    'ListOffsets',
    'Metadata',
    'OffsetCommit',
    'OffsetDelete',
    'OffsetFetch',
    'OffsetForLeaderEpoch',
    'Produce',
    'Subscribe',
    'SyncGroup',
    'Unsubscribe',
  ]);
  t.equal(versions.broker.software, 'sluice');
  const { HANDLERS } = await import('../src/doors/sluice/handlers/index.js');
  t.same(versions.apis.filter((a) => !HANDLERS.has(a.apiKey)), [], 'every API advertised has a handler');

  const created = await call<{ topics: Array<{ name: string; error?: { code: string } }> }>(c, ApiKey.CreateTopics, {
    topics: [
      { name: 'good', partitions: 2, config: { retentionMs: 60_000 } },
      { name: 'good', partitions: 2 },
      { name: '../escape', partitions: 1 },
      { name: 'x'.repeat(250), partitions: 1 },
      { name: '..', partitions: 1 },
      { name: 'zero', partitions: 0 },
      { name: 'compacted', partitions: 1, config: { cleanupPolicy: 'compact' } },
      { name: 'tiny', partitions: 1, config: { segmentBytes: 10 } },
      { name: 'defaulted', partitions: -1 },
    ],
  });
  t.same(created.topics.map((r) => r.error?.code ?? 'ok'), [
    'ok',
    'TOPIC_ALREADY_EXISTS',
    'INVALID_TOPIC_EXCEPTION',
    'INVALID_TOPIC_EXCEPTION',
    'INVALID_TOPIC_EXCEPTION',
    'INVALID_PARTITIONS',
    'INVALID_CONFIG',
    'INVALID_CONFIG',
    'ok',
  ]);
  const validateOnly = await call<{ topics: Array<{ error?: { code: string } }> }>(c, ApiKey.CreateTopics, { topics: [{ name: 'dry', partitions: 1 }], validateOnly: true });
  t.equal(validateOnly.topics[0]?.error, undefined);

  type Meta = { brokers: Array<{ host: string; port: number }>; topics: Array<{ name: string; internal?: boolean; error?: { code: string }; partitions: unknown[] }> };
  const all = await call<Meta>(c, ApiKey.Metadata, { topics: null });
  t.same(all.brokers, [{ nodeId: 0, host: '127.0.0.1', port: broker.port }]);
  t.same(all.topics.filter((x) => !x.internal).map((x) => [x.name, x.partitions.length]).sort(), [['defaulted', 3], ['good', 2]], 'dry run created nothing');
  t.same(all.topics.filter((x) => x.internal).map((x) => x.name), ['__consumer_offsets'], 'the internal topic is listed as internal');
  const internalDelete = await call<{ topics: Array<{ error?: { code: string } }> }>(c, ApiKey.DeleteTopics, { topics: ['__consumer_offsets'] });
  t.equal(internalDelete.topics[0]?.error?.code, 'INVALID_TOPIC_EXCEPTION');
  const [internalWrite] = await produce(c, [{ topic: '__consumer_offsets', partition: 0, batches: batchOf(1) }]);
  t.equal(internalWrite?.error?.code, 'INVALID_TOPIC_EXCEPTION');

  const auto = await call<Meta>(c, ApiKey.Metadata, { topics: ['fresh', 'bad/name'] });
  t.same(auto.topics.map((x) => [x.name, x.partitions.length, x.error?.code]), [['fresh', 3, undefined], ['bad/name', 0, 'INVALID_TOPIC_EXCEPTION']]);
  const noAuto = await call<Meta>(c, ApiKey.Metadata, { topics: ['other'], allowAutoCreate: false });
  t.equal(noAuto.topics[0]?.error?.code, 'UNKNOWN_TOPIC_OR_PARTITION');

  await produce(c, [{ topic: 'good', partition: 1, batches: batchOf(1) }]);
  const deleted = await call<{ topics: Array<{ name: string; error?: { code: string } }> }>(c, ApiKey.DeleteTopics, { topics: ['good', 'never'] });
  t.same(deleted.topics.map((r) => r.error?.code ?? 'ok'), ['ok', 'UNKNOWN_TOPIC_OR_PARTITION']);
  const [gone] = await produce(c, [{ topic: 'good', partition: 1, batches: batchOf(2) }]);
  t.equal(gone?.error?.code, 'UNKNOWN_TOPIC_OR_PARTITION');
  // Re-created with the same name, it starts empty.
  await createTopic(c, 'good', 1);
  const [fresh] = await fetch(c, [{ topic: 'good', partition: 0, offset: 0n }]);
  t.equal(fresh?.highWatermark, 0n);
});

t.test('metrics: bytes and records per topic, requests per API, partitions, fetch paths', async (t) => {
  const broker = await startBroker(t, { args: ['--fetch-path', 'mmap'] });
  const c = await broker.connect();
  await createTopic(c, 'm', 1);
  const batch = batchOf(1, 4);
  await produce(c, [{ topic: 'm', partition: 0, batches: batch }]);
  const [p] = await fetch(c, [{ topic: 'm', partition: 0, offset: 0n }]);
  // The fetch's duration is counted once the sender's completion reaches the broker's event loop,
  // which may be after the client has read the response.
  const text = await scrapeWhen(broker, (text) => /^sluice_request_duration_seconds_count\{api="Fetch"\} /m.test(text));
  const value = (pattern: string) => Number(new RegExp(`^${pattern} (\\S+)$`, 'm').exec(text)?.[1]);
  t.equal(value('sluice_bytes_in_total\\{topic="m"\\}'), batch.length);
  t.equal(value('sluice_records_in_total\\{topic="m"\\}'), 4);
  t.equal(value('sluice_bytes_out_total\\{topic="m"\\}'), p!.bytes);
  t.equal(value('sluice_records_out_total\\{topic="m"\\}'), 4);
  t.equal(value('sluice_partition_high_watermark\\{topic="m",partition="0"\\}'), 4);
  t.equal(value('sluice_fetch_path_bytes_total\\{path="mmap"\\}'), p!.bytes);
  t.equal(value('sluice_requests_total\\{api="Produce",result="ok"\\}'), 1);
  t.equal(value('sluice_request_duration_seconds_count\\{api="Fetch"\\}'), 1);
  t.equal(value('sluice_connections'), 1);
  t.match(text, /process_resident_memory_bytes \d+/);
  t.match(text, /^sluice_transfer_sender_cpu_seconds_total [\d.e-]+$/m);
  t.equal(value('sluice_transfers_in_flight'), 0);
  const notFound = await globalThis.fetch(`http://127.0.0.1:${broker.metricsPort}/other`);
  t.equal(notFound.status, 404);
});

t.test('retention runs on its timer with per-topic settings, and old offsets become out of range', async (t) => {
  const broker = await startBroker(t, { args: ['--retention-check-interval-ms', '50'] });
  const c = await broker.connect();
  await createTopic(c, 'short', 1, { retentionBytes: 2048, segmentBytes: 1024 });
  await createTopic(c, 'long', 1, { segmentBytes: 1024 });
  for (let i = 0; i < 40; i++) {
    // Current timestamps: the default age limit (7 days) must not apply.
    await produce(c, [{ topic: 'short', partition: 0, batches: batchOf(i, 3, Date.now()) }, { topic: 'long', partition: 0, batches: batchOf(i, 3, Date.now()) }]);
  }
  const earliest = async (topic: string) =>
    (await call<{ partitions: Array<{ offset: bigint }> }>(c, ApiKey.ListOffsets, { partitions: [{ topic, partition: 0, timestamp: -2 }] })).partitions[0]!.offset;
  const deadline = Date.now() + 10_000;
  while ((await earliest('short')) === 0n && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  const start = await earliest('short');
  t.ok(start > 0n, `retention advanced the log start to ${start}`);
  t.equal(await earliest('long'), 0n, 'the broker default (7 days, no size limit) kept the other topic whole');
  const [gone] = await fetch(c, [{ topic: 'short', partition: 0, offset: 0n }]);
  t.equal(gone?.error?.code, 'OFFSET_OUT_OF_RANGE');
  t.ok(gone!.logStartOffset >= start, 'the error carries the new log start');
  t.ok(broker.lines.some((l) => typeof l === 'object' && l.msg === 'retention deleted old segments' && l.topic === 'short'));
});

t.test('metrics: a long poll\'s wait is its own histogram, not processing time; fsync waits; free bytes; the ApiVersions probe is not an error', async (t) => {
  const broker = await startBroker(t, { kafka: true });
  const c = await broker.connect();
  await createTopic(c, 'w', 1);
  // A fetch parked for its whole maxWaitMs (nothing comes): 300 ms waiting, almost no processing.
  await fetch(c, [{ topic: 'w', partition: 0, offset: 0n }], { maxWaitMs: 300, minBytes: 1 });
  await produce(c, [{ topic: 'w', partition: 0, batches: batchOf(1) }], -1);
  // A client's first request: ApiVersions at a version newer than the broker's (librdkafka opens
  // with its newest), answered in v0 with UNSUPPORTED_VERSION and the versions we have, so the
  // client retries with one of them: a negotiation, not a failed request.
  const { RawKafka } = await import('./helpers/kafka-wire.js');
  const newest = KAFKA_API_VERSIONS.find((a) => a.apiKey === 18)!.maxVersion;
  const k = await RawKafka.connect(broker.kafkaPort!);
  t.teardown(() => k.close());
  // Header tagged fields, then compact strings "kcat" and "1.7.1" and the body's tagged fields.
  k.send(18, newest + 1, (w) => w.int8(0).int8(5).int8(0x6b).int8(0x63).int8(0x61).int8(0x74).int8(6).int8(0x31).int8(0x2e).int8(0x37).int8(0x2e).int8(0x31).int8(0));
  t.equal((await k.nextFrame()).readInt16BE(4), 35, 'UNSUPPORTED_VERSION, in v0');
  const text = await scrapeWhen(broker, (s) => /^sluice_fetch_wait_seconds_count\{api="Fetch"\} 1$/m.test(s) && /^sluice_requests_total\{api="kafka.ApiVersions"/m.test(s));
  const value = (pattern: string) => Number(new RegExp(`^${pattern} (\\S+)$`, 'm').exec(text)?.[1]);
  t.ok(value('sluice_fetch_wait_seconds_sum\\{api="Fetch"\\}') >= 0.29, 'the wait: about 300 ms');
  t.ok(value('sluice_request_duration_seconds_sum\\{api="Fetch"\\}') < 0.25, 'processing: the wait left out');
  t.equal(value('sluice_fsync_wait_seconds_count'), 1, 'one acks=all produce waited for an fsync');
  // Each fsync round the storage core ran, whoever asked (here at least the acks=all produce's).
  const rounds = value('sluice_fsync_seconds_count');
  t.ok(rounds >= 1, `fsync rounds counted: ${rounds}`);
  t.equal(value('sluice_fsync_seconds_bucket\\{le="\\+Inf"\\}'), rounds, 'every round in the +Inf bucket');
  const buckets = [...text.matchAll(/^sluice_fsync_seconds_bucket\{le="([^"]+)"\} (\S+)$/gm)].map((m) => Number(m[2]));
  t.ok(buckets.length > 2 && buckets.every((n, i) => i === 0 || n >= buckets[i - 1]!), 'cumulative buckets');
  t.ok(value('sluice_fsync_seconds_sum') > 0, 'and the time they took');
  t.ok(value('sluice_data_dir_free_bytes') > 0);
  t.equal(value('sluice_requests_total\\{api="kafka.ApiVersions",result="ok"\\}'), 1, 'the version probe is a negotiation, not an error');
});
