// `sluice dev cluster` (`npm run cluster -- --brokers 3`): a local cluster for development: one etcd
// (etcd-process.ts: Debian's etcd-server, scripts/install-etcd.sh) and N brokers,
// each a `sluice broker` process with its own node id, data directory and free ports, all on
// loopback. It prints how to reach them, passes their log lines through prefixed with the node
// id, and on Ctrl-C (or SIGTERM) stops the brokers, then etcd. Data stays in `--data` (default
// ./data-cluster), so the next run starts where this one stopped.

import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { BROKER_NODE_FLAGS } from '../app/settings.js';
import { startEtcd } from './etcd-process.js';
import { freePort } from './ports.js';
import { UsageError } from './usage-error.js';

export interface DevClusterFlags {
  brokers: number;
  data: string;
  clusterName: string;
  /** Extra `sluice broker` flags for every broker. */
  brokerArgs?: string;
}

const MAIN = fileURLToPath(new URL('./main.js', import.meta.url));

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
  const etcd = await startEtcd({ dataDir: join(dataDir, 'etcd') });
  const endpoint = etcd.endpoint;
  const children: ChildProcess[] = [];

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
      const brokerProcs = children;
      let left = brokerProcs.filter((c) => c.exitCode === null).length;
      const thenEtcd = () => void etcd.stop().then(resolveStop, resolveStop);
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
