// A wire fuzzer for the broker's frame decoder, request decoders and batch validator: valid
// requests of every API (a corpus built here) mutated at random from a seed (bit flips, boundary
// values in the size fields, truncation, insertion, deletion, splices and pipelined pairs), and
// plain random bytes. Each input goes on its own connection.
//
// The oracle decodes each input locally with the broker's own frame and meta decoders to know what
// the broker owes: a response per request (none for a decodable acks=0 produce), or a closed
// connection (framing it cannot trust). An input passes when that happens within `answerMs`; a
// request that may legitimately park longer (a fetch with a long maxWaitMs, a group join) passes
// on a closed or still-healthy broker. Anything else — no answer owed, a dead broker — fails the
// run. The caller checks afterwards that the topic holds only whole, CRC-valid batches and what
// the broker's memory did.

import { mkdtempSync, rmSync } from 'node:fs';
import { createConnection } from 'node:net';
import { join } from 'node:path';
import { Admin } from '../../src/client/admin.js';
import { BrokerClient } from '../../src/client/broker-client.js';
import { PartitionLog } from '../../src/storage/partition-log.js';
import { rssMiB, startBenchBroker } from './broker-process.js';
import { ApiKey, decodeFetchRequest, decodeProduceRequest } from '../../src/protocol/messages.js';
import { decodeRequestMeta, decodeResponseMeta, encodeRequest } from '../../src/protocol/codec.js';
import { FrameDecoder, FramingError } from '../../src/protocol/frame.js';
import { encodeRecordBatch } from '../../src/protocol/record-batch.js';
import { fetchBatches, random } from './util.js';

export const FUZZ_TOPIC = 'fuzz';
const GROUP = 'fuzz-group';

export interface WireFuzzOptions {
  port: number;
  inputs: number;
  seed: number;
  /** The broker's --max-frame-bytes (the oracle decodes with the same limit). */
  maxFrameBytes: number;
  concurrency?: number;
  /** How long a response owed may take. */
  answerMs?: number;
  onProgress?: (done: number) => void;
}

export interface WireFuzzReport {
  inputs: number;
  /** Inputs the broker answered with every response owed. */
  answered: number;
  /** Inputs whose connection the broker closed (framing or meta it could not trust). */
  closed: number;
  /** Inputs that could park (long-poll fetch, group join) and were still waiting at the deadline. */
  parked: number;
  /** Responses that carried an error code, and those that did not. */
  errorResponses: number;
  okResponses: number;
  /** Inputs that failed the oracle, with why (the run stops at the first few). */
  failures: string[];
  seconds: number;
}

interface Expectation {
  /** Responses the broker owes before anything else happens. */
  responses: number;
  /** The broker closes the connection: yes (framing or meta it cannot trust), maybe (an acks=0 produce that fails). */
  closes: 'yes' | 'no' | 'maybe';
  /** Some request may legitimately take longer than `answerMs`. */
  mayPark: boolean;
}

