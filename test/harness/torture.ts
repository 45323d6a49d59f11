// Crash consistency under SIGKILL: the loop behind test/crash-loop.test.ts and `npm run torture`.
//
// Each cycle starts the broker on the same data directory (now and then killing it once during
// start-up first, so recovery itself is interrupted), checks everything the last cycle left, then
// runs producers (acks=all, or acks=1 with the broker flushing on an interval) and an offset
// committer against it until a SIGKILL at a random moment. Producers do not retry (retries: 0),
// so a record is sent once: acknowledged records must be there exactly once, unacknowledged ones
// at most once.
//
// A check reads every partition from where the last check ended (from the start every
// `fullCheckEvery` cycles and at the end) and asserts: offsets contiguous, every batch's CRC, each
// value what its key says it must be, each producer's records in send order and none twice, every
// acknowledged record at the offset its ack named, the high watermark never below the last
// check's, and the records already checked unchanged (a running SHA-256 of keys by offset). Then
// sampled fetches at acknowledged offsets must start with that record (offset index), ListOffsets
// by a sampled timestamp must land on a batch at or before it that reaches that time (time index),
// and the group's committed offsets must be at least the last acknowledged commit and at most the
// high watermark. After the last cycle the partitions are opened natively and their indexes
// verified against the segment bytes (`PartitionLog.verify`).

import { createHash, type Hash } from 'node:crypto';
import { once } from 'node:events';
import { join } from 'node:path';
import { Admin } from '../../src/client/admin.js';
import { BrokerClient, sleep } from '../../src/client/broker-client.js';
import { Producer } from '../../src/client/producer.js';
import { ApiKey, type ListOffsetsResponse } from '../../src/protocol/messages.js';
import type { OffsetCommitResponse, OffsetFetchResponse } from '../../src/protocol/group-messages.js';
import { PartitionLog } from '../../src/storage/partition-log.js';
import { spawnBroker, startBenchBroker, type BenchBroker } from './broker-process.js';
import { fetchBatches, random } from './util.js';
import type { DecodedBatch, DecodedRecord } from '../../src/protocol/record-batch.js';

export const TORTURE_TOPIC = 'torture';
export const TORTURE_GROUP = 'torture-committer';

export interface TortureOptions {
  /** A fresh or earlier torture data directory (runs continue where the last one stopped). */
  dataDir: string;
  cycles: number;
  /** 1: acknowledged once in the page cache (with `flushIntervalMs` set on the broker); -1: fsynced. */
  acks: 1 | -1;
  flushIntervalMs?: number;
  partitions?: number;
  producers?: number;
  /** The broker is killed this long after producers start: uniform in [min, max] ms. */
  runMs?: [number, number];
  /** Read every partition from the start this often (other checks read what is new). */
  fullCheckEvery?: number;
  /** Largest record value; sizes are uniform in [0, maxValueBytes]. */
  maxValueBytes?: number;
  segmentBytes?: number;
  seed?: number;
  onCycle?: (report: CycleReport) => void;
  /**
   * Runs after each kill, before the restart, with the greatest offset acknowledged in this cycle
   * per partition (-1 for none): a test damages the log here to see a check fail.
   */
  afterKill?: (cycle: number, lastAcked: readonly bigint[]) => Promise<void>;
}

export interface CycleReport {
  cycle: number;
  /** Records acknowledged in this cycle (the next cycle's check finds each where its ack said). */
  acked: number;
  /** Records whose send failed when the broker died (present at most once). */
  unacked: number;
  /** Records in the topic after the check. */
  records: bigint;
  /** Log tail bytes the broker's recovery dropped (from its log). */
  truncatedBytes: number;
  /** Killed once more while starting, before it was ready. */
  killedInStartup: boolean;
  restartMs: number;
  checkMs: number;
  fullCheck: boolean;
}

export interface TortureReport {
  cycles: number;
  acked: number;
  unacked: number;
  records: bigint;
  truncatedBytes: number;
  startupKills: number;
  /** Problems `PartitionLog.verify` found after the last cycle (empty when consistent). */
  indexProblems: string[];
  seed: number;
}

/** Thrown when a check finds the log broken; the message says where and how. */
export class ConsistencyError extends Error {}

