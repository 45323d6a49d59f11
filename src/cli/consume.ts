// `sluice consume TOPIC`: prints records, byte for byte, from a group's committed offsets, the
// beginning, or an offset spec; exits after --max-messages, --timeout-ms idle, or at the end of
// every partition (--exit-at-end, kcat's -e). A group member counts --timeout-ms only while it has
// partitions (not while it joins the group).
//
// Where to start (`--offset`, kcat's -o): `beginning`, `end`, an offset `N`, `-N` (N before the
// end), `@MS` (the first batch at or after a time), or `committed` (the group's; the default with
// --group). Without --partition it applies to every partition.
//
// With --group, what was printed is committed when it ends, also on SIGINT or SIGTERM, and the
// member leaves the group at once (as kcat does), so the next member does not wait for its session
// to time out.

import { clientOptions } from './client-options.js';
import { once } from 'node:events';
import { Consumer } from '../client/consumer.js';
import { BrokerClient } from '../client/broker-client.js';
import { SluiceError } from '../errors.js';
import { renderer, type Encoding } from './record-format.js';
import { UsageError } from './usage-error.js';

export interface ConsumeFlags {
  broker: string;
  token?: string;
  group?: string;
  fromBeginning?: boolean;
  fromTimestamp?: number;
  partition?: number;
  offset?: string;
  maxMessages?: number;
  timeoutMs?: number;
  exitAtEnd?: boolean;
  format: string;
  encoding: Encoding;
}

type OffsetSpec = { kind: 'committed' } | { kind: 'at'; timestamp: bigint } | { kind: 'offset'; offset: bigint } | { kind: 'fromEnd'; count: bigint };

export async function consumeTopic(topic: string, flags: ConsumeFlags): Promise<void> {
  const render = renderer(flags.format, flags.encoding);
  if (flags.fromTimestamp !== undefined && flags.offset !== undefined) throw new UsageError('--from-timestamp and --offset both say where to start; give one');
  const given = flags.fromTimestamp !== undefined ? parseOffset(`@${flags.fromTimestamp}`) : flags.offset === undefined ? undefined : parseOffset(flags.offset);
  // --exit-at-end must know where each partition starts: the reset policy's end, if no spec says.
  const spec = given ?? (flags.exitAtEnd ? parseOffset(flags.fromBeginning ? 'beginning' : 'end') : undefined);
  if (given && given.kind !== 'committed' && flags.group) throw new UsageError('--group starts at the committed offsets; --offset and --from-timestamp are for consuming without a group');
  if (flags.exitAtEnd && flags.group) throw new UsageError('--exit-at-end reads assigned partitions to their end; use it without --group');
  const client = new BrokerClient(clientOptions(flags));
  let partitions: number[];
  let starts = new Map<number, bigint>();
  let ends = new Map<number, bigint>();
  try {
    // The topic (and the partition asked for) must exist: a consumer would otherwise wait for it in silence.
    const count = await client.partitionCount(topic);
    if (flags.partition !== undefined && flags.partition >= count) {
      throw new SluiceError('UNKNOWN_TOPIC_OR_PARTITION', `${topic} has ${count} partition${count === 1 ? '' : 's'}; there is no partition ${flags.partition}`);
    }
    partitions = flags.partition !== undefined ? [flags.partition] : Array.from({ length: count }, (_, p) => p);
    if (spec && spec.kind !== 'committed') starts = await startOffsets(client, topic, partitions, spec);
    if (flags.exitAtEnd) ends = await listOffsets(client, topic, partitions, -1n);
  } finally {
    await client.close();
  }
  // A group member's --timeout-ms runs while it has partitions: a join can take longer than the
  // timeout (an empty group's first rebalance waits --group-initial-rebalance-delay-ms, 3 s by
  // default), and a member closed in the middle of one is left in the group until its session ends.
  const subscribing = flags.group !== undefined && flags.partition === undefined;
  const consumer = new Consumer({
    ...clientOptions(flags),
    ...(flags.group ? { groupId: flags.group } : {}),
    fromBeginning: flags.fromBeginning === true,
    ...(subscribing ? { onAssigned: () => resetIdle(), onRevoked: () => clearTimeout(idle) } : {}),
  });
  let count = 0;
  /** Per partition, the offset after the last record printed. */
  const printed = new Map<number, { topic: string; partition: number; offset: bigint }>();
  const commitPrinted = async () => {
    if (flags.group && printed.size > 0) await consumer.commit([...printed.values()]).catch(() => undefined);
  };
  /** With --exit-at-end: partitions not yet read to the end they had when the run began. */
  const unfinished = new Set(partitions.filter((p) => (starts.get(p) ?? 0n) < (ends.get(p) ?? 0n)));
  let idle: NodeJS.Timeout | undefined;
  const resetIdle = () => {
    if (flags.timeoutMs === undefined) return;
    clearTimeout(idle);
    idle = setTimeout(() => void consumer.close(), flags.timeoutMs);
  };
  // A signal ends the run as a clean stop: commit, leave the group, exit 0.
  const onSignal = () => {
    clearTimeout(idle);
    void commitPrinted().then(() => consumer.close());
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    if (flags.exitAtEnd && unfinished.size === 0) return;
    if (subscribing) consumer.subscribe([topic]);
    else {
      await consumer.assign(partitions.map((partition) => ({ topic, partition, ...(starts.has(partition) ? { offset: starts.get(partition)! } : {}) })));
      resetIdle();
    }
    outer: for await (const batch of consumer.batches()) {
      resetIdle();
      const out: Buffer[] = [];
      for (const m of batch.messages) {
        out.push(render(m));
        printed.set(m.partition, { topic: m.topic, partition: m.partition, offset: m.offset + 1n });
        if (flags.exitAtEnd && m.offset + 1n >= (ends.get(m.partition) ?? 0n)) unfinished.delete(m.partition);
        if (++count === flags.maxMessages || (flags.exitAtEnd && unfinished.size === 0)) {
          await write(out);
          break outer;
        }
      }
      await write(out);
    }
    // Everything printed counts as processed, including the batch the loop stopped in.
    await commitPrinted();
  } finally {
    clearTimeout(idle);
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    await consumer.close();
  }
}

