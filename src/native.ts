// Loads the napi-rs addon (built from crates/node by `npm install`) and turns its errors into
// SluiceErrors. The addon reports errors as "<CODE>|<message>" (napi-rs cannot set `code` from a
// native function); `nativeCall`/`nativeAsync` split that back into `code` and `message`.

import { createRequire } from 'node:module';
import { isErrorCode, SluiceError } from './errors.js';
import type * as Binding from '../native/index.cjs';

const require = createRequire(import.meta.url);
// Self-reference through the package's exports: the same specifier works from src/ (tests) and dist/.
export const native: typeof Binding = require('sluice/native');

export type {
  NativeDirLock,
  NativeLog,
  NativeSlice,
  LogOptions,
  NativeTransferEngine,
  NativeTransferJob,
  TransferCounters,
  TransferOptions,
} from '../native/index.cjs';

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

/** CRC-32C (Castagnoli), hardware-accelerated in the core. `initial` continues an earlier CRC. */
export function crc32c(data: Uint8Array, initial = 0): number {
  return native.crc32c(data, initial);
}