/** The value a key must carry: `length` bytes derived from the key, so any corruption shows. */
export function valueFor(key: string, length: number): Buffer {
  const seed = createHash('sha256').update(key).digest();
  const value = Buffer.allocUnsafe(length);
  for (let i = 0; i < length; i++) value[i] = seed[i % 32]! ^ (i & 0xff);
  return value;
}

export interface Ack {
  partition: number;
  offset: bigint;
}

/** Per partition: what the checks have established so far. */
export interface Checked {
  /** Offsets below this were checked... */
  upTo: bigint;
  /** ...and hashed (their keys, in offset order) to this digest... */
  digest: string;
  /** ...with this running hash and per-producer position, to go on from there. */
  hash: Hash;
  lastByProducer: Map<number, [number, number]>;
}

/** Cycle, producer and sequence number of a record, from its key `cycle.producer.seq`. */
export function parseKey(key: string): [number, number, number] | null {
  const parts = key.split('.');
  if (parts.length !== 3) return null;
  const n = parts.map(Number);
  return n.every(Number.isSafeInteger) ? (n as [number, number, number]) : null;
}

export function fresh(): Checked {
  return { upTo: 0n, digest: createHash('sha256').digest('hex'), hash: createHash('sha256'), lastByProducer: new Map() };
}

/** One partition's check, record by record: where it is, what was checked before, the acknowledgements not found yet. */
export interface RecordContext {
  where: string;
  partition: number;
  state: Checked;
  /** Acknowledged records not found yet, by key; each is removed where it is found. */
  remaining: Map<string, Ack>;
}

/**
 * Checks one record (see the top comment: a key a producer wrote, its value intact, after that
 * producer's earlier records, at its acknowledged place) and adds its key to the running hash.
 * Returns whether it was an acknowledged record.
 */
export function checkRecord(c: RecordContext, r: DecodedRecord): boolean {
  const { where, state } = c;
  const offset = r.offset;
  const key = r.key?.toString() ?? '';
  const parsed = parseKey(key);
  if (!parsed) throw new ConsistencyError(`${where}: offset ${offset} has a key "${key}" no producer wrote`);
  if (!r.value || !valueFor(key, r.value.length).equals(r.value)) throw new ConsistencyError(`${where}: offset ${offset} (${key}) has a damaged value`);
  const [cycle, producer, seq] = parsed;
  const last = state.lastByProducer.get(producer);
  if (last && (cycle < last[0] || (cycle === last[0] && seq <= last[1]))) {
    throw new ConsistencyError(`${where}: offset ${offset} (${key}) comes after ${last.join('.')} of the same producer (a duplicate or a reorder)`);
  }
  state.lastByProducer.set(producer, [cycle, seq]);
  state.hash.update(key).update('\n');
  const ack = c.remaining.get(key);
  if (!ack) return false;
  if (ack.partition !== c.partition || ack.offset !== offset) throw new ConsistencyError(`${key} was acknowledged at ${TORTURE_TOPIC}-${ack.partition}@${ack.offset}, found at ${where}@${offset}`);
  c.remaining.delete(key);
  return true;
}

/**
 * Reads the records at offsets [from, to) through `fetch`, batch by batch, and hands each to
 * `visit` with its batch; throws where an offset is missing (a gap, or nothing served below `to`).
 */
export async function readRecords(fetch: (offset: bigint) => Promise<DecodedBatch[]>, where: string, from: bigint, to: bigint, visit: (r: DecodedRecord, batch: DecodedBatch) => void): Promise<void> {
  let offset = from;
  while (offset < to) {
    const batches = await fetch(offset);
    if (batches.length === 0) throw new ConsistencyError(`${where}: a fetch at ${offset} below ${to} returned nothing`);
    for (const batch of batches) {
      for (const r of batch.records) {
        if (r.offset < offset) continue; // the first batch may start before the offset asked for
        if (r.offset >= to) return;
        if (r.offset !== offset) throw new ConsistencyError(`${where}: offset ${r.offset} follows ${offset - 1n} (a gap)`);
        visit(r, batch);
        offset++;
      }
    }
  }
}

