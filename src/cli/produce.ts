// `sluice produce TOPIC`: one record per delimited chunk of stdin (default: a line); exits 0 once
// every record is acknowledged. Binary-safe: stdin is split at the delimiter's bytes and nothing is
// decoded or stripped (a `\r` or a 0xff byte is part of the value) unless `--encoding base64|hex`
// says the key and value are spelled that way (a record that is not valid hex or base64 then stops
// the run with INVALID_ARGUMENT, naming it; the records before it are sent). `--key-separator`
// splits key from value, `-H k=v` adds headers, `--empty-as-null` sends an empty value as null (a
// tombstone for compacted topics).

import { clientOptions } from './client-options.js';
import { Producer, type ProducerAcks, type ProducerRecord } from '../client/producer.js';
import { decodeInput, splitRecords, unescape, type Encoding } from './record-format.js';
import { SluiceError } from '../errors.js';
import { UsageError } from './usage-error.js';

export interface ProduceFlags {
  broker: string;
  token?: string;
  key?: string;
  keySeparator?: string;
  partition?: number;
  acks: string;
  delimiter: string;
  header?: string[];
  emptyAsNull?: boolean;
  encoding: Encoding;
}

const WINDOW = 10_000;

export async function produceLines(topic: string, flags: ProduceFlags): Promise<void> {
  const acks: ProducerAcks = flags.acks === 'all' ? 'all' : (Number(flags.acks) as ProducerAcks);
  const delimiter = unescape(flags.delimiter);
  if (delimiter.length === 0) throw new UsageError('--delimiter must not be empty');
  const separator = flags.keySeparator === undefined ? undefined : unescape(flags.keySeparator);
  const headers = headersOf(flags.header ?? []);
  const producer = new Producer({ ...clientOptions(flags), acks });
  let sent = 0;
  let pending: Array<Promise<unknown>> = [];
  /** Stops the run at a record that is not in --encoding (the records before it are still sent). */
  const decoded = (bytes: Buffer, part: 'key' | 'value'): Buffer => {
    const out = decodeInput(bytes, flags.encoding);
    if (out === undefined) throw new SluiceError('INVALID_ARGUMENT', `record ${sent + 1} is not ${flags.encoding} (its ${part}: ${JSON.stringify(bytes.toString('latin1').slice(0, 40))})`);
    return out;
  };
  const send = async (raw: Buffer) => {
    let key: Buffer | null = flags.key === undefined ? null : Buffer.from(flags.key);
    let value = raw;
    if (separator) {
      const at = raw.indexOf(separator);
      if (at >= 0) {
        key = decoded(raw.subarray(0, at), 'key');
        value = raw.subarray(at + separator.length);
      }
    }
    value = decoded(value, 'value');
    const record: ProducerRecord = { key, value: flags.emptyAsNull && value.length === 0 ? null : Buffer.from(value) };
    if (headers) record.headers = headers;
    if (flags.partition !== undefined) record.partition = flags.partition;
    pending.push(producer.send(topic, record));
    sent++;
    if (pending.length >= WINDOW) {
      await Promise.all(pending);
      pending = [];
    }
  };
  try {
    let rest: Buffer = Buffer.alloc(0);
    for await (const chunk of process.stdin as AsyncIterable<Buffer>) {
      const split = splitRecords(rest, chunk, delimiter);
      rest = split.rest;
      for (const r of split.records) await send(r);
    }
    // A last record without a delimiter after it still counts.
    if (rest.length > 0) await send(rest);
    await Promise.all(pending);
    await producer.flush();
  } finally {
    await producer.close().catch(() => undefined);
  }
  process.stderr.write(`produced ${sent} records to ${topic}\n`);
}

function headersOf(list: readonly string[]): Record<string, string> | undefined {
  if (list.length === 0) return undefined;
  const headers: Record<string, string> = {};
  for (const h of list) {
    const at = h.indexOf('=');
    if (at <= 0) throw new UsageError(`-H/--header takes key=value, got ${JSON.stringify(h)}`);
    headers[h.slice(0, at)] = h.slice(at + 1);
  }
  return headers;
}
