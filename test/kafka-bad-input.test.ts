// Bad input on the Kafka listener, byte by byte: what parses but names bad things is answered with
// Kafka's error codes and the connection stays open; what cannot be parsed (or an unsupported
// version of anything but ApiVersions, or anything before SASL) closes that connection, as Kafka's
// broker does. The broker stays up, and nothing that was refused is in the log; mutations of the
// requests recorded from real clients do not take it down either.

import t from 'tap';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { random } from './harness/util.js';
import { hashToken } from '../src/auth/access.js';
import { KAFKA_API_VERSIONS, KafkaApi } from '../src/doors/kafka/apis.js';
import type { KafkaWriter } from '../src/protocol/kafka-wire.js';
import { encodeRecordBatch } from '../src/protocol/record-batch.js';
import { createTopic, fetch, startBroker } from './helpers/broker.js';
import { closesEachConnection, produceBody, produceResult, RawKafka } from './helpers/kafka-wire.js';

/** The version table as ApiVersions must carry it, in the table's order. */
const SERVED = KAFKA_API_VERSIONS.map((a) => ({ key: a.apiKey, min: a.minVersion, max: a.maxVersion }));
import { tmpDir } from './helpers/tmp.js';

const batch = (value = 'v') => encodeRecordBatch([{ key: null, value }]);

t.test('ApiVersions v3-v4 (flexible) get the table; a higher version gets error 35 in a v0 body and the connection stays open; v0-v2 get the table', async (t) => {
  const broker = await startBroker(t, { kafka: true });
  const k = await RawKafka.connect(broker.kafkaPort!);
  t.teardown(() => k.close());
  // librdkafka's opening request: header v2 (an empty tag buffer after the client id), then the
  // client's software name and version as compact strings and the body's own empty tag buffer.
  const software = (name: string, version: string) => (w: KafkaWriter) => w.noTaggedFields().compactString(name).compactString(version).noTaggedFields();
  for (const version of [3, 4]) {
    const r = await k.request(KafkaApi.ApiVersions, version, software('librdkafka', '2.0.2'));
    t.equal(r.int16(), 0, `v${version}: no error`);
    const apis = r.compactArray((a) => {
      const api = { key: a.int16(), min: a.int16(), max: a.int16() };
      t.equal(a.taggedFields().size, 0);
      return api;
    });
    t.same(apis, SERVED, `v${version}: the table in compact form`);
    t.same(apis.find((a) => a.key === KafkaApi.ApiVersions), { key: 18, min: 0, max: 4 });
    t.equal(r.int32(), 0, 'throttle time');
    t.equal(r.taggedFields().size, 0, 'no features tagged');
    t.equal(r.remaining, 0, 'the whole body (the response header stays v0 for ApiVersions)');
  }
  const bad = await k.request(KafkaApi.ApiVersions, 3, software('kcat 1.7', '-1'));
  t.equal(bad.int16(), 42, 'INVALID_REQUEST: not a software name KIP-511 allows');
  t.same(bad.compactArray(() => 0), [], 'and no table');
  const v5 = await k.request(KafkaApi.ApiVersions, 5, software('future', '9.9'));
  t.equal(v5.int16(), 35, 'UNSUPPORTED_VERSION above the table');
  t.same(v5.array((a) => [a.int16(), a.int16(), a.int16()]), [[18, 0, 4]], 'with the ApiVersions range it can retry in');
  t.equal(v5.remaining, 0, 'a v0 body');
  for (const version of [0, 1, 2]) {
    const r = await k.request(KafkaApi.ApiVersions, version);
    t.equal(r.int16(), 0);
    const apis = r.array((a) => ({ key: a.int16(), min: a.int16(), max: a.int16() }));
    t.same(apis, SERVED, `v${version} on the same connection: the whole table`);
    t.equal(r.remaining, version >= 1 ? 4 : 0, 'throttle time from v1');
  }
  // A flexible header whose tag buffer lies (a tag past the frame) is malformed: the connection closes.
  k.send(KafkaApi.ApiVersions, 3, (w) => w.uvarint(1).uvarint(0).uvarint(200));
  await k.closed;
  t.pass('a lying header tag buffer closed the connection');
});