export interface PartitionCheck {
  fetch: (offset: bigint) => Promise<DecodedBatch[]>;
  where: string;
  partition: number;
  /** What the checks before established. */
  prior: Checked;
  /** Read from offset 0 and hold the records below `prior.upTo` to its digest; else read on from there. */
  full: boolean;
  highWatermark: bigint;
  remaining: Map<string, Ack>;
  /** Sees each record read, after its check. */
  visit?: (r: DecodedRecord, batch: DecodedBatch, acked: boolean) => void;
}

/** Checks one partition's records up to its high watermark (each by `checkRecord`); returns what is established then. */
export async function checkPartition(x: PartitionCheck): Promise<Checked> {
  const { where, prior } = x;
  if (x.highWatermark < prior.upTo) throw new ConsistencyError(`${where}: high watermark ${x.highWatermark} is below the ${prior.upTo} records already checked`);
  const state = x.full ? fresh() : prior;
  const matchPrior = () => {
    if (state.hash.copy().digest('hex') !== prior.digest) throw new ConsistencyError(`${where}: the records below offset ${prior.upTo} changed since they were checked`);
  };
  const context: RecordContext = { where, partition: x.partition, state, remaining: x.remaining };
  await readRecords(x.fetch, where, state.upTo, x.highWatermark, (r, batch) => {
    if (x.full && r.offset === prior.upTo) matchPrior();
    const acked = checkRecord(context, r);
    x.visit?.(r, batch, acked);
  });
  if (x.full && prior.upTo === x.highWatermark) matchPrior();
  state.upTo = x.highWatermark;
  state.digest = state.hash.copy().digest('hex');
  return state;
}

/** Throws when acknowledged records were not found (those `checkRecord` left in `remaining`). */
export function missingAcks(remaining: ReadonlyMap<string, Ack>): void {
  if (remaining.size === 0) return;
  const some = [...remaining].slice(0, 5).map(([k, a]) => `${k} at ${TORTURE_TOPIC}-${a.partition}@${a.offset}`);
  throw new ConsistencyError(`${remaining.size} acknowledged records are missing, e.g. ${some.join(', ')}`);
}

export async function runTorture(options: TortureOptions): Promise<TortureReport> {
  const partitions = options.partitions ?? 3;
  const producers = options.producers ?? 2;
  const [minRunMs, maxRunMs] = options.runMs ?? [150, 1500];
  const fullCheckEvery = options.fullCheckEvery ?? 25;
  const maxValueBytes = options.maxValueBytes ?? 2048;
  const seed = options.seed ?? Math.floor(Math.random() * 2 ** 31);
  const rand = random(seed);
  const brokerArgs = ['--segment-bytes', String(options.segmentBytes ?? 1024 * 1024), '--log-level', 'info'];
  if (options.flushIntervalMs !== undefined) brokerArgs.push('--flush-interval-ms', String(options.flushIntervalMs));

  const checked = Array.from({ length: partitions }, fresh);
  const lastAckedCommit = new Array<bigint>(partitions).fill(-1n);
  let acked = new Map<string, Ack>();
  const totals: TortureReport = { cycles: 0, acked: 0, unacked: 0, records: 0n, truncatedBytes: 0, startupKills: 0, indexProblems: [], seed };

  for (let cycle = 0; cycle <= options.cycles; cycle++) {
    const last = cycle === options.cycles;
    const killedInStartup = cycle > 0 && rand() < 0.15;
    if (killedInStartup) {
      await killDuringStartup(options.dataDir, brokerArgs, Math.floor(rand() * 400));
      totals.startupKills++;
    }
    const started = performance.now();
    const broker = await startBenchBroker(options.dataDir, 'sendfile', brokerArgs);
    const restartMs = performance.now() - started;
    const bootstrap = `127.0.0.1:${broker.port}`;
    try {
      if (cycle === 0) await createTopicOnce(bootstrap, partitions);
      const checkStarted = performance.now();
      const full = last || cycle % fullCheckEvery === 0;
      const records = await check({ bootstrap, partitions, checked, acked, lastAckedCommit, full });
      const checkMs = performance.now() - checkStarted;
      const truncatedBytes = droppedBytes(broker.output());
      const report: CycleReport = { cycle, acked: 0, unacked: 0, records, truncatedBytes, killedInStartup, restartMs, checkMs, fullCheck: full };
      totals.records = records;
      totals.truncatedBytes += truncatedBytes;
      if (last) {
        options.onCycle?.(report);
        break;
      }
      acked = new Map();
      const runMs = minRunMs + rand() * (maxRunMs - minRunMs);
      const outcome = await produceUntilKilled({ broker, bootstrap, cycle, producers, partitions, acks: options.acks, runMs, maxValueBytes, rand, acked, lastAckedCommit });
      report.acked = acked.size;
      report.unacked = outcome.unacked;
      totals.acked += acked.size;
      totals.unacked += outcome.unacked;
      totals.cycles = cycle + 1;
      options.onCycle?.(report);
    } finally {
      if (broker.proc.exitCode === null && broker.proc.signalCode === null) {
        broker.proc.kill('SIGKILL');
        await once(broker.proc, 'exit');
      }
    }
    if (!last && options.afterKill) {
      const lastAcked = new Array<bigint>(partitions).fill(-1n);
      for (const a of acked.values()) if (a.offset > lastAcked[a.partition]!) lastAcked[a.partition] = a.offset;
      await options.afterKill(cycle, lastAcked);
    }
  }
  totals.indexProblems = await verifyIndexes(options.dataDir, [...Array.from({ length: partitions }, (_, p) => `${TORTURE_TOPIC}-${p}`), '__consumer_offsets-0']);
  return totals;
}

