// `sluice dev cluster` (`npm run cluster -- --brokers 3`): a local cluster for development: one etcd
// (the `etcd` binary on PATH, from Debian's etcd-server: scripts/install-etcd.sh) and N brokers,
// each a `sluice broker` process with its own node id, data directory and free ports, all on
// loopback. It prints how to reach them, passes their log lines through prefixed with the node
// id, and on Ctrl-C (or SIGTERM) stops the brokers, then etcd. Data stays in `--data` (default
// ./data-cluster), so the next run starts where this one stopped.

import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { createServer } from 'node:net';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { BROKER_NODE_FLAGS } from '../app/settings.js';
import { UsageError } from './usage-error.js';

export interface DevClusterFlags {
  brokers: number;
  data: string;
  clusterName: string;
  /** Extra `sluice broker` flags for every broker. */
  brokerArgs?: string;
}

const MAIN = fileURLToPath(new URL('./main.js', import.meta.url));

/** A free loopback port (bound and released: the caller binds it next). */
function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolvePort(port));
    });
  });
}

/** Resolves once `url` answers HTTP 200 (etcd's /health), or rejects after `timeoutMs`. */
async function waitForHealth(url: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      const r = await fetch(url);
      if (r.ok) return;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) throw new Error(`etcd did not answer ${url} within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

function prefixLines(child: ChildProcess, prefix: string): void {
  for (const stream of [child.stdout, child.stderr]) {
    let partial = '';
    stream?.setEncoding('utf8').on('data', (d: string) => {
      partial += d;
      const lines = partial.split('\n');
      partial = lines.pop()!;
      for (const line of lines) process.stdout.write(`${prefix} ${line}\n`);
    });
  }
}

export async function devCluster(flags: DevClusterFlags): Promise<void> {
  if (!Number.isInteger(flags.brokers) || flags.brokers < 1 || flags.brokers > 9) throw new UsageError('--brokers must be between 1 and 9');
  const dataDir = resolve(flags.data);
  mkdirSync(dataDir, { recursive: true });
  const [clientPort, peerPort] = [await freePort(), await freePort()];
  const endpoint = `http://127.0.0.1:${clientPort}`;
  const children: ChildProcess[] = [];
  const etcd = spawn(
    'etcd',
    [
      '--name', 'sluice-dev',
      '--data-dir', join(dataDir, 'etcd'),
      '--listen-client-urls', endpoint,
      '--advertise-client-urls', endpoint,
      '--listen-peer-urls', `http://127.0.0.1:${peerPort}`,
      '--initial-advertise-peer-urls', `http://127.0.0.1:${peerPort}`,
      '--initial-cluster', `sluice-dev=http://127.0.0.1:${peerPort}`,
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  const etcdFailed = new Promise<never>((_, reject) => {
    etcd.once('error', (err: NodeJS.ErrnoException) =>
      reject(new Error(err.code === 'ENOENT' ? 'etcd is not installed: run scripts/install-etcd.sh (Debian package etcd-server)' : err.message)),
    );
    etcd.once('exit', (code) => reject(new Error(`etcd exited with ${code} before it was ready`)));
  });
  children.push(etcd);
  let etcdLog = '';
  etcd.stderr!.setEncoding('utf8').on('data', (d: string) => (etcdLog = (etcdLog + d).slice(-4000)));
  try {
    await Promise.race([waitForHealth(`${endpoint}/health`, 20_000), etcdFailed]);
  } catch (err) {
    etcd.kill('SIGKILL');
    throw new Error(`${(err as Error).message}\n${etcdLog}`);
  }
  etcdFailed.catch(() => undefined);

  const brokers: Array<{ id: number; port: number; kafkaPort: number; metricsPort: number }> = [];
  for (let id = 1; id <= flags.brokers; id++) {
    const [port, kafkaPort, metricsPort] = [await freePort(), await freePort(), await freePort()];
    brokers.push({ id, port, kafkaPort, metricsPort });
    const child = spawn(
      process.execPath,
      [
        ...BROKER_NODE_FLAGS,
        MAIN,
        'broker',
        '--node-id', String(id),
        '--etcd-endpoints', endpoint,
        '--cluster-name', flags.clusterName,
        '--data', join(dataDir, `broker-${id}`),
        '--port', String(port),
        '--kafka-port', String(kafkaPort),
        '--metrics-port', String(metricsPort),
        '--log-format', 'json',
        // A smaller cluster than the default offsets replication factor still serves groups.
        '--offsets-topic-replication-factor', String(Math.min(3, flags.brokers)),
        ...(flags.brokerArgs ? flags.brokerArgs.split(' ').filter(Boolean) : []),
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    prefixLines(child, `[broker ${id}]`);
    children.push(child);
  }
  const sluice = brokers.map((b) => `127.0.0.1:${b.port}`).join(',');
  const kafka = brokers.map((b) => `127.0.0.1:${b.kafkaPort}`).join(',');
  process.stdout.write(
    [
      `sluice dev cluster: etcd at ${endpoint}, ${flags.brokers} brokers, data in ${dataDir}`,
      ...brokers.map((b) => `  broker ${b.id}: sluice 127.0.0.1:${b.port}  kafka 127.0.0.1:${b.kafkaPort}  metrics http://127.0.0.1:${b.metricsPort}/metrics`),
      `  sluice clients: --broker 127.0.0.1:${brokers[0]!.port}   e.g. sluice cluster describe --broker 127.0.0.1:${brokers[0]!.port}`,
      `  kafka clients:  bootstrap.servers=${kafka}`,
      `  (all Sluice listeners: ${sluice}) Ctrl-C stops the cluster.`,
      '',
    ].join('\n'),
  );

  await new Promise<void>((resolveStop) => {
    let stopping = false;
    const stop = () => {
      if (stopping) return;
      stopping = true;
      const brokerProcs = children.slice(1);
      let left = brokerProcs.filter((c) => c.exitCode === null).length;
      const thenEtcd = () => {
        etcd.once('exit', () => resolveStop());
        if (etcd.exitCode !== null) resolveStop();
        else etcd.kill('SIGTERM');
      };
      if (left === 0) return thenEtcd();
      for (const c of brokerProcs) {
        if (c.exitCode !== null) continue;
        c.once('exit', () => {
          if (--left === 0) thenEtcd();
        });
        c.kill('SIGTERM');
      }
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  });
}