t.test('produce and fetch errors are Kafka error codes; nothing refused reaches the log', async (t) => {
  const broker = await startBroker(t, { kafka: true });
  await createTopic(await broker.connect(), 'valid', 1);
  const k = await RawKafka.connect(broker.kafkaPort!);
  t.teardown(() => k.close());

  const corrupt = batch();
  corrupt[corrupt.length - 1]! ^= 0xff;
  t.equal(produceResult(await k.request(KafkaApi.Produce, 3, produceBody('valid', 0, corrupt))).errorCode, 2, 'bad CRC: CORRUPT_MESSAGE');
  t.equal(produceResult(await k.request(KafkaApi.Produce, 3, produceBody('valid', 0, Buffer.concat([batch('a'), batch('b')])))).errorCode, 87, 'two batches: INVALID_RECORD');
  t.equal(produceResult(await k.request(KafkaApi.Produce, 3, produceBody('valid', 0, batch(), 5))).errorCode, 21, 'acks 5: INVALID_REQUIRED_ACKS');
  t.equal(produceResult(await k.request(KafkaApi.Produce, 3, produceBody('valid', 0, null))).errorCode, 2, 'null records: CORRUPT_MESSAGE');
  t.equal(produceResult(await k.request(KafkaApi.Produce, 3, produceBody('nope', 0, batch()))).errorCode, 3, 'unknown topic: UNKNOWN_TOPIC_OR_PARTITION');
  t.equal(produceResult(await k.request(KafkaApi.Produce, 3, produceBody('valid', 7, batch()))).errorCode, 3, 'unknown partition: UNKNOWN_TOPIC_OR_PARTITION');
  const [before] = await fetch(await broker.connect(), [{ topic: 'valid', partition: 0, offset: 0n }]);
  t.equal(before!.highWatermark, 0n, 'none of them appended a byte');
  t.same(produceResult(await k.request(KafkaApi.Produce, 3, produceBody('valid', 0, batch()))), { errorCode: 0, baseOffset: 0n }, 'and a good produce still works');

  const fetchOne = async (topic: string, offset: bigint) => {
    const r = await k.request(KafkaApi.Fetch, 4, (w) => w.int32(-1).int32(0).int32(1).int32(1 << 20).int8(0).int32(1).string(topic).int32(1).int32(0).int64(offset).int32(1 << 20));
    r.int32();
    r.int32();
    r.string();
    r.int32();
    r.int32();
    return { errorCode: r.int16(), highWatermark: r.int64() };
  };
  t.same(await fetchOne('nope', 0n), { errorCode: 3, highWatermark: -1n }, 'fetch of an unknown topic');
  t.same(await fetchOne('valid', 99n), { errorCode: 1, highWatermark: 1n }, 'fetch past the end: OFFSET_OUT_OF_RANGE, with the high watermark it is past');
  t.same(await fetchOne('valid', 0n), { errorCode: 0, highWatermark: 1n }, 'the connection is still open');

  const commit = await k.request(KafkaApi.OffsetCommit, 2, (w) => w.string('g').int32(7).string('ghost').int64(-1n).int32(1).string('valid').int32(1).int32(0).int64(1n).string(null));
  commit.int32();
  commit.string();
  commit.int32();
  commit.int32();
  t.equal(commit.int16(), 25, 'a commit from a member the group does not know: UNKNOWN_MEMBER_ID');
});

t.test('acks=0 gets no response, unless it fails: then the connection closes', async (t) => {
  const broker = await startBroker(t, { kafka: true });
  await createTopic(await broker.connect(), 'quiet', 1);
  const k = await RawKafka.connect(broker.kafkaPort!);
  k.send(KafkaApi.Produce, 3, produceBody('quiet', 0, batch(), 0));
  const metadata = k.send(KafkaApi.Metadata, 0, (w) => w.int32(0));
  t.equal((await k.next()).correlationId, metadata, 'the next response is the Metadata one: the produce was not answered');
  const [p] = await fetch(await broker.connect(), [{ topic: 'quiet', partition: 0, offset: 0n }]);
  t.equal(p!.highWatermark, 1n, 'and it was appended');
  k.send(KafkaApi.Produce, 3, produceBody('no-such-topic', 0, batch(), 0));
  await k.closed;
  t.pass('a failed acks=0 produce closes the connection');
});

