// A real cluster for tests: one etcd (test/harness/etcd.ts) and N `sluice broker` processes with
// node ids 1..N, each on fixed free ports (kept across restarts, so clients' bootstrap lists stay
// valid) and its own data directory. Brokers can be SIGKILLed, paused (SIGSTOP/SIGCONT) and
// restarted; `waitFor` polls a condition over Sluice's Metadata instead of sleeping.

import { mkdtempSync } from 'node:fs';
import { join } from 'node:path';
import { Admin, type ClusterDescription } from '../../src/client/admin.js';
import { startBroker, type RunningBroker } from '../helpers/broker.js';
import { tmpDir } from '../helpers/tmp.js';
import { freePort } from './broker-process.js';
import { startEtcd, type EtcdProcess } from './etcd.js';
import type { Network } from './netns.js';

type Teardown = { teardown(fn: () => void | Promise<void>): void };

export interface ClusterBroker {
  nodeId: number;
  /** The address its listeners are on (127.0.0.1, or its own host's on a network). */
  host: string;
  port: number;
  kafkaPort: number;
  dataDir: string;
  /** The running process; undefined while stopped. */
  process: RunningBroker | undefined;
}

export interface TestCluster {
  etcd: EtcdProcess;
  clusterName: string;
  brokers: ClusterBroker[];
  broker(nodeId: number): ClusterBroker;
  /** Starts a stopped broker again (same ports, same data unless `wipe`). */
  start(nodeId: number, options?: { wipe?: boolean }): Promise<void>;
  kill(nodeId: number, signal?: NodeJS.Signals): Promise<void>;
  pause(nodeId: number): void;
  resume(nodeId: number): void;
  /** Kafka bootstrap list: every broker's Kafka listener. */
  kafkaBootstrap(): string[];
  /** Sluice's bootstrap list: every broker's listener, comma-separated. */
  bootstrap(): string;
  /** The cluster as broker `via` (default: the first running one) describes it. */
  describe(via?: number): Promise<ClusterDescription>;
  /** Polls describe() until `ready` holds (or fails after `timeoutMs` with the last description). */
  waitFor(ready: (c: ClusterDescription) => boolean, what: string, timeoutMs?: number, via?: number): Promise<ClusterDescription>;
}

export interface ClusterOptions {
  brokers?: number;
  /** Extra broker flags for every broker. */
  args?: string[];
  /** `--rack` of broker i + 1. */
  racks?: string[];
  /**
   * Runs etcd and each broker on a host of its own (netns.ts: hosts `etcd`, `node1`...), so the
   * network between them can be cut; without it everything listens on 127.0.0.1.
   */
  network?: Network;
  /** The token the harness's own requests (describe, waitFor) authenticate with, for brokers run with --auth-file. */
  token?: string;
  /** Data directories under this one, kept after the test (default: temp dirs removed at teardown). */
  dataRoot?: string;
}

/** Short timeouts so failover happens within a test's patience. */
export const CLUSTER_TEST_ARGS = ['--broker-session-timeout-ms', '2000', '--replica-lag-time-max-ms', '3000', '--log-level', 'info'];

export async function startCluster(t: Teardown, options: ClusterOptions = {}): Promise<TestCluster> {
  const network = options.network;
  const root = options.dataRoot;
  const dirFor = (name: string) => (root ? mkdtempSync(join(root, `${name}-`)) : tmpDir(t, `sluice-${name}-`));
  const etcd = await startEtcd({
    ...(network ? { host: network.host('etcd').ip, command: network.host('etcd').exec } : {}),
    ...(root ? { dataDir: dirFor('etcd') } : {}),
  });
  t.teardown(() => etcd.kill('SIGKILL'));
  const clusterName = `test-${process.pid}-${Date.now()}`;
  const brokers: ClusterBroker[] = [];
  for (let nodeId = 1; nodeId <= (options.brokers ?? 3); nodeId++) {
    const host = network ? network.host(`node${nodeId}`).ip : '127.0.0.1';
    brokers.push({ nodeId, host, port: await freePort(), kafkaPort: await freePort(), dataDir: dirFor(`node${nodeId}`), process: undefined });
  }
  const broker = (nodeId: number) => {
    const b = brokers.find((x) => x.nodeId === nodeId);
    if (!b) throw new Error(`no broker ${nodeId}`);
    return b;
  };
  const start = async (nodeId: number, startOptions: { wipe?: boolean } = {}) => {
    const b = broker(nodeId);
    if (startOptions.wipe) b.dataDir = dirFor(`node${nodeId}-wiped`);
    b.process = await startBroker(t, {
      dataDir: b.dataDir,
      host: b.host,
      ...(network ? { command: network.host(`node${nodeId}`).exec } : {}),
      args: [
        '--host', b.host,
        '--node-id', String(nodeId),
        '--etcd-endpoints', etcd.endpoint,
        '--cluster-name', clusterName,
        '--port', String(b.port),
        '--kafka-port', String(b.kafkaPort),
        ...CLUSTER_TEST_ARGS,
        ...(options.racks?.[nodeId - 1] ? ['--rack', options.racks[nodeId - 1]!] : []),
        ...(options.args ?? []),
      ],
    });
  };
  const describe = async (via?: number) => {
    const b = via !== undefined ? broker(via) : brokers.find((x) => x.process);
    if (!b) throw new Error('no broker is running');
    const admin = new Admin({ broker: `${b.host}:${b.port}`, retries: 0, ...(options.token !== undefined ? { token: options.token } : {}) });
    try {
      return await admin.describeCluster();
    } finally {
      await admin.close();
    }
  };
  const cluster: TestCluster = {
    etcd,
    clusterName,
    brokers,
    broker,
    start,
    async kill(nodeId, signal = 'SIGKILL') {
      const b = broker(nodeId);
      await b.process?.stop(signal);
      b.process = undefined;
    },
    pause(nodeId) {
      broker(nodeId).process?.proc.kill('SIGSTOP');
    },
    resume(nodeId) {
      broker(nodeId).process?.proc.kill('SIGCONT');
    },
    kafkaBootstrap: () => brokers.map((b) => `${b.host}:${b.kafkaPort}`),
    bootstrap: () => brokers.map((b) => `${b.host}:${b.port}`).join(','),
    describe,
    async waitFor(ready, what, timeoutMs = 30_000, via) {
      const deadline = Date.now() + timeoutMs;
      let last: ClusterDescription | undefined;
      let lastError: unknown;
      for (;;) {
        try {
          last = await describe(via);
          if (ready(last)) return last;
        } catch (err) {
          lastError = err;
        }
        if (Date.now() > deadline) {
          throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}; last: ${JSON.stringify(last, (_, v: unknown) => (typeof v === 'bigint' ? String(v) : v))} ${lastError ? String(lastError) : ''}`);
        }
        await new Promise((r) => setTimeout(r, 100));
      }
    },
  };
  await Promise.all(brokers.map((b) => start(b.nodeId)));
  await cluster.waitFor((c) => c.brokers.length === brokers.length && c.controllerId >= 0, 'every broker registered and a controller elected');
  return cluster;
}

/** The partition's placement in a description (throws when the topic or partition is missing). */
export function partitionOf(c: ClusterDescription, topic: string, partition = 0): ClusterDescription['topics'][number]['partitions'][number] {
  const p = c.topics.find((t) => t.name === topic)?.partitions.find((x) => x.partition === partition);
  if (!p) throw new Error(`${topic}-${partition} is not in the description`);
  return p;
}