/** Valid request frames of every API the fuzzer may send (creates and deletes of real topics excepted). */
export function corpus(): Buffer[] {
  let correlationId = 1;
  const frame = (apiKey: number, body: unknown, data: Buffer = Buffer.alloc(0)) =>
    Buffer.concat([encodeRequest({ apiKey, apiVersion: 0, correlationId: correlationId++, clientId: 'fuzz' }, body, data.length), data]);
  const batch = encodeRecordBatch([
    { key: 'k', value: 'fuzzed value', timestampMs: 1_700_000_000_000, headers: [{ key: 'h', value: Buffer.from('v') }] },
    { key: null, value: Buffer.alloc(100, 7), timestampMs: 1_700_000_000_001 },
  ]);
  const produce = (acks: number) => frame(ApiKey.Produce, { acks, timeoutMs: 1000, partitions: [{ topic: FUZZ_TOPIC, partition: 0, bytes: batch.length }] }, batch);
  const member = { groupId: GROUP, generationId: 1, memberId: 'fuzz-member' };
  return [
    frame(ApiKey.ApiVersions, {}),
    frame(ApiKey.Metadata, { topics: [FUZZ_TOPIC], allowAutoCreate: false }),
    frame(ApiKey.Metadata, { topics: null }),
    produce(1),
    produce(-1),
    produce(0),
    frame(ApiKey.Fetch, { maxWaitMs: 0, minBytes: 1, maxBytes: 65536, partitions: [{ topic: FUZZ_TOPIC, partition: 0, offset: 0n, maxBytes: 32768 }] }),
    frame(ApiKey.Fetch, { maxWaitMs: 50, minBytes: 1, maxBytes: 1 << 20, partitions: [{ topic: FUZZ_TOPIC, partition: 0, offset: 2n, maxBytes: 1 << 20 }] }),
    frame(ApiKey.ListOffsets, { partitions: [{ topic: FUZZ_TOPIC, partition: 0, timestamp: -1n }, { topic: FUZZ_TOPIC, partition: 0, timestamp: 1_700_000_000_000n }] }),
    frame(ApiKey.FindCoordinator, { groupId: GROUP }),
    frame(ApiKey.JoinGroup, { groupId: GROUP, memberId: '', sessionTimeoutMs: 1000, rebalanceTimeoutMs: 1000, protocolType: 'consumer', protocols: [{ name: 'range', metadata: Buffer.from([1, 2, 3]) }] }),
    frame(ApiKey.SyncGroup, { ...member, assignments: { 'fuzz-member': Buffer.from([0]) } }),
    frame(ApiKey.Heartbeat, member),
    frame(ApiKey.LeaveGroup, { groupId: GROUP, memberId: 'fuzz-member' }),
    frame(ApiKey.OffsetCommit, { groupId: GROUP, generationId: -1, memberId: '', offsets: [{ topic: FUZZ_TOPIC, partition: 0, offset: 1n, metadata: 'm' }] }),
    frame(ApiKey.OffsetFetch, { groupId: GROUP, partitions: [{ topic: FUZZ_TOPIC, partition: 0 }] }),
    frame(ApiKey.OffsetFetch, { groupId: GROUP, partitions: null }),
    frame(ApiKey.DescribeGroups, { groups: [GROUP] }),
    frame(ApiKey.ListGroups, {}),
    frame(ApiKey.DeleteTopics, { topics: ['fuzz-no-such-topic'] }),
  ];
}

const INTERESTING_U32 = [0, 1, 4, 5, 8, 0x7f, 0x80, 0xff, 0xffff, 0x10000, 0x7fffffff, 0x80000000, 0xffffffff];

/** A corpus frame (or two) changed in one to four ways; now and then plain random bytes. */
export function mutate(rand: () => number, frames: readonly Buffer[]): Buffer {
  const pick = () => frames[Math.floor(rand() * frames.length)]!;
  const below = (n: number) => Math.floor(rand() * n);
  if (rand() < 0.03) return Buffer.from(Array.from({ length: below(64) }, () => below(256)));
  let input = Buffer.from(pick());
  for (let n = 1 + below(4); n > 0; n--) {
    const len = input.length;
    switch (below(9)) {
      case 0:
        if (len) input[below(len)]! ^= 1 << below(8);
        break;
      case 1:
        if (len) input[below(len)] = below(256);
        break;
      case 2:
        // A size field (frameBytes, metaBytes) or any aligned spot set to a boundary value.
        if (len >= 4) input.writeUInt32BE(INTERESTING_U32[below(INTERESTING_U32.length)]!, Math.min(len - 4, [0, 4, below(len - 3)][below(3)]!));
        break;
      case 3:
        input = input.subarray(0, below(len + 1));
        break;
      case 4: {
        const at = below(len + 1);
        input = Buffer.concat([input.subarray(0, at), Buffer.from(Array.from({ length: 1 + below(16) }, () => below(256))), input.subarray(at)]);
        break;
      }
      case 5: {
        const at = below(len + 1);
        input = Buffer.concat([input.subarray(0, at), input.subarray(Math.min(len, at + 1 + below(32)))]);
        break;
      }
      case 6:
        input = Buffer.concat([input, pick()]); // pipelined
        break;
      case 7: {
        // A MessagePack byte in the meta set to a type marker (map, array, str, bin, ints, nil).
        const markers = [0x80, 0x90, 0xa0, 0xc0, 0xc2, 0xc4, 0xcc, 0xcf, 0xd3, 0xdc, 0xde, 0xdf, 0xff];
        if (len > 8) input[8 + below(len - 8)] = markers[below(markers.length)]!;
        break;
      }
      default:
        if (len) input = Buffer.concat([input.subarray(0, below(len)), pick().subarray(below(pick().length))]);
    }
  }
  return input;
}

