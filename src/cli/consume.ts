// `sluice consume TOPIC`: prints values one per line (or JSON objects), from a group's committed
// offsets, the beginning, or a partition and offset; exits after --max-messages or --timeout-ms idle.
// With --group, what was printed is committed when it ends, also on SIGINT or SIGTERM, and the
// member leaves the group at once (as kcat does), so the next member does not wait for its session
// to time out.

import { clientOptions } from './client-options.js';
import { once } from 'node:events';
import { Consumer, type Message } from '../client/consumer.js';
import { BrokerClient } from '../client/broker-client.js';
import { SluiceError } from '../errors.js';
import { UsageError } from './usage-error.js';

export interface ConsumeFlags {
  broker: string;
  token?: string;
  group?: string;
  fromBeginning?: boolean;
  partition?: number;
  offset?: string;
  maxMessages?: number;
  timeoutMs?: number;
  format: 'value' | 'json';
}

export async function consumeTopic(topic: string, flags: ConsumeFlags): Promise<void> {
  if (flags.offset !== undefined && flags.partition === undefined) throw new UsageError('--offset needs --partition');
  const offset = offsetFlag(flags.offset);
  // The topic (and the partition asked for) must exist: a consumer would otherwise wait for it in silence.
  const client = new BrokerClient(clientOptions(flags));
  const partitions = await client.partitionCount(topic).finally(() => client.close());
  if (flags.partition !== undefined && flags.partition >= partitions) {
    throw new SluiceError('UNKNOWN_TOPIC_OR_PARTITION', `${topic} has ${partitions} partition${partitions === 1 ? '' : 's'}; there is no partition ${flags.partition}`);
  }
  const consumer = new Consumer({ ...clientOptions(flags), ...(flags.group ? { groupId: flags.group } : {}), fromBeginning: flags.fromBeginning === true });
  let count = 0;
  /** Per partition, the offset after the last record printed. */
  const printed = new Map<string, { topic: string; partition: number; offset: bigint }>();
  const commitPrinted = async () => {
    if (flags.group && printed.size > 0) await consumer.commit([...printed.values()]).catch(() => undefined);
  };
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
    if (flags.partition !== undefined) {
      await consumer.assign([{ topic, partition: flags.partition, ...offset }]);
    } else if (flags.group) {
      consumer.subscribe([topic]);
    } else {
      await consumer.assign(Array.from({ length: partitions }, (_, partition) => ({ topic, partition })));
    }
    resetIdle();
    outer: for await (const batch of consumer.batches()) {
      resetIdle();
      let out = '';
      for (const m of batch.messages) {
        out += format(m, flags.format);
        printed.set(`${m.topic}\0${m.partition}`, { topic: m.topic, partition: m.partition, offset: m.offset + 1n });
        if (++count === flags.maxMessages) {
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

function offsetFlag(offset: string | undefined): { offset?: bigint } {
  if (offset === undefined || offset === 'committed') return {};
  if (!/^\d+$/.test(offset)) throw new UsageError(`--offset must be a number or committed, got ${JSON.stringify(offset)}`);
  return { offset: BigInt(offset) };
}

function format(m: Message, as: 'value' | 'json'): string {
  if (as === 'value') return `${m.value?.toString() ?? ''}\n`;
  return `${JSON.stringify({
    topic: m.topic,
    partition: m.partition,
    offset: m.offset.toString(),
    timestamp: m.timestampMs,
    key: m.key?.toString() ?? null,
    value: m.value?.toString() ?? null,
    headers: Object.fromEntries(m.headers.map((h) => [h.key, h.value?.toString() ?? null])),
  })}\n`;
}

async function write(text: string): Promise<void> {
  if (text && !process.stdout.write(text)) await once(process.stdout, 'drain');
}
