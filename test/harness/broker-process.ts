// A broker child process for the benchmarks (its own data dir, any port, no metrics listener),
// and what the benchmarks read about it from /proc: CPU time and resident memory.
// SLUICE_BENCH_BROKER_NODE_ARGS adds Node flags to the broker (to profile it under a benchmark:
// `--cpu-prof --cpu-prof-dir=prof`; NODE_OPTIONS cannot carry --cpu-prof).

import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { BROKER_NODE_FLAGS } from '../../src/app/settings.js';
import type { FetchPath } from '../../src/transfer/engine.js';

// The compiled CLI: beside this file in dist/, or under dist/ when this runs from source (tests).
export const MAIN = ['../../src/cli/main.js', '../../dist/src/cli/main.js'].map((p) => fileURLToPath(new URL(p, import.meta.url))).find((p) => existsSync(p))!;

/** A port that was free a moment ago (the kernel's pick for port 0, released): for listeners whose 0 means off. */
export { freePort } from '../../src/cli/ports.js';

export interface BenchBroker {
  proc: ChildProcess;
  port: number;
  /** The Kafka listener's port when `extraArgs` turned it on (`--kafka-port N`). */
  kafkaPort: number | null;
  path: FetchPath;
  /** Everything the broker has written to stdout so far (JSON log lines at --log-level warn). */
  output(): string;
  stop(): Promise<void>;
}

/** Spawns `sluice broker` on `dataDir` (any port, no metrics or Kafka listener unless `extraArgs` asks, JSON logs on stdout). */
export function spawnBroker(dataDir: string, path: FetchPath, extraArgs: string[] = []): ChildProcess {
  return spawn(
    process.execPath,
    [...BROKER_NODE_FLAGS, ...(process.env.SLUICE_BENCH_BROKER_NODE_ARGS ?? '').split(' ').filter(Boolean), MAIN, 'broker', '--data', dataDir, '--port', '0', '--metrics-port', 'off', '--kafka-port', '0', '--fetch-path', path, '--log-level', 'warn', '--log-format', 'json', ...extraArgs],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
}

/** Spawns the broker and resolves once it listens. */
export async function startBenchBroker(dataDir: string, path: FetchPath, extraArgs: string[] = []): Promise<BenchBroker> {
  const proc = spawnBroker(dataDir, path, extraArgs);
  let out = '';
  const [port, kafkaPort] = await new Promise<[number, number | null]>((resolve, reject) => {
    proc.stdout!.setEncoding('utf8').on('data', (d: string) => {
      out += d;
      const m = /sluice listening on [^\s]+:(\d+)(?: \(kafka on [^\s,)]+:(\d+))?/.exec(out);
      if (m) resolve([Number(m[1]), m[2] ? Number(m[2]) : null]);
    });
    proc.once('exit', (code) => reject(new Error(`the broker exited with ${code} before it was ready: ${out}`)));
  });
  return {
    proc,
    port,
    kafkaPort,
    path,
    output: () => out,
    async stop() {
      proc.kill('SIGTERM');
      if (proc.exitCode === null) await once(proc, 'exit');
    },
  };
}

/** Runs `fn` against a broker on a fresh data dir under `dir`; stops it and removes the dir after. */
export async function withBenchBroker<T>(dir: string, name: string, path: FetchPath, fn: (broker: BenchBroker) => Promise<T>, extraArgs: string[] = []): Promise<T> {
  const dataDir = mkdtempSync(join(dir, `sluice-bench-${name}-`));
  try {
    const broker = await startBenchBroker(dataDir, path, extraArgs);
    try {
      return await fn(broker);
    } finally {
      await broker.stop();
    }
  } finally {
    rmSync(dataDir, { recursive: true, force: true });
  }
}

/** utime + stime of a process, in seconds. */
export function processCpuSeconds(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

/**
 * utime + stime per thread group of a process, in seconds: threads named alike (digits aside,
 * e.g. `sluice-sender-0`, `kafka-network-thread-1`) add up under one name. Threads that ended are
 * not counted (only the process total has them).
 */
export function threadCpuSeconds(pid: number): Map<string, number> {
  const groups = new Map<string, number>();
  let tids: string[] = [];
  try {
    tids = readdirSync(`/proc/${pid}/task`);
  } catch {
    return groups;
  }
  for (const tid of tids) {
    try {
      const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
      const name = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')')).replace(/\d+/g, '#');
      const fields = stat.slice(stat.lastIndexOf(') ') + 2).split(' ');
      groups.set(name, (groups.get(name) ?? 0) + (Number(fields[11]) + Number(fields[12])) / 100);
    } catch {
      // the thread ended between the listing and the read
    }
  }
  return groups;
}

/** What each thread group of `pid` used since `before` (a threadCpuSeconds reading), in seconds. */
export function threadCpuSince(pid: number, before: Map<string, number>): Map<string, number> {
  return new Map([...threadCpuSeconds(pid)].map(([name, s]) => [name, s - (before.get(name) ?? 0)]));
}

export function rssMiB(pid: number): number {
  const m = /^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : 0;
}
