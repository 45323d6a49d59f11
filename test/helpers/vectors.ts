// The golden vectors' meanings: one request and one response per API, plus error responses. The
// files in protocol/vectors/ hold each meaning with its exact frame bytes; `SLUICE_WRITE_VECTORS=1
// tap test/protocol-vectors.test.ts` rewrites them (only when the protocol changes on purpose).
// In the JSON, 64-bit integers are {"$bigint": "<decimal>"} because JSON numbers cannot hold them.

import { ApiKey, API_VERSIONS } from '../../src/protocol/messages.js';
import { encodeRecordBatch } from '../../src/protocol/record-batch.js';

export interface VectorCase {
  name: string;
  description: string;
  kind: 'request' | 'response' | 'push';
  /** Requests: [apiKey, apiVersion, correlationId, clientId]. Responses: correlationId. Pushes: none. */
  header: { apiKey: number; apiVersion: number; correlationId: number; clientId: string | null } | { correlationId: number } | Record<string, never>;
  body: unknown;
  data: Buffer;
}

const batch = encodeRecordBatch(
  [
    { key: 'user-1', value: 'hello', timestampMs: 1_700_000_000_000, headers: { source: 'vectors' } },
    { key: null, value: 'world', timestampMs: 1_700_000_000_005 },
  ],
  { baseTimestampMs: 1_700_000_000_000 },
);
const stored = Buffer.from(batch);
stored.writeBigInt64BE(42n, 0); // as the log stamps it: base offset 42

const req = (apiKey: number, correlationId: number) => ({ apiKey, apiVersion: 0, correlationId, clientId: 'vectors' });
const none = Buffer.alloc(0);

