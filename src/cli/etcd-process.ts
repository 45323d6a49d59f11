// A single-member etcd on loopback, for `sluice dev cluster`, the tests and the benchmarks:
// /usr/bin/etcd (or `etcd` on PATH, installed by scripts/install-etcd.sh) on free loopback ports
// with its own data dir, started, stopped, killed and restarted on the same ports and data. Ready means GET /health on the client URL
// answers healthy. etcd cannot listen on port 0, so ports are picked free and a start that lost
// one of them to another process (EADDRINUSE) is retried on new ports.

import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './ports.js';

export interface EtcdProcess {
  /** The client URL, e.g. http://127.0.0.1:40123. */
  readonly endpoint: string;
  /** The running process's pid (a new one after restart). */
  readonly pid: number;
  readonly dataDir: string;
  /** SIGTERM, and waits for the exit. */
  stop(): Promise<void>;
  /**
   * Sends `signal` (default SIGKILL) and waits for the exit; SIGSTOP and SIGCONT instead wait until
   * every thread is stopped (or none is): kill(2) returns before a busy thread has stopped, and
   * etcd can still answer a request in between.
   */
  kill(signal?: NodeJS.Signals): Promise<void>;
  /** Stops it if it runs, then starts it again on the same ports and data dir; resolves when healthy. */
  restart(): Promise<void>;
  /** Compacts etcd's history up to `revision` (through its JSON gateway): watches from before it are cancelled. */
  compact(revision: bigint): Promise<void>;
  /** Stops it (SIGKILL) and removes the data dir if the harness made it. */
  close(): Promise<void>;
}

export interface StartEtcdOptions {
  /** Defaults to a fresh temp dir, removed by close(). */
  dataDir?: string;
  /** The address to listen on (default 127.0.0.1). */
  host?: string;
  /** Prepended to etcd's command line (e.g. `ip netns exec NS`: etcd on a host of its own). */
  command?: string[];
}

const READY_TIMEOUT_MS = 20_000;
const PORT_ATTEMPTS = 5;

/** The etcd binary, or one line saying how to install it. */
export function etcdBinary(): string {
  if (existsSync('/usr/bin/etcd')) return '/usr/bin/etcd';
  const which = spawnSync('sh', ['-c', 'command -v etcd'], { encoding: 'utf8' });
  const found = which.stdout.trim();
  if (which.status === 0 && found) return found;
  throw new Error('etcd is not installed (no /usr/bin/etcd, none on PATH): run scripts/install-etcd.sh');
}

/** Every etcd this harness started and that still runs: killed if the test process exits first. */
const running = new Set<ChildProcess>();
process.once('exit', () => {
  for (const proc of running) proc.kill('SIGKILL');
});

