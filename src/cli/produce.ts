// `sluice produce TOPIC`: one record per line of stdin; exits 0 once every line is acknowledged.

import { clientOptions } from './client-options.js';
import { createInterface } from 'node:readline';
import { Producer, type Acks, type ProducerRecord } from '../client/producer.js';

export interface ProduceFlags {
  broker: string;
  token?: string;
  key?: string;
  keySeparator?: string;
  partition?: number;
  acks: string;
}

const WINDOW = 10_000;

export async function produceLines(topic: string, flags: ProduceFlags): Promise<void> {
  const acks: Acks = flags.acks === 'all' ? 'all' : (Number(flags.acks) as Acks);
  const producer = new Producer({ ...clientOptions(flags), acks });
  let sent = 0;
  let pending: Array<Promise<unknown>> = [];
  try {
    for await (const line of createInterface({ input: process.stdin, crlfDelay: Infinity })) {
      const record: ProducerRecord = { value: line };
      if (flags.keySeparator !== undefined) {
        const at = line.indexOf(flags.keySeparator);
        if (at >= 0) {
          record.key = line.slice(0, at);
          record.value = line.slice(at + flags.keySeparator.length);
        }
      } else if (flags.key !== undefined) record.key = flags.key;
      if (flags.partition !== undefined) record.partition = flags.partition;
      pending.push(producer.send(topic, record));
      sent++;
      if (pending.length >= WINDOW) {
        await Promise.all(pending);
        pending = [];
      }
    }
    await Promise.all(pending);
    await producer.flush();
  } finally {
    await producer.close().catch(() => undefined);
  }
  process.stderr.write(`produced ${sent} records to ${topic}\n`);
}
