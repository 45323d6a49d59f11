// How the CLI writes records out and reads them in, byte for byte. Output: `value` (the value's
// bytes and a newline), `json` (one object per line; key and value as text, base64 or hex), or a
// kcat-style template (`%t %p %o %T %k %s %h %K %S`, `\n` `\t` `\\` `%%`) whose key and value are
// written as raw bytes. Input: records split at a delimiter byte sequence, never decoded unless
// asked (base64/hex), so any byte (0xff, \r, NUL) survives. No I/O here.

import type { Message } from '../client/consumer.js';
import { UsageError } from './usage-error.js';

/** How keys and values are spelled where text is needed (json output, and base64/hex input). */
export const ENCODINGS = ['text', 'base64', 'hex'] as const;
export type Encoding = (typeof ENCODINGS)[number];

export type Renderer = (m: Message) => Buffer;

const NEWLINE = Buffer.from('\n');

function spell(bytes: Buffer | null, encoding: Encoding): string | null {
  if (bytes === null) return null;
  return encoding === 'text' ? bytes.toString('utf8') : bytes.toString(encoding);
}

/** A renderer for `format`: `value`, `json`, or a template with % tokens. */
export function renderer(format: string, encoding: Encoding): Renderer {
  if (format === 'value') return (m) => (m.value ? Buffer.concat([m.value, NEWLINE]) : NEWLINE);
  if (format === 'json') {
    return (m) =>
      Buffer.from(
        `${JSON.stringify({
          topic: m.topic,
          partition: m.partition,
          offset: m.offset.toString(),
          timestamp: m.timestampMs,
          key: spell(m.key, encoding),
          value: spell(m.value, encoding),
          headers: Object.fromEntries(m.headers.map((h) => [h.key, spell(h.value, encoding)])),
        })}\n`,
      );
  }
  if (!format.includes('%')) throw new UsageError(`--format must be value, json or a template with % tokens (%t %p %o %T %k %s %h %K %S), got ${JSON.stringify(format)}`);
  const parts = template(format);
  return (m) =>
    Buffer.concat(
      parts.map((p) => {
        if (typeof p !== 'string') return p;
        switch (p) {
          case '%t':
            return Buffer.from(m.topic);
          case '%p':
            return Buffer.from(String(m.partition));
          case '%o':
            return Buffer.from(m.offset.toString());
          case '%T':
            return Buffer.from(String(m.timestampMs));
          case '%k':
            return m.key ?? Buffer.alloc(0);
          case '%s':
            return m.value ?? Buffer.alloc(0);
          case '%K':
            return Buffer.from(String(m.key?.length ?? -1));
          case '%S':
            return Buffer.from(String(m.value?.length ?? -1));
          default:
            return Buffer.from(m.headers.map((h) => `${h.key}=${h.value?.toString() ?? ''}`).join(','));
        }
      }),
    );
}

/** A template as literal byte runs and token names. */
function template(format: string): Array<Buffer | string> {
  const parts: Array<Buffer | string> = [];
  let literal = '';
  const flush = () => {
    if (literal) parts.push(Buffer.from(literal));
    literal = '';
  };
  for (let i = 0; i < format.length; i++) {
    const c = format[i]!;
    const next = format[i + 1];
    if (c === '\\' && next !== undefined) {
      literal += next === 'n' ? '\n' : next === 't' ? '\t' : next === 'r' ? '\r' : next === '0' ? '\0' : next;
      i++;
    } else if (c === '%' && next === '%') {
      literal += '%';
      i++;
    } else if (c === '%' && next !== undefined && 'tpoTksKSh'.includes(next)) {
      flush();
      parts.push(`%${next}`);
      i++;
    } else if (c === '%') {
      throw new UsageError(`unknown token %${next ?? ''} in --format (known: %t %p %o %T %k %s %h %K %S %%)`);
    } else literal += c;
  }
  flush();
  return parts;
}

/** Splits `chunk` (appended to `rest`) at `delimiter`; returns the whole records and what is left. */
export function splitRecords(rest: Buffer, chunk: Buffer, delimiter: Buffer): { records: Buffer[]; rest: Buffer } {
  const buf = rest.length === 0 ? chunk : Buffer.concat([rest, chunk]);
  const records: Buffer[] = [];
  let from = 0;
  for (let at = buf.indexOf(delimiter, from); at >= 0; at = buf.indexOf(delimiter, from)) {
    records.push(buf.subarray(from, at));
    from = at + delimiter.length;
  }
  return { records, rest: buf.subarray(from) };
}

/**
 * Bytes given in an encoding (input side): text is taken as is; undefined when the bytes are not
 * valid hex (pairs of hex digits) or base64 (the standard alphabet, padding optional). Node's
 * decoders would stop at the first bad character or skip it, sending bytes nobody wrote.
 */
export function decodeInput(bytes: Buffer, encoding: Encoding): Buffer | undefined {
  if (encoding === 'text') return bytes;
  const text = bytes.toString('latin1');
  if (encoding === 'hex') return /^(?:[0-9a-fA-F]{2})*$/.test(text) ? Buffer.from(text, 'hex') : undefined;
  const decoded = Buffer.from(text, 'base64');
  // Canonical base64 only: what decodes must spell the same text again.
  return decoded.toString('base64').replace(/=+$/, '') === text.replace(/=+$/, '') && /^[A-Za-z0-9+/]*={0,2}$/.test(text) ? decoded : undefined;
}

/** `\n`, `\t`, `\r`, `\0` and `\\` in a delimiter given on the command line. */
export function unescape(text: string): Buffer {
  return Buffer.from(text.replace(/\\([ntr0\\])/g, (_, c: string) => ({ n: '\n', t: '\t', r: '\r', '0': '\0', '\\': '\\' })[c]!), 'utf8');
}