t.test('unparseable requests close the connection; the broker stays up', async (t) => {
  const broker = await startBroker(t, { kafka: true });
  const cases: Array<[string, (k: RawKafka) => void]> = [
    ['an unsupported Fetch version', (k) => k.send(KafkaApi.Fetch, 11, (w) => w.int32(-1))],
    ['an unknown API key', (k) => k.send(999, 0)],
    ['a truncated JoinGroup', (k) => k.send(KafkaApi.JoinGroup, 2, (w) => w.string('group').int32(10_000))],
    ['a Metadata request with bytes after its last field', (k) => k.send(KafkaApi.Metadata, 4, (w) => w.int32(-1).boolean(false).int32(42))],
    ['an array count larger than the request', (k) => k.send(KafkaApi.DeleteTopics, 1, (w) => w.int32(0x7fff_ffff))],
    ['a frame over the size limit', (k) => k.writeRaw(Buffer.from([0x7f, 0xff, 0xff, 0xff, 0, 0]))],
    ['a negative frame size', (k) => k.writeRaw(Buffer.from([0xff, 0xff, 0xff, 0xfe]))],
  ];
  await closesEachConnection(broker.kafkaPort!, cases, (what) => t.pass(what));
  const k = await RawKafka.connect(broker.kafkaPort!);
  t.teardown(() => k.close());
  const r = await k.request(KafkaApi.ApiVersions, 2);
  t.equal(r.int16(), 0, 'the broker still answers');
  t.equal(broker.proc.exitCode, null);
});

t.test('with --auth-file the Kafka listener wants SASL PLAIN (principal and token) before anything else', async (t) => {
  const authFile = join(tmpDir(t), 'auth.json');
  writeFileSync(authFile, JSON.stringify({ principals: { alice: { tokenSha256: hashToken('alice-token'), read: ['*'], write: ['mine'], admin: true } } }));
  const broker = await startBroker(t, { kafka: true, args: ['--auth-file', authFile] });

  const early = await RawKafka.connect(broker.kafkaPort!);
  early.send(KafkaApi.Metadata, 4, (w) => w.int32(-1).boolean(false));
  await early.closed;
  t.pass('Metadata before authentication: closed');

  const k = await RawKafka.connect(broker.kafkaPort!);
  t.teardown(() => k.close());
  const handshake = await k.request(KafkaApi.SaslHandshake, 1, (w) => w.string('SCRAM-SHA-256'));
  t.equal(handshake.int16(), 33, 'an unsupported mechanism: UNSUPPORTED_SASL_MECHANISM');
  t.same(handshake.array((m) => m.string()), ['PLAIN'], 'naming the one it has');
  t.equal((await k.request(KafkaApi.SaslHandshake, 1, (w) => w.string('PLAIN'))).int16(), 0);
  const plain = (user: string, password: string) => (w: import('../src/protocol/kafka-wire.js').KafkaWriter) => w.bytes(Buffer.from(`\u0000${user}\u0000${password}`));
  t.equal((await k.request(KafkaApi.SaslAuthenticate, 1, plain('alice', 'wrong'))).int16(), 58, 'a wrong token: SASL_AUTHENTICATION_FAILED');
  t.equal((await k.request(KafkaApi.SaslAuthenticate, 1, plain('mallory', 'alice-token'))).int16(), 58, 'another user\'s token: SASL_AUTHENTICATION_FAILED');
  t.equal((await k.request(KafkaApi.SaslAuthenticate, 1, plain('alice', 'alice-token'))).int16(), 0, 'authenticated');

  const create = await k.request(KafkaApi.CreateTopics, 2, (w) => w.int32(2).string('mine').int32(1).int16(1).int32(0).int32(0).string('theirs').int32(1).int16(-1).int32(0).int32(0).int32(5000).boolean(false));
  create.int32();
  t.same(create.array((x) => [x.string(), x.int16(), x.nullableString()]), [['mine', 0, null], ['theirs', 0, null]], 'CreateTopics as an admin');
  t.equal(produceResult(await k.request(KafkaApi.Produce, 3, produceBody('theirs', 0, batch()))).errorCode, 29, 'no write permission: TOPIC_AUTHORIZATION_FAILED');
  t.equal(produceResult(await k.request(KafkaApi.Produce, 3, produceBody('mine', 0, batch()))).errorCode, 0, 'write permission: appended');
});