function parseOffset(text: string): OffsetSpec {
  if (text === 'committed') return { kind: 'committed' };
  if (text === 'beginning') return { kind: 'at', timestamp: -2n };
  if (text === 'end') return { kind: 'at', timestamp: -1n };
  if (/^\d+$/.test(text)) return { kind: 'offset', offset: BigInt(text) };
  if (/^-\d+$/.test(text)) return { kind: 'fromEnd', count: -BigInt(text) };
  if (/^@\d+$/.test(text)) return { kind: 'at', timestamp: BigInt(text.slice(1)) };
  throw new UsageError(`--offset must be beginning, end, committed, N, -N or @TIMESTAMP_MS, got ${JSON.stringify(text)}`);
}

/** Where each partition starts for a spec other than `committed`. */
async function startOffsets(client: BrokerClient, topic: string, partitions: number[], spec: Exclude<OffsetSpec, { kind: 'committed' }>): Promise<Map<number, bigint>> {
  if (spec.kind === 'offset') return new Map(partitions.map((p) => [p, spec.offset]));
  if (spec.kind === 'at') {
    const found = await listOffsets(client, topic, partitions, spec.timestamp);
    // A time after the last batch: start at the end, as kcat does.
    const missing = partitions.filter((p) => !found.has(p));
    const ends = missing.length > 0 ? await listOffsets(client, topic, missing, -1n) : new Map<number, bigint>();
    return new Map(partitions.map((p) => [p, found.get(p) ?? ends.get(p)!]));
  }
  const [first, last] = await Promise.all([listOffsets(client, topic, partitions, -2n), listOffsets(client, topic, partitions, -1n)]);
  return new Map(partitions.map((p) => [p, last.get(p)! - spec.count > first.get(p)! ? last.get(p)! - spec.count : first.get(p)!]));
}

/** ListOffsets for `timestamp` (-2 earliest, -1 latest, else ms); partitions with no answer are left out. */
async function listOffsets(client: BrokerClient, topic: string, partitions: number[], timestamp: bigint): Promise<Map<number, bigint>> {
  const r = await client.listOffsets(partitions.map((partition) => ({ topic, partition, timestamp })));
  const out = new Map<number, bigint>();
  for (const p of r) {
    if (p.error) throw new SluiceError(p.error.code as 'UNKNOWN_TOPIC_OR_PARTITION', p.error.message);
    if (p.offset !== null && p.offset !== undefined) out.set(p.partition, p.offset);
  }
  return out;
}

async function write(chunks: Buffer[]): Promise<void> {
  if (chunks.length === 0) return;
  if (!process.stdout.write(Buffer.concat(chunks))) await once(process.stdout, 'drain');
}