/** Starts the broker and SIGKILLs it `afterMs` later, ready or still recovering. */
async function killDuringStartup(dataDir: string, args: string[], afterMs: number): Promise<void> {
  const proc = spawnBroker(dataDir, 'sendfile', args);
  proc.stdout!.resume();
  await sleep(afterMs);
  proc.kill('SIGKILL');
  if (proc.exitCode === null && proc.signalCode === null) await once(proc, 'exit');
}

async function createTopicOnce(bootstrap: string, partitions: number): Promise<void> {
  const admin = new Admin({ broker: bootstrap });
  try {
    const topics = await admin.listTopics();
    if (!topics.some((t) => t.name === TORTURE_TOPIC)) await admin.createTopic(TORTURE_TOPIC, { partitions });
  } finally {
    await admin.close();
  }
}

/** Bytes the broker said it dropped from damaged log tails ('truncated a damaged log tail' lines). */
function droppedBytes(output: string): number {
  let bytes = 0;
  for (const line of output.split('\n')) {
    if (!line.includes('truncated a damaged log tail')) continue;
    bytes += Number((JSON.parse(line) as { droppedBytes?: number }).droppedBytes ?? 0);
  }
  return bytes;
}

interface CheckInput {
  bootstrap: string;
  partitions: number;
  checked: Checked[];
  acked: ReadonlyMap<string, Ack>;
  lastAckedCommit: bigint[];
  full: boolean;
}

interface Sample {
  partition: number;
  offset: bigint;
  key: string;
  timestampMs: number;
}

const SAMPLES = 32;

/** Checks every partition (see the top comment); returns the records in the topic. */
async function check(input: CheckInput): Promise<bigint> {
  const client = new BrokerClient({ broker: input.bootstrap, retries: 10 });
  try {
    const highWatermarks = await listOffsets(client, input.partitions, -1n);
    const logStarts = await listOffsets(client, input.partitions, -2n);
    const remaining = new Map(input.acked);
    const samples: Sample[] = [];
    let seen = 0;
    let records = 0n;
    for (let p = 0; p < input.partitions; p++) {
      const hw = highWatermarks[p]!;
      const prior = input.checked[p]!;
      const where = `${TORTURE_TOPIC}-${p}`;
      if (logStarts[p] !== 0n) throw new ConsistencyError(`${where}: the log starts at ${logStarts[p]}, not 0 (nothing deletes in this run)`);
      input.checked[p] = await checkPartition({
        fetch: (offset) => fetchBatches(client, TORTURE_TOPIC, p, offset),
        where,
        partition: p,
        prior,
        full: input.full,
        highWatermark: hw,
        remaining,
        visit: (r, _batch, acked) => {
          if (!acked) return;
          // Reservoir sampling: every acknowledged record equally likely to be probed.
          const slot = seen++ < SAMPLES ? seen - 1 : Math.floor(Math.random() * seen);
          if (slot < SAMPLES) samples[slot] = { partition: p, offset: r.offset, key: r.key!.toString(), timestampMs: r.timestampMs };
        },
      });
      records += hw;
    }
    missingAcks(remaining);
    await probeIndexes(client, samples);
    await checkCommits(client, input.partitions, highWatermarks, input.lastAckedCommit);
    return records;
  } finally {
    await client.close();
  }
}