/** What the broker owes for `input`, by decoding it the way the broker does. */
export function expectationFor(input: Buffer, maxFrameBytes: number): Expectation {
  const decoder = new FrameDecoder(maxFrameBytes);
  const out: Expectation = { responses: 0, closes: 'no', mayPark: false };
  let events;
  try {
    events = decoder.push(input);
  } catch (err) {
    if (!(err instanceof FramingError)) throw err;
    return { ...out, closes: 'yes' };
  }
  for (const event of events) {
    let header, body;
    try {
      ({ header, body } = decodeRequestMeta(event.meta));
    } catch {
      return { ...out, closes: 'yes' };
    }
    if (event.kind === 'frame' && header.apiVersion === 0 && header.apiKey === ApiKey.Produce) {
      try {
        if (decodeProduceRequest(body, event.data.length).acks === 0) {
          // No response; a failed one closes the connection (the client learns of it no other way).
          out.closes = 'maybe';
          continue;
        }
      } catch {
        // answered with the decode error
      }
    }
    if (event.kind === 'frame' && header.apiKey === ApiKey.Fetch) {
      try {
        if (decodeFetchRequest(body).maxWaitMs > 0) out.mayPark = true;
      } catch {
        // answered with the decode error
      }
    }
    if (header.apiKey === ApiKey.JoinGroup || header.apiKey === ApiKey.SyncGroup) out.mayPark = true;
    out.responses++;
  }
  return out;
}

/** Sends `input` on a fresh connection and classifies what the broker did. */
function probe(port: number, input: Buffer, expected: Expectation, answerMs: number) {
  type Outcome = 'answered' | 'closed' | 'closed early' | 'silent';
  return new Promise<{ outcome: Outcome; errors: number; oks: number }>((resolve) => {
    const socket = createConnection({ host: '127.0.0.1', port });
    const decoder = new FrameDecoder(0xffff_ffff);
    let responses = 0;
    let errors = 0;
    let oks = 0;
    let settled = false;
    const finish = (outcome: Outcome) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      resolve({ outcome, errors, oks });
    };
    const timer = setTimeout(() => finish('silent'), answerMs);
    // All responses owed are in: done, after a grace period in which an acks=0 failure may close.
    const owedIn = () => {
      if (responses < expected.responses || expected.closes === 'yes') return;
      if (expected.closes === 'maybe') setTimeout(() => finish('answered'), 50);
      else finish('answered');
    };
    socket.on('connect', () => {
      socket.write(input);
      owedIn();
    });
    socket.on('data', (chunk) => {
      for (const event of decoder.push(chunk)) {
        responses++;
        const { body } = decodeResponseMeta(event.meta);
        if ((body as { error?: unknown } | null)?.error) errors++;
        else oks++;
      }
      owedIn();
    });
    const closed = () => finish(expected.closes !== 'no' || responses >= expected.responses ? 'closed' : 'closed early');
    socket.on('error', closed);
    socket.on('close', closed);
  });
}

/** Whether the broker answers an ApiVersions request within a second. */
async function healthy(port: number): Promise<boolean> {
  const frames = corpus();
  const r = await probe(port, frames[0]!, { responses: 1, closes: 'no', mayPark: false }, 1000);
  return r.outcome === 'answered';
}

