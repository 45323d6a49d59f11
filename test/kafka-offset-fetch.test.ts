// OffsetFetch on the Kafka listener at every version it serves (v1-v5): a request for all topics
// (null, v2+) answers every committed offset of the group; an empty list answers none (it asked
// for none); a null where the version has no null (v1) is a malformed request, refused by
// closing the connection, never read as "no topics"; the layouts carry the group's error (v2+),
// the throttle time (v3+) and the committed leader epoch (v5).

import t from 'tap';
import { Kafka, logLevel } from 'kafkajs';
import { KafkaApi } from '../src/doors/kafka/apis.js';
import type { KafkaReader, KafkaWriter } from '../src/protocol/kafka-wire.js';
import { startBroker } from './helpers/broker.js';
import { RawKafka } from './helpers/kafka-wire.js';

interface Answer {
  throttle: number | null;
  topics: Array<{ name: string; partitions: Array<{ partition: number; offset: bigint; leaderEpoch: number | null; metadata: string | null; error: number }> }>;
  error: number | null;
}

function read(r: KafkaReader, v: number): Answer {
  const throttle = v >= 3 ? r.int32() : null;
  const topics = r.array((tp) => ({
    name: tp.string(),
    partitions: tp.array((p) => ({ partition: p.int32(), offset: p.int64(), leaderEpoch: v >= 5 ? p.int32() : null, metadata: p.nullableString(), error: p.int16() })),
  }));
  const error = v >= 2 ? r.int16() : null;
  r.end(`OffsetFetch v${v} response`);
  return { throttle, topics, error };
}

/** The request body: a group and its topics, or null (-1) for all of them. */
function request(group: string, topics: Array<[string, number[]]> | null) {
  return (w: KafkaWriter) => w.string(group).array(topics, (w, [name, partitions]) => w.string(name).array(partitions, (w, p) => w.int32(p)));
}

const offsets = (a: Answer) => a.topics.flatMap((t) => t.partitions.map((p) => `${t.name}-${p.partition}@${p.offset}`)).sort();

t.test('OffsetFetch v1-v5: all topics (null), some, none (empty); v1 refuses a null', async (t) => {
  const broker = await startBroker(t, { kafka: true });
  const kafka = new Kafka({ brokers: [`127.0.0.1:${broker.kafkaPort}`], clientId: 'offset-fetch-test', logLevel: logLevel.NOTHING });
  const admin = kafka.admin();
  await admin.connect();
  t.teardown(() => admin.disconnect());
  await admin.createTopics({ topics: [{ topic: 'a', numPartitions: 2 }, { topic: 'b', numPartitions: 1 }] });
  await admin.setOffsets({ groupId: 'g', topic: 'a', partitions: [{ partition: 0, offset: '0' }, { partition: 1, offset: '0' }] });
  await admin.setOffsets({ groupId: 'g', topic: 'b', partitions: [{ partition: 0, offset: '0' }] });
  const raw = await RawKafka.connect(broker.kafkaPort!);
  t.teardown(() => raw.close());

  for (const v of [2, 3, 4, 5]) {
    const all = read(await raw.request(KafkaApi.OffsetFetch, v, request('g', null)), v);
    t.same(offsets(all), ['a-0@0', 'a-1@0', 'b-0@0'], `v${v}: null asks for every committed partition`);
    t.equal(all.error, 0, `v${v}: the group's error`);
    t.equal(all.throttle, v >= 3 ? 0 : null);
    t.ok(all.topics.every((tp) => tp.partitions.every((p) => p.leaderEpoch === (v >= 5 ? -1 : null) && p.error === 0)), `v${v}: per-partition fields`);
    const none = read(await raw.request(KafkaApi.OffsetFetch, v, request('g', [])), v);
    t.same(none.topics, [], `v${v}: an empty list asks for nothing`);
    const some = read(await raw.request(KafkaApi.OffsetFetch, v, request('g', [['a', [1]], ['b', [7]]])), v);
    t.same(offsets(some), ['a-1@0', 'b-7@-1'], `v${v}: the partitions named, -1 where nothing was committed`);
  }
  const unknown = read(await raw.request(KafkaApi.OffsetFetch, 5, request('nobody', null)), 5);
  t.same(unknown, { throttle: 0, topics: [], error: 0 }, 'a group with no commits has none');
  const v1 = read(await raw.request(KafkaApi.OffsetFetch, 1, request('g', [['a', [0, 1]]])), 1);
  t.same(offsets(v1), ['a-0@0', 'a-1@0'], 'v1 names its partitions');

  // v1 has no null: one is malformed, and the connection closes instead of answering "no topics".
  raw.send(KafkaApi.OffsetFetch, 1, request('g', null));
  await raw.closed;
  t.pass('v1 with a null topic list closed the connection');
  // The broker logs why (the line may reach us just after the close does).
  const why = () => broker.lines.find((l) => JSON.stringify(l).includes('topics is null, which this version does not allow'));
  while (!why()) await new Promise((r) => setTimeout(r, 20));
  t.ok(why(), 'the reason is logged');
});