async function listOffsets(client: BrokerClient, partitions: number, timestamp: bigint): Promise<bigint[]> {
  const response = await client.call<ListOffsetsResponse>(ApiKey.ListOffsets, {
    partitions: Array.from({ length: partitions }, (_, partition) => ({ topic: TORTURE_TOPIC, partition, timestamp })),
  });
  return response.partitions.map((p) => {
    if (p.error || p.offset == null) throw new ConsistencyError(`ListOffsets(${timestamp}) of ${TORTURE_TOPIC}-${p.partition}: ${p.error?.code ?? 'no offset'}`);
    return p.offset;
  });
}

/**
 * Through the broker's indexes: a fetch at an acknowledged offset starts with the batch holding
 * it (offset index), and the offset ListOffsets gives for a record's timestamp is the first record at
 * or before that one whose timestamp reaches that time (time index, then the batch's records).
 */
async function probeIndexes(client: BrokerClient, samples: readonly Sample[]): Promise<void> {
  for (const s of samples) {
    const where = `${TORTURE_TOPIC}-${s.partition}@${s.offset}`;
    const first = (await fetchBatches(client, TORTURE_TOPIC, s.partition, s.offset, 1))[0];
    const record = first?.records.find((r) => r.offset === s.offset);
    if (!record || record.key?.toString() !== s.key) throw new ConsistencyError(`a fetch at ${where} did not start with the batch holding ${s.key}`);
    const [byTime] = (
      await client.call<ListOffsetsResponse>(ApiKey.ListOffsets, { partitions: [{ topic: TORTURE_TOPIC, partition: s.partition, timestamp: BigInt(s.timestampMs) }] })
    ).partitions;
    const found = byTime?.offset;
    if (found == null || found > s.offset) throw new ConsistencyError(`ListOffsets(${s.timestampMs}) gave ${found} for ${where}, which has that timestamp`);
    // The exact record: the first in its batch whose timestamp reaches the time.
    const batch = (await fetchBatches(client, TORTURE_TOPIC, s.partition, found, 1))[0];
    const at = batch?.records.findIndex((r) => r.offset === found) ?? -1;
    if (!batch || at < 0 || batch.records[at]!.timestampMs < s.timestampMs || batch.records.slice(0, at).some((r) => r.timestampMs >= s.timestampMs)) {
      throw new ConsistencyError(`ListOffsets(${s.timestampMs}) gave ${found}, which is not the first record of its batch reaching that time`);
    }
  }
}

/** Committed offsets: at least the last acknowledged commit, at most the high watermark. */
async function checkCommits(client: BrokerClient, partitions: number, highWatermarks: readonly bigint[], lastAckedCommit: readonly bigint[]): Promise<void> {
  const response = await client.call<OffsetFetchResponse>(ApiKey.OffsetFetch, {
    groupId: TORTURE_GROUP,
    partitions: Array.from({ length: partitions }, (_, partition) => ({ topic: TORTURE_TOPIC, partition })),
  });
  for (const [p, committed] of response.partitions.map((r) => r.offset).entries()) {
    const acked = lastAckedCommit[p]!;
    if (acked >= 0n && (committed === null || committed < acked)) throw new ConsistencyError(`${TORTURE_TOPIC}-${p}: committed offset ${committed} is behind the acknowledged commit ${acked}`);
    if (committed !== null && committed > highWatermarks[p]!) throw new ConsistencyError(`${TORTURE_TOPIC}-${p}: committed offset ${committed} is ahead of the high watermark ${highWatermarks[p]}`);
  }
}