t.test('mutated requests recorded from kafkajs, kcat and @platformatic/kafka never take the broker down', async (t) => {
  const broker = await startBroker(t, { kafka: true, args: ['--auto-create-topics'] });
  await createTopic(await broker.connect(), 'fixture', 2);
  // Topic creation and deletion are left out: a mutation could ask for thousands of partitions.
  const skip = new Set<number>([KafkaApi.CreateTopics, KafkaApi.DeleteTopics]);
  const clients = ['kafkajs', 'kcat', 'platformatic'];
  const requests = clients.flatMap((name) =>
    (JSON.parse(readFileSync(new URL(`./fixtures/kafka/${name}.json`, import.meta.url), 'utf8')) as { exchanges: Array<{ apiKey: number; request: string }> }).exchanges
      .filter((e) => !skip.has(e.apiKey))
      .map((e) => ({ client: name, frame: Buffer.from(e.request, 'hex') })),
  );
  const next = random(Number(process.env.SLUICE_KAFKA_FUZZ_SEED ?? 8)); // another seed for a long run
  let answered = 0;
  let closed = 0;
  const drawn = new Map<string, number>();
  // 400 in CI (a few seconds: most are answered or closed at once, parked ones cost 200 ms); more for a long run.
  const INPUTS = Number(process.env.SLUICE_KAFKA_FUZZ_INPUTS ?? 400);
  for (let i = 0; i < INPUTS; i++) {
    const request = requests[Math.floor(next() * requests.length)]!;
    drawn.set(request.client, (drawn.get(request.client) ?? 0) + 1);
    const input = Buffer.from(request.frame);
    // Flip 1-4 bytes after the size field (the header included), keeping the frame's length.
    for (let f = 1 + Math.floor(next() * 4); f > 0; f--) {
      const at = 4 + Math.floor(next() * (input.length - 4));
      input[at] = input[at]! ^ (1 + Math.floor(next() * 255));
    }
    const k = await RawKafka.connect(broker.kafkaPort!);
    k.writeRaw(input);
    const outcome = await Promise.race([k.next().then(() => 'answered', () => 'closed'), k.closed.then(() => 'closed'), new Promise((r) => setTimeout(() => r('pending'), 200))]);
    if (outcome === 'answered') answered++;
    else if (outcome === 'closed') closed++;
    k.close();
  }
  t.same(clients.filter((c) => !(drawn.get(c)! > 0)), [], `every client's requests were mutated (${[...drawn].map(([c, n]) => `${c} ${n}`).join(', ')})`);
  t.ok(answered > 0, `${INPUTS} mutated requests: ${answered} answered (a Kafka error or a result, the connection open)`);
  t.ok(closed > 0, `${closed} closed (unparseable), the rest (${INPUTS - answered - closed}) parked (joins, long polls)`);
  const k = await RawKafka.connect(broker.kafkaPort!);
  t.teardown(() => k.close());
  t.equal((await k.request(KafkaApi.ApiVersions, 2)).int16(), 0, 'the broker still answers');
  t.equal(broker.proc.exitCode, null, 'and never exited');
  t.notMatch(broker.stderr(), /Error|uncaught/i, 'nothing on stderr');
  const unexpected = broker.lines.filter((l) => typeof l === 'object' && /^Kafka (handler|decoder) failed unexpectedly$/.test(String(l.msg)));
  t.equal(unexpected.length, 0, 'no decoder or handler failed unexpectedly');
});
