// `sluice consume TOPIC`: prints values one per line (or JSON objects), from a group's committed
// offsets, the beginning, or a partition and offset; exits after --max-messages or --timeout-ms idle.

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
  let lastMessage: Message | undefined;
  let idle: NodeJS.Timeout | undefined;
  const resetIdle = () => {
    if (flags.timeoutMs === undefined) return;
    clearTimeout(idle);
    idle = setTimeout(() => void consumer.close(), flags.timeoutMs);
  };
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
        lastMessage = m;
        if (++count === flags.maxMessages) {
          await write(out);
          break outer;
        }
      }
      await write(out);
    }
    // Everything printed counts as processed, including the batch the loop stopped in.
    if (flags.group && lastMessage) await consumer.commit([{ topic: lastMessage.topic, partition: lastMessage.partition, offset: lastMessage.offset + 1n }]).catch(() => undefined);
  } finally {
    clearTimeout(idle);
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