interface ProduceInput {
  broker: BenchBroker;
  bootstrap: string;
  cycle: number;
  producers: number;
  partitions: number;
  acks: 1 | -1;
  runMs: number;
  maxValueBytes: number;
  rand: () => number;
  acked: Map<string, Ack>;
  lastAckedCommit: bigint[];
}

/** How long producers may take to have anything acknowledged before the run goes on without it. */
const FIRST_ACK_TIMEOUT_MS = 10_000;

/** Producers and a committer run until the broker is SIGKILLed `runMs` after their first acknowledgement; then they wind down. */
async function produceUntilKilled(x: ProduceInput): Promise<{ unacked: number }> {
  let stopping = false;
  let unacked = 0;
  const maxAcked = new Array<bigint>(x.partitions).fill(-1n);
  // The kill comes `runMs` after the first acknowledgement, not after the start: producers that
  // are slow to begin (a loaded machine, a first append replaying producer state) still get
  // something acknowledged in every cycle, which the checks need to mean anything.
  let firstAck!: () => void;
  const acknowledged = new Promise<void>((resolve) => (firstAck = resolve));
  const produce = async (id: number) => {
    const producer = new Producer({ broker: x.bootstrap, acks: x.acks, retries: 0, lingerMs: 1, batchBytes: 32 * 1024 });
    const inFlight = new Set<Promise<void>>();
    let seq = 0;
    while (!stopping) {
      // One partition per send(): its records' acks are then all or nothing for the call.
      const partition = Math.floor(x.rand() * x.partitions);
      const keys = Array.from({ length: 1 + Math.floor(x.rand() * 8) }, () => `${x.cycle}.${id}.${seq++}`);
      const records = keys.map((key) => ({ key, value: valueFor(key, Math.floor(x.rand() * (x.maxValueBytes + 1))), partition }));
      const sent: Promise<void> = producer.send(TORTURE_TOPIC, records).then(
        (metas) => {
          firstAck();
          metas.forEach((m, i) => x.acked.set(keys[i]!, { partition, offset: m.offset! }));
          const last = metas[metas.length - 1]!.offset!;
          if (last > maxAcked[partition]!) maxAcked[partition] = last;
        },
        () => {
          unacked += keys.length;
        },
      );
      const tracked = sent.finally(() => inFlight.delete(tracked));
      inFlight.add(tracked);
      if (inFlight.size >= 4) await Promise.race(inFlight);
    }
    await Promise.all(inFlight);
    await producer.close().catch(() => undefined);
  };
  const commit = async () => {
    const client = new BrokerClient({ broker: x.bootstrap, retries: 0 });
    try {
      while (!stopping) {
        await sleep(50);
        const offsets = maxAcked.flatMap((o, partition) => (o >= 0n ? [{ topic: TORTURE_TOPIC, partition, offset: o + 1n, metadata: null }] : []));
        if (offsets.length === 0) continue;
        const response = await client.call<OffsetCommitResponse>(ApiKey.OffsetCommit, { groupId: TORTURE_GROUP, generationId: -1, memberId: '', offsets }).catch(() => null);
        response?.partitions.forEach((r, i) => {
          if (!r.error) x.lastAckedCommit[offsets[i]!.partition] = offsets[i]!.offset;
        });
      }
    } finally {
      await client.close();
    }
  };
  const running = [...Array.from({ length: x.producers }, (_, id) => produce(id)), commit()];
  await Promise.race([acknowledged, sleep(FIRST_ACK_TIMEOUT_MS)]);
  await sleep(x.runMs);
  x.broker.proc.kill('SIGKILL');
  await once(x.broker.proc, 'exit');
  stopping = true;
  await Promise.all(running);
  return { unacked };
}

/** Opens each partition directory (under `dataDir`) natively, recovering it, and verifies its indexes. */
export async function verifyIndexes(dataDir: string, dirs: readonly string[]): Promise<string[]> {
  const problems: string[] = [];
  for (const dir of dirs) {
    const log = await PartitionLog.open(join(dataDir, dir));
    problems.push(...log.verify());
    await log.close();
  }
  return problems;
}
