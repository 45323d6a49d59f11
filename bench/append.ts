// `sluice bench append`: append throughput of the storage core through the binding, for several
// batch sizes and three durability modes, side by side in one run:
//   page-cache    one writer, no fsync (acks=1)
//   fsync-each    one writer, every append waits for its own fsync (acks=all, no concurrency)
//   group-commit  N concurrent writers, every append waits for an fsync shared with the others
// Each case appends to a fresh log for a fixed time (or byte budget), then reads the whole log
// back and checks every batch (CRC, contiguous offsets, count) before its figures are reported.

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { PartitionLog } from '../src/storage/partition-log.js';
import { decodeRecordBatches } from '../src/protocol/record-batch.js';
import { batchOfSize, formatBytes, percentile, writeJson } from '../test/harness/util.js';
import { machineInfo, type MachineInfo } from '../test/harness/machine.js';

export type AppendMode = 'page-cache' | 'fsync-each' | 'group-commit';

export interface AppendBenchOptions {
  sizes: number[];
  modes: AppendMode[];
  seconds: number;
  maxBytesPerCase: number;
  writers: number;
  dir: string;
  json?: string;
  log?: (line: string) => void;
}

export interface AppendCase {
  mode: AppendMode;
  batchBytes: number;
  writers: number;
  batches: number;
  bytes: number;
  seconds: number;
  mbPerSec: number;
  batchesPerSec: number;
  fsyncRounds: number;
  appendsPerFsync: number | null;
  latencyP50Ms: number;
  latencyP99Ms: number;
  verified: boolean;
}

export interface AppendReport {
  machine: MachineInfo;
  config: Omit<AppendBenchOptions, 'log'>;
  cases: AppendCase[];
}

export const defaultAppendOptions: AppendBenchOptions = {
  sizes: [1024, 16 * 1024, 1024 * 1024],
  modes: ['page-cache', 'fsync-each', 'group-commit'],
  seconds: 2,
  maxBytesPerCase: 1024 ** 3,
  writers: 16,
  dir: tmpdir(),
};

async function runCase(mode: AppendMode, batchBytes: number, options: AppendBenchOptions): Promise<AppendCase> {
  const dir = mkdtempSync(join(options.dir, 'sluice-bench-append-'));
  try {
    const log = await PartitionLog.open(dir);
    const writers = mode === 'group-commit' ? options.writers : 1;
    const template = batchOfSize(batchBytes);
    const latencies: number[] = [];
    let batches = 0;
    let bytes = 0;
    const start = performance.now();
    const deadline = start + options.seconds * 1000;
    const budgetLeft = () => performance.now() < deadline && bytes < options.maxBytesPerCase;
    const writer = async () => {
      // Each writer reuses its own buffer: append stamps the offset in place, the CRC stays valid.
      const batch = Buffer.from(template);
      while (budgetLeft()) {
        const t0 = performance.now();
        log.append(batch);
        if (mode !== 'page-cache') await log.flush();
        latencies.push(performance.now() - t0);
        batches++;
        bytes += batch.length;
      }
    };
    await Promise.all(Array.from({ length: writers }, writer));
    const seconds = (performance.now() - start) / 1000;
    const stats = log.stats();

    // Verify before reporting: every batch back, CRC-checked, offsets contiguous.
    let offset = 0n;
    let seen = 0;
    while (offset < log.highWatermark) {
      for (const b of decodeRecordBatches(log.read(offset, 8 << 20).data)) {
        if (b.baseOffset !== offset || b.sizeBytes !== template.length) throw new Error(`verify: bad batch at ${offset}`);
        offset += BigInt(b.lastOffsetDelta) + 1n;
        seen++;
      }
    }
    if (seen !== batches) throw new Error(`verify: ${seen} batches in the log, ${batches} appended`);
    await log.close();
    latencies.sort((a, b) => a - b);
    const fsyncRounds = mode === 'page-cache' ? 0 : stats.fsyncRounds;
    return {
      mode,
      batchBytes: template.length,
      writers,
      batches,
      bytes,
      seconds,
      mbPerSec: bytes / 1e6 / seconds,
      batchesPerSec: batches / seconds,
      fsyncRounds,
      appendsPerFsync: fsyncRounds > 0 ? batches / fsyncRounds : null,
      latencyP50Ms: percentile(latencies, 50),
      latencyP99Ms: percentile(latencies, 99),
      verified: true,
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export async function runAppendBench(options: AppendBenchOptions): Promise<AppendReport> {
  const cases: AppendCase[] = [];
  for (const size of options.sizes) {
    for (const mode of options.modes) {
      options.log?.(`append: ${mode} ${size} B ...`);
      cases.push(await runCase(mode, size, options));
    }
  }
  const { log: _log, ...config } = options;
  const report: AppendReport = { machine: machineInfo(), config, cases };
  if (options.json) writeJson(options.json, report);
  return report;
}

/** A Markdown table of the report (printed, and pasted into the README). */
export function appendTable(report: AppendReport): string {
  const rows = report.cases.map((c) =>
    [
      c.mode,
      formatBytes(c.batchBytes),
      String(c.writers),
      c.mbPerSec.toFixed(1),
      Math.round(c.batchesPerSec).toLocaleString('en-US'),
      c.appendsPerFsync === null ? '-' : c.appendsPerFsync.toFixed(1),
      c.latencyP50Ms.toFixed(3),
      c.latencyP99Ms.toFixed(3),
    ].join(' | '),
  );
  return [
    '| mode | batch | writers | MB/s | batches/s | appends per fsync | p50 ms | p99 ms |',
    '|---|---|---|---|---|---|---|---|',
    ...rows.map((r) => `| ${r} |`),
  ].join('\n');
}