export const VECTOR_CASES: VectorCase[] = [
  { name: 'api-versions-request', description: 'ApiVersions v0 request', kind: 'request', header: req(ApiKey.ApiVersions, 1), body: {}, data: none },
  {
    name: 'api-versions-response',
    description: 'ApiVersions v0 response: the version table and the broker release',
    kind: 'response',
    header: { correlationId: 1 },
    body: { apis: API_VERSIONS, broker: { software: 'sluice', version: '0.1.0' } },
    data: none,
  },
  { name: 'metadata-request', description: 'Metadata v0 request for one topic, allowing auto-create', kind: 'request', header: req(ApiKey.Metadata, 2), body: { topics: ['orders'], allowAutoCreate: true }, data: none },
  {
    name: 'metadata-response',
    description: 'Metadata v0 response: one broker, one topic with two partitions, one unknown topic',
    kind: 'response',
    header: { correlationId: 2 },
    body: {
      clusterId: 'sluice',
      controllerId: 0,
      brokers: [{ nodeId: 0, host: '127.0.0.1', port: 9292 }],
      topics: [
        { name: 'orders', partitions: [{ partition: 0, leader: 0, highWatermark: 44n, logStartOffset: 0n }, { partition: 1, leader: 0, highWatermark: 0n, logStartOffset: 0n }] },
        { name: 'missing', error: { code: 'UNKNOWN_TOPIC_OR_PARTITION', message: 'topic missing does not exist' }, partitions: [] },
      ],
    },
    data: none,
  },
  {
    name: 'create-topics-request',
    description: 'CreateTopics v0 request: two partitions, one day of retention',
    kind: 'request',
    header: req(ApiKey.CreateTopics, 3),
    body: { topics: [{ name: 'orders', partitions: 2, config: { retentionMs: 86_400_000, cleanupPolicy: 'delete' } }], validateOnly: false },
    data: none,
  },
  {
    name: 'create-topics-response',
    description: 'CreateTopics v0 response: one created, one that already existed',
    kind: 'response',
    header: { correlationId: 3 },
    body: { topics: [{ name: 'orders' }, { name: 'audit', error: { code: 'TOPIC_ALREADY_EXISTS', message: 'topic audit already exists' } }] },
    data: none,
  },
  { name: 'delete-topics-request', description: 'DeleteTopics v0 request', kind: 'request', header: req(ApiKey.DeleteTopics, 4), body: { topics: ['orders'] }, data: none },
  { name: 'delete-topics-response', description: 'DeleteTopics v0 response', kind: 'response', header: { correlationId: 4 }, body: { topics: [{ name: 'orders' }] }, data: none },
  {
    name: 'produce-request',
    description: 'Produce v0 request, acks=all: one RecordBatch v2 of two records (keys, a header) for orders-0 carried raw after the meta',
    kind: 'request',
    header: req(ApiKey.Produce, 5),
    body: { acks: -1, timeoutMs: 30_000, partitions: [{ topic: 'orders', partition: 0, bytes: batch.length }] },
    data: batch,
  },
  {
    name: 'produce-response',
    description: 'Produce v0 response: offsets 42 and 43 assigned',
    kind: 'response',
    header: { correlationId: 5 },
    body: { partitions: [{ topic: 'orders', partition: 0, baseOffset: 42n, lastOffset: 43n, logAppendTimeMs: 1_700_000_000_010, logStartOffset: 0n }] },
    data: none,
  },
  {
    name: 'fetch-request',
    description: 'Fetch v0 request: long-poll up to 500 ms for at least 1 byte of orders-0 from offset 42',
    kind: 'request',
    header: req(ApiKey.Fetch, 6),
    body: { maxWaitMs: 500, minBytes: 1, maxBytes: 52_428_800, partitions: [{ topic: 'orders', partition: 0, offset: 42n, maxBytes: 1_048_576 }] },
    data: none,
  },
  {
    name: 'fetch-response',
    description: 'Fetch v0 response: the stored batch (base offset 42) for orders-0 after the meta, and an out-of-range error for orders-1',
    kind: 'response',
    header: { correlationId: 6 },
    body: {
      partitions: [
        { topic: 'orders', partition: 0, highWatermark: 44n, logStartOffset: 0n, bytes: stored.length },
        { topic: 'orders', partition: 1, highWatermark: 0n, logStartOffset: 0n, bytes: 0, error: { code: 'OFFSET_OUT_OF_RANGE', message: 'offset 7 is outside the log [0, 0]' } },
      ],
    },
    data: stored,
  },
  {
    name: 'list-offsets-request',
    description: 'ListOffsets v0 request: earliest, latest and by time',
    kind: 'request',
    header: req(ApiKey.ListOffsets, 7),
    body: { partitions: [{ topic: 'orders', partition: 0, timestamp: -2n }, { topic: 'orders', partition: 0, timestamp: -1n }, { topic: 'orders', partition: 0, timestamp: 1_700_000_000_000n }] },
    data: none,
  },
  {
    name: 'list-offsets-response',
    description: 'ListOffsets v0 response',
    kind: 'response',
    header: { correlationId: 7 },
    body: { partitions: [{ topic: 'orders', partition: 0, offset: 0n }, { topic: 'orders', partition: 0, offset: 44n }, { topic: 'orders', partition: 0, offset: 42n }] },
    data: none,
  },
  {
    name: 'delete-records-request',
    description: 'DeleteRecords v0 request: one partition to offset 40, another to its high watermark (-1)',
    kind: 'request',
    header: req(ApiKey.DeleteRecords, 30),
    body: { partitions: [{ topic: 'orders', partition: 0, offset: 40n }, { topic: 'orders', partition: 1, offset: -1n }] },
    data: none,
  },
  {
    name: 'delete-records-response',
    description: 'DeleteRecords v0 response: the new log starts (low watermarks), one partition past its end',
    kind: 'response',
    header: { correlationId: 30 },
    body: {
      partitions: [
        { topic: 'orders', partition: 0, lowWatermark: 40n },
        { topic: 'orders', partition: 1, error: { code: 'OFFSET_OUT_OF_RANGE', message: 'offset 9 is outside the log [0, 5]' } },
      ],
    },
    data: none,
  },
  {
    name: 'join-group-request',
    description: 'JoinGroup v0 request of a new member offering the range and roundrobin strategies (Sluice client metadata: MessagePack { topics })',
    kind: 'request',
    header: req(ApiKey.JoinGroup, 9),
    body: {
      groupId: 'billing',
      memberId: '',
      sessionTimeoutMs: 30_000,
      rebalanceTimeoutMs: 60_000,
      protocolType: 'consumer',
      protocols: [
        { name: 'range', metadata: Buffer.from('81a6746f7069637391a66f7264657273', 'hex') },
        { name: 'roundrobin', metadata: Buffer.from('81a6746f7069637391a66f7264657273', 'hex') },
      ],
    },
    data: none,
  },
  {
    name: 'join-group-response',
    description: 'JoinGroup v0 response to the leader: generation 3, its own subscription in members',
    kind: 'response',
    header: { correlationId: 9 },
    body: {
      generationId: 3,
      protocolName: 'range',
      leaderId: 'vectors-4f1c',
      memberId: 'vectors-4f1c',
      members: [{ memberId: 'vectors-4f1c', metadata: Buffer.from('81a6746f7069637391a66f7264657273', 'hex') }],
    },
    data: none,
  },
  {
    name: 'offset-commit-request',
    description: 'OffsetCommit v0 request of a member of generation 3',
    kind: 'request',
    header: req(ApiKey.OffsetCommit, 10),
    body: { groupId: 'billing', generationId: 3, memberId: 'vectors-4f1c', offsets: [{ topic: 'orders', partition: 0, offset: 44n, metadata: null }] },
    data: none,
  },
  {
    name: 'error-response',
    description: 'A request that failed as a whole (here a field of the wrong type): nothing was done',
    kind: 'response',
    header: { correlationId: 8 },
    body: { error: { code: 'INVALID_REQUEST', message: 'fetch.partitions[0].offset must be a 64-bit integer' } },
    data: none,
  },
  { name: 'subscribe-request', description: 'Subscribe v0 request: stream partition 0 of orders from offset 42, with 1 MiB of credit', kind: 'request', header: req(ApiKey.Subscribe, 9), body: { topic: 'orders', partition: 0, offset: 42n, windowBytes: 1_048_576 }, data: none },
  {
    name: 'subscribe-response',
    description: 'Subscribe v0 response: subscription 1, with the partition\'s offsets',
    kind: 'response',
    header: { correlationId: 9 },
    body: { subscriptionId: 1, highWatermark: 44n, logStartOffset: 0n },
    data: none,
  },
  {
    name: 'push',
    description: 'A push of subscription 1 (meta [nil, body]): one stored batch of 2 records at offset 42, the next push starts at 44',
    kind: 'push',
    header: {},
    body: { subscriptionId: 1, highWatermark: 44n, logStartOffset: 0n, nextOffset: 44n, bytes: stored.length },
    data: stored,
  },
  {
    name: 'push-end',
    description: 'The last push of subscription 1: its topic was deleted',
    kind: 'push',
    header: {},
    body: { subscriptionId: 1, highWatermark: -1n, logStartOffset: -1n, bytes: 0, error: { code: 'UNKNOWN_TOPIC_OR_PARTITION', message: 'orders-0 was deleted or the broker is stopping' } },
    data: none,
  },
  { name: 'credit-request', description: 'Credit v0 request (no response): 512 KiB more for subscription 1', kind: 'request', header: req(ApiKey.Credit, 10), body: { subscriptionId: 1, bytes: 524_288 }, data: none },
  { name: 'unsubscribe-request', description: 'Unsubscribe v0 request', kind: 'request', header: req(ApiKey.Unsubscribe, 11), body: { subscriptionId: 1 }, data: none },
];

/** JSON with bigints as {"$bigint": "..."} and binary as {"$hex": "..."}. */
export function toJson(value: unknown): string {
  return JSON.stringify(
    value,
    (_, v: unknown) => {
      if (typeof v === 'bigint') return { $bigint: v.toString() };
      // Buffer's own toJSON has already run: { type: 'Buffer', data: [...] }.
      if (v !== null && typeof v === 'object' && (v as { type?: unknown }).type === 'Buffer' && Array.isArray((v as { data?: unknown }).data)) {
        return { $hex: Buffer.from((v as { data: number[] }).data).toString('hex') };
      }
      return v;
    },
    2,
  );
}

export function fromJson(text: string): unknown {
  return JSON.parse(text, (_, v: unknown) => {
    if (v === null || typeof v !== 'object') return v;
    if ('$bigint' in v) return BigInt((v as { $bigint: string }).$bigint);
    if ('$hex' in v) return Buffer.from((v as { $hex: string }).$hex, 'hex');
    return v;
  });
}
