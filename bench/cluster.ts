// A cluster for benchmarks: one etcd (test/harness/etcd.ts) and N `sluice broker` processes with
// node ids 1..N on fresh data dirs under `dir`, ready once every broker is registered and a
// controller is elected. Topics are created through broker 1; `leaderOf` finds a partition's leader.

import { mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { Connection } from '../src/client/connection.js';
import { ApiKey, type MetadataResponse } from '../src/protocol/messages.js';
import { startBenchBroker, type BenchBroker } from '../test/harness/broker-process.js';
import { startEtcd } from '../test/harness/etcd.js';

export type ClusterBroker = BenchBroker & { nodeId: number; dataDir: string };

export interface BenchCluster {
  /** By node id order; a killed broker stays listed (its process exited) until `restart`. */
  brokers: ClusterBroker[];
  /** SIGKILLs the broker. */
  kill(nodeId: number): void;
  /** Starts a killed broker again on its data dir and port. */
  restart(nodeId: number): Promise<void>;
  /** The broker that leads `topic`-`partition` now. */
  leaderOf(topic: string, partition?: number): Promise<ClusterBroker>;
  metadata(topic: string, via?: BenchBroker): Promise<MetadataResponse['topics'][number]>;
  createTopic(name: string, partitions: number, replicationFactor: number, minInsyncReplicas: number): Promise<void>;
}

async function metadataOf(port: number, topics: string[] | null): Promise<MetadataResponse> {
  const c = await Connection.connect({ host: '127.0.0.1', port, clientId: 'bench-cluster' });
  try {
    return (await c.request(ApiKey.Metadata, 0, { topics, allowAutoCreate: false })).body as MetadataResponse;
  } finally {
    await c.close();
  }
}

/** Runs `fn` against a fresh cluster of `size` brokers; stops the brokers, then etcd, and removes the data after. */
export async function withBenchCluster<T>(dir: string, name: string, size: number, fn: (cluster: BenchCluster) => Promise<T>, extraArgs: string[] = []): Promise<T> {
  const root = mkdtempSync(join(dir, `sluice-bench-${name}-cluster-`));
  const etcd = await startEtcd({ dataDir: join(root, 'etcd') });
  const brokers: ClusterBroker[] = [];
  const start = async (nodeId: number, dataDir: string, port?: number) => {
    const args = ['--node-id', String(nodeId), '--etcd-endpoints', etcd.endpoint, '--cluster-name', 'bench', ...(port ? ['--port', String(port)] : []), ...extraArgs];
    return { ...(await startBenchBroker(dataDir, 'sendfile', args)), nodeId, dataDir };
  };
  try {
    for (let nodeId = 1; nodeId <= size; nodeId++) brokers.push(await start(nodeId, join(root, `broker-${nodeId}`)));
    const deadline = Date.now() + 30_000;
    for (;;) {
      const m = await metadataOf(brokers[0]!.port, []);
      if (m.brokers.length === size && m.controllerId >= 0) break;
      if (Date.now() > deadline) throw new Error(`the cluster did not form: ${m.brokers.length} of ${size} brokers, controller ${m.controllerId}`);
      await new Promise((r) => setTimeout(r, 100));
    }
    const cluster: BenchCluster = {
      brokers,
      kill(nodeId) {
        brokers.find((b) => b.nodeId === nodeId)?.proc.kill('SIGKILL');
      },
      async restart(nodeId) {
        const i = brokers.findIndex((b) => b.nodeId === nodeId);
        const old = brokers[i]!;
        if (old.proc.exitCode === null && old.proc.signalCode === null) await old.stop();
        brokers[i] = await start(nodeId, old.dataDir, old.port);
      },
      async metadata(topic, via = brokers[0]!) {
        return (await metadataOf(via.port, [topic])).topics[0]!;
      },
      async leaderOf(topic, partition = 0) {
        const deadline = Date.now() + 30_000;
        for (;;) {
          const leader = (await cluster.metadata(topic)).partitions.find((p) => p.partition === partition)?.leader ?? -1;
          const broker = brokers.find((b) => b.nodeId === leader);
          if (broker) return broker;
          if (Date.now() > deadline) throw new Error(`${topic}-${partition} has no leader`);
          await new Promise((r) => setTimeout(r, 100));
        }
      },
      async createTopic(topic, partitions, replicationFactor, minInsyncReplicas) {
        const c = await Connection.connect({ host: '127.0.0.1', port: brokers[0]!.port, clientId: 'bench-cluster' });
        try {
          const r = (await c.request(ApiKey.CreateTopics, 0, { topics: [{ name: topic, partitions, replicationFactor, config: { minInsyncReplicas } }] })).body as { topics: Array<{ error?: { code: string; message: string } }> };
          const e = r.topics[0]?.error;
          if (e) throw new Error(`create ${topic}: ${e.code} ${e.message}`);
        } finally {
          await c.close();
        }
        // Every replica in sync before the clock starts.
        const deadline = Date.now() + 30_000;
        while ((await cluster.metadata(topic)).partitions.some((p) => (p.isr?.length ?? 0) < replicationFactor)) {
          if (Date.now() > deadline) throw new Error(`${topic}: the replicas did not all join the ISR`);
          await new Promise((r) => setTimeout(r, 100));
        }
      },
    };
    return await fn(cluster);
  } finally {
    for (const b of brokers) await b.stop().catch(() => undefined);
    await etcd.close();
    rmSync(root, { recursive: true, force: true });
  }
}
