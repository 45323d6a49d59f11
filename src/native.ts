// Loads the napi-rs addon (built from crates/node by `npm install`) and turns its errors into
// SluiceErrors. The addon reports errors as "<CODE>|<message>" (napi-rs cannot set `code` from a
// native function); `nativeCall`/`nativeAsync` split that back into `code` and `message`.
//
// The addon is optional for clients: Producer, Consumer, Admin and Subscription need only the codec,
// whose CRC-32C falls back to pure TypeScript. Importing this module never fails; the broker and
// the storage core fail at their first native call with one line saying what is missing. When the
// addon loads, its hardware CRC-32C replaces the codec's, and its decompression lets the codec
// decode compressed batches.

import { createRequire } from 'node:module';
import { isErrorCode, SluiceError } from './errors.js';
import { useCrc32c } from './protocol/crc32c.js';
import { useDecompressor } from './protocol/record-batch.js';
import type * as Binding from 'sluice/native';

const require = createRequire(import.meta.url);

let loaded: typeof Binding | undefined;
let missing: Error | undefined;
try {
  // Self-reference through the package's exports: the same specifier works from src/ (tests) and dist/.
  loaded = require('sluice/native') as typeof Binding;
  const addon = loaded;
  useCrc32c((data, initial) => addon.crc32c(data, initial));
  useDecompressor((codec, data, maxBytes) => nativeCall(() => addon.decompressRecords(codec, data, maxBytes)));
} catch (err) {
  missing = err as Error;
}

/** True when the native addon is built and loaded (the broker and storage core need it; clients do not). */
export const nativeAvailable = loaded !== undefined;

function absent(): never {
  throw new Error(
    `the native addon is not built (${missing?.message.split('\n')[0] ?? 'not found'}): the broker and the storage core need it; ` +
      'install with Rust (cargo) available so npm builds it. The clients (Producer, Consumer, Admin, Subscription) work without it.',
  );
}

/** The addon; using it when it is absent throws the error above. */
export const native: typeof Binding = loaded ?? (new Proxy({}, { get: () => absent() }) as typeof Binding);

export type {
  NativeDirLock,
  NativeLog,
  NativeSlice,
  LogOptions,
  NativeTransferEngine,
  NativeTransferJob,
  TransferCounters,
  TransferOptions,
} from 'sluice/native';

/** Converts an error thrown by the addon into a SluiceError with its stable code. */
export function fromNativeError(err: unknown): unknown {
  if (!(err instanceof Error)) return err;
  const bar = err.message.indexOf('|');
  const code = bar > 0 ? err.message.slice(0, bar) : '';
  if (!isErrorCode(code)) return err;
  return new SluiceError(code, err.message.slice(bar + 1), { cause: err });
}

export function nativeCall<T>(fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    throw fromNativeError(err);
  }
}

export async function nativeAsync<T>(promise: Promise<T>): Promise<T> {
  try {
    return await promise;
  } catch (err) {
    throw fromNativeError(err);
  }
}

/** CRC-32C (Castagnoli): hardware-accelerated by the addon, pure TypeScript without it. `initial` continues an earlier CRC. */
export { crc32c } from './protocol/crc32c.js';
