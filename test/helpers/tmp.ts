// Shared test helpers: a fresh temporary directory per test, removed at teardown, and small
// record batches.

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { encodeRecordBatch } from '../../src/protocol/record-batch.js';

export function tmpDir(t: { teardown(fn: () => void): void }, prefix = 'sluice-test-'): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** A batch of `records` records whose values say which batch they belong to. */
export function batchOf(id: number, records = 1, timestampMs = 1_700_000_000_000 + id): Buffer {
  return encodeRecordBatch(
    Array.from({ length: records }, (_, i) => ({ key: `k${id}`, value: `batch ${id} record ${i}`, timestampMs })),
  );
}