export async function startEtcd(options: StartEtcdOptions = {}): Promise<EtcdProcess> {
  const where: Where = { command: [...(options.command ?? []), etcdBinary()], host: options.host ?? '127.0.0.1' };
  const ownDir = options.dataDir === undefined;
  const dataDir = options.dataDir ?? mkdtempSync(join(tmpdir(), 'sluice-etcd-'));
  let proc: ChildProcess | undefined;
  let clientPort = 0;
  let peerPort = 0;
  try {
    for (let attempt = 1; ; attempt++) {
      clientPort = await freePort();
      peerPort = await freePort();
      if (peerPort === clientPort) continue;
      try {
        proc = await launch(where, dataDir, clientPort, peerPort);
        break;
      } catch (err) {
        if (!(err instanceof PortTaken) || attempt >= PORT_ATTEMPTS) throw err;
      }
    }
  } catch (err) {
    if (ownDir) rmSync(dataDir, { recursive: true, force: true });
    throw err;
  }
  let current = proc;
  const endpoint = `http://${where.host}:${clientPort}`;

  const exited = async (p: ChildProcess) => {
    if (p.exitCode === null && p.signalCode === null) await once(p, 'exit');
  };
  const kill = async (signal: NodeJS.Signals = 'SIGKILL') => {
    if (current.exitCode !== null || current.signalCode !== null) return;
    current.kill(signal);
    if (signal === 'SIGSTOP' || signal === 'SIGCONT') await settled(current.pid!, signal === 'SIGSTOP');
    else await exited(current);
  };
  return {
    endpoint,
    get pid() {
      return current.pid!;
    },
    dataDir,
    stop: () => kill('SIGTERM'),
    kill,
    async restart() {
      if (current.signalCode === null && current.exitCode === null) {
        current.kill('SIGCONT'); // a stopped process would not act on SIGTERM
        await kill('SIGTERM');
      }
      current = await launch(where, dataDir, clientPort, peerPort);
    },
    async compact(revision: bigint) {
      const res = await fetch(`${endpoint}/v3/kv/compaction`, { method: 'POST', body: JSON.stringify({ revision: revision.toString(), physical: true }), signal: AbortSignal.timeout(10_000) });
      if (!res.ok) throw new Error(`etcd refused to compact at ${revision}: ${res.status} ${await res.text()}`);
    },
    async close() {
      await kill('SIGKILL');
      if (ownDir) rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

class PortTaken extends Error {}


/** Waits until every thread of `pid` is stopped (`stopped`) or none is, as /proc tells. */
async function settled(pid: number, stopped: boolean): Promise<void> {
  const deadline = Date.now() + 5000;
  for (;;) {
    const states = threadStates(pid);
    if (states.length > 0 && states.every((s) => (s === 'T' || s === 't') === stopped)) return;
    if (Date.now() > deadline) throw new Error(`etcd (pid ${pid}) did not ${stopped ? 'stop' : 'continue'}: thread states ${states.join('')}`);
    await new Promise((resolve) => setTimeout(resolve, 1));
  }
}

function threadStates(pid: number): string[] {
  let tids: string[] = [];
  try {
    tids = readdirSync(`/proc/${pid}/task`);
  } catch {
    return [];
  }
  const states: string[] = [];
  for (const tid of tids) {
    try {
      states.push(readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8').split(') ')[1]!.split(' ')[0]!);
    } catch {
      // the thread ended between the listing and the read
    }
  }
  return states;
}

/** How etcd is started: its command line up to its flags, and the address it listens on. */
interface Where {
  command: string[];
  host: string;
}

/** Spawns etcd and resolves once /health says it is healthy; rejects (with its output) if it exits first. */
async function launch(where: Where, dataDir: string, clientPort: number, peerPort: number): Promise<ChildProcess> {
  const client = `http://${where.host}:${clientPort}`;
  const peer = `http://${where.host}:${peerPort}`;
  // Only our flags: ETCD_* variables in the environment would override them.
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('ETCD_')));
  const proc = spawn(
    where.command[0]!,
    [
      ...where.command.slice(1),
      '--name', 'sluice',
      '--data-dir', dataDir,
      '--listen-client-urls', client,
      '--advertise-client-urls', client,
      '--listen-peer-urls', peer,
      '--initial-advertise-peer-urls', peer,
      '--initial-cluster', `sluice=${peer}`,
      '--initial-cluster-state', 'new',
      // A quick election after a restart; also lowers etcd's minimum lease TTL (1.5 x election
      // timeout, rounded up to whole seconds) to 1 s, so 1 s leases are granted as asked.
      '--heartbeat-interval', '50',
      '--election-timeout', '500',
      '--logger', 'zap',
      '--log-outputs', 'stderr',
      '--log-level', 'warn',
    ],
    { stdio: ['ignore', 'ignore', 'pipe'], env },
  );
  running.add(proc);
  proc.once('exit', () => running.delete(proc));
  let output = '';
  proc.stderr!.setEncoding('utf8').on('data', (d: string) => {
    output = (output + d).slice(-8000);
  });
  const exit = new Promise<never>((_, reject) => {
    proc.once('exit', (code, signal) => {
      const why = `etcd exited (${signal ?? `code ${code}`}) before it was healthy:\n${output}`;
      reject(/address already in use/.test(output) ? new PortTaken(why) : new Error(why));
    });
  });
  exit.catch(() => undefined); // read below, or not at all once healthy
  const deadline = Date.now() + READY_TIMEOUT_MS;
  for (;;) {
    const healthy = await Promise.race([isHealthy(client), exit]);
    if (healthy) return proc;
    if (Date.now() > deadline) {
      proc.kill('SIGKILL');
      throw new Error(`etcd at ${client} was not healthy within ${READY_TIMEOUT_MS} ms:\n${output}`);
    }
    await Promise.race([new Promise((resolve) => setTimeout(resolve, 50)), exit]);
  }
}

async function isHealthy(client: string): Promise<boolean> {
  try {
    const res = await fetch(`${client}/health`, { signal: AbortSignal.timeout(1000) });
    const body = (await res.json()) as { health?: string };
    return res.ok && body.health === 'true';
  } catch {
    return false;
  }
}