export async function runWireFuzz(options: WireFuzzOptions): Promise<WireFuzzReport> {
  const frames = corpus();
  const rand = random(options.seed);
  const answerMs = options.answerMs ?? 2000;
  const report: WireFuzzReport = { inputs: 0, answered: 0, closed: 0, parked: 0, errorResponses: 0, okResponses: 0, failures: [], seconds: 0 };
  const started = performance.now();
  let next = 0;
  const worker = async () => {
    while (next < options.inputs && report.failures.length < 5) {
      const i = next++;
      const input = mutate(rand, frames);
      const expected = expectationFor(input, options.maxFrameBytes);
      const r = await probe(options.port, input, expected, answerMs);
      report.inputs++;
      report.errorResponses += r.errors;
      report.okResponses += r.oks;
      if (r.outcome === 'answered') report.answered++;
      else if (r.outcome === 'closed') report.closed++;
      else if (r.outcome === 'silent' && expected.mayPark && (await healthy(options.port))) report.parked++;
      else {
        const what = r.outcome === 'silent' ? `no answer in ${answerMs} ms` : 'the connection closed before them';
        report.failures.push(`input ${i} (${input.length} B: ${input.subarray(0, 64).toString('hex')}...): owed ${expected.responses} responses${expected.closes === 'yes' ? ' or a close' : ''}, ${what}`);
      }
      if (report.inputs % 1000 === 0) options.onProgress?.(report.inputs);
    }
  };
  await Promise.all(Array.from({ length: options.concurrency ?? 16 }, worker));
  if (!(await healthy(options.port))) report.failures.push('the broker stopped answering');
  report.seconds = (performance.now() - started) / 1000;
  return report;
}

export interface BrokerFuzzReport extends WireFuzzReport {
  seed: number;
  /** Largest broker resident set seen while fuzzing, and at the start. */
  peakRssMiB: number;
  startRssMiB: number;
  /** Batches the topic holds afterwards (all whole and CRC-valid, offsets contiguous). */
  batchesWritten: number;
  /** What PartitionLog.verify found in the topic after the broker stopped. */
  indexProblems: string[];
}

const FUZZ_MAX_FRAME_BYTES = 1024 * 1024;

/** Runs the wire fuzzer against a fresh broker in `dir`, then checks what it left on disk. */
export async function fuzzBroker(dir: string, options: Omit<WireFuzzOptions, 'port' | 'maxFrameBytes'>): Promise<BrokerFuzzReport> {
  const dataDir = mkdtempSync(join(dir, 'sluice-fuzz-'));
  try {
    const broker = await startBenchBroker(dataDir, 'sendfile', ['--max-frame-bytes', String(FUZZ_MAX_FRAME_BYTES), '--group-initial-rebalance-delay-ms', '0', '--group-min-session-timeout-ms', '100']);
    let peakRssMiB = 0;
    let startRssMiB = 0;
    let batchesWritten = 0;
    try {
      const admin = new Admin({ broker: `127.0.0.1:${broker.port}` });
      await admin.createTopic(FUZZ_TOPIC, { partitions: 1 });
      await admin.close();
      startRssMiB = rssMiB(broker.proc.pid!);
      const sampler = setInterval(() => (peakRssMiB = Math.max(peakRssMiB, rssMiB(broker.proc.pid!))), 200);
      const report = await runWireFuzz({ ...options, port: broker.port, maxFrameBytes: FUZZ_MAX_FRAME_BYTES }).finally(() => clearInterval(sampler));
      batchesWritten = await readWhole(broker.port);
      await broker.stop();
      const log = await PartitionLog.open(join(dataDir, `${FUZZ_TOPIC}-0`));
      const indexProblems = log.verify();
      await log.close();
      return { ...report, seed: options.seed, peakRssMiB, startRssMiB, batchesWritten, indexProblems };
    } finally {
      if (broker.proc.exitCode === null && broker.proc.signalCode === null) broker.proc.kill('SIGKILL');
    }
  } finally {
    rmSync(dataDir, { recursive: true, force: true });
  }
}

/** Reads the fuzz topic from the start: every batch must decode (CRC) with contiguous offsets. Returns the batch count. */
async function readWhole(port: number): Promise<number> {
  const client = new BrokerClient({ broker: `127.0.0.1:${port}` });
  try {
    let offset = 0n;
    let batches = 0;
    for (;;) {
      const fetched = await fetchBatches(client, FUZZ_TOPIC, 0, offset);
      if (fetched.length === 0) return batches;
      for (const b of fetched) {
        if (b.baseOffset !== offset) throw new Error(`${FUZZ_TOPIC}: batch at ${b.baseOffset} where ${offset} was expected`);
        offset = b.baseOffset + BigInt(b.lastOffsetDelta) + 1n;
        batches++;
      }
    }
  } finally {
    await client.close();
  }
}
