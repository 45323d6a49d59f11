// Failover time: in a cluster of 3 brokers and etcd, an RF=3 topic (min.insync.replicas 2) takes a
// steady stream of acks=all batches at its leader; the leader is SIGKILLed, and the clock runs
// from the kill to the first batch acknowledged by the new leader. The writer asks the surviving
// brokers' Metadata every `pollMs` and sends to whichever broker it names, so the figure is the
// cluster's (lease expiry, election, the new leader's ISR catching up), not a client's backoff.
// The killed broker is restarted and must rejoin the ISR before the next trial; every batch
// acknowledged over all trials must be in the log, in order, once (read from the last leader).
//
// Per trial: milliseconds to the first acknowledgement, and where they went: until the
// survivors' Metadata named another leader (detection + election) and from there to the ack.

import { Connection } from '../src/client/connection.js';
import { ApiKey } from '../src/protocol/messages.js';
import { decodeRecordBatches, encodeRecordBatch } from '../src/protocol/record-batch.js';
import type { BenchBroker } from '../test/harness/broker-process.js';
import { machineInfo, type MachineInfo } from '../test/harness/machine.js';
import { percentile } from '../test/harness/util.js';
import { writeSvg } from './chart.js';
import { withBenchCluster, type BenchCluster } from './cluster.js';

export interface FailoverBenchOptions {
  trials: number;
  /** --broker-session-timeout-ms of every broker: a dead broker's lease expires after it. */
  sessionTimeoutMs: number;
  pollMs: number;
  dir: string;
  progress?: (done: number, total: number, label: string) => void;
  log?: (line: string) => void;
}

export interface FailoverTrial {
  killedLeader: number;
  newLeader: number;
  /** Kill to the first acks=all acknowledgement by the new leader. */
  failoverMs: number;
  /** Kill to the first Metadata (from a survivor) that named another leader. */
  electedMs: number;
}

export interface FailoverReport {
  machine: MachineInfo;
  config: Omit<FailoverBenchOptions, 'progress' | 'log' | 'dir'> & { brokers: number; replicationFactor: number; minInsyncReplicas: number };
  trials: FailoverTrial[];
  summary: { p50Ms: number; maxMs: number; minMs: number; electedP50Ms: number };
  acknowledgedBatches: number;
}

const TOPIC = 'failover';

async function produceOnce(port: number, id: number): Promise<boolean> {
  let c: Connection | undefined;
  try {
    c = await Connection.connect({ host: '127.0.0.1', port, clientId: 'bench-failover', connectTimeoutMs: 1000 });
    const batch = encodeRecordBatch([{ key: null, value: `batch-${id}`, timestampMs: Date.now() }]);
    const r = await c.request(ApiKey.Produce, 0, { acks: -1, partitions: [{ topic: TOPIC, partition: 0, bytes: batch.length }] }, [batch]);
    const body = r.body as { partitions?: Array<{ error?: unknown }>; error?: unknown };
    return !body.error && !body.partitions?.[0]?.error;
  } catch {
    return false;
  } finally {
    await c?.close().catch(() => undefined);
  }
}

async function leaderAmong(cluster: BenchCluster, alive: BenchBroker[]): Promise<number> {
  for (const b of alive) {
    try {
      return (await cluster.metadata(TOPIC, b)).partitions[0]?.leader ?? -1;
    } catch {
      // that one is not answering: ask the next
    }
  }
  return -1;
}

export async function runFailoverBench(o: FailoverBenchOptions): Promise<FailoverReport> {
  const args = ['--broker-session-timeout-ms', String(o.sessionTimeoutMs), '--replica-lag-time-max-ms', String(Math.max(o.sessionTimeoutMs, 3000))];
  return withBenchCluster(o.dir, 'failover', 3, async (cluster) => {
    await cluster.createTopic(TOPIC, 1, 3, 2);
    const trials: FailoverTrial[] = [];
    let next = 0;
    const acked: number[] = [];
    for (let trial = 0; trial < o.trials; trial++) {
      const leader = await cluster.leaderOf(TOPIC);
      // A steady stream first: the leader is taking writes when it dies.
      for (let i = 0; i < 20; i++) {
        if (await produceOnce(leader.port, next)) acked.push(next);
        next++;
      }
      cluster.kill(leader.nodeId);
      const killedAt = performance.now();
      const alive = cluster.brokers.filter((b) => b !== leader);
      let electedMs = -1;
      let newLeader = -1;
      for (;;) {
        const named = await leaderAmong(cluster, alive);
        if (named > 0 && named !== leader.nodeId) {
          if (electedMs < 0) electedMs = performance.now() - killedAt;
          newLeader = named;
          const target = alive.find((b) => b.nodeId === named)!;
          if (await produceOnce(target.port, next)) {
            acked.push(next++);
            break;
          }
          next++;
        }
        if (performance.now() - killedAt > 60_000) throw new Error('no new leader acknowledged a batch within 60 s');
        await new Promise((r) => setTimeout(r, o.pollMs));
      }
      const failoverMs = performance.now() - killedAt;
      trials.push({ killedLeader: leader.nodeId, newLeader, failoverMs, electedMs });
      o.log?.(`bench failover: trial ${trial + 1}: leader ${leader.nodeId} killed; broker ${newLeader} acknowledged after ${failoverMs.toFixed(0)} ms (elected after ${electedMs.toFixed(0)} ms)`);
      // The killed broker comes back on its data and rejoins the ISR before the next trial.
      await cluster.restart(leader.nodeId);
      const deadline = Date.now() + 60_000;
      while (((await cluster.metadata(TOPIC)).partitions[0]?.isr?.length ?? 0) < 3) {
        if (Date.now() > deadline) throw new Error(`broker ${leader.nodeId} did not rejoin the ISR`);
        await new Promise((r) => setTimeout(r, 100));
      }
      o.progress?.(trial + 1, o.trials, `trial ${trial + 1}`);
    }
    // Every acknowledged batch is in the log, in order, once.
    const last = await cluster.leaderOf(TOPIC);
    const c = await Connection.connect({ host: '127.0.0.1', port: last.port, clientId: 'bench-failover' });
    const seen: number[] = [];
    try {
      for (let offset = 0n; ; ) {
        const r = await c.request(ApiKey.Fetch, 0, { maxWaitMs: 0, minBytes: 1, partitions: [{ topic: TOPIC, partition: 0, offset, maxBytes: 1 << 20 }] });
        if (r.data.length === 0) break;
        for (const b of decodeRecordBatches(r.data)) {
          for (const rec of b.records) seen.push(Number(rec.value!.toString().slice('batch-'.length)));
          offset = b.baseOffset + BigInt(b.lastOffsetDelta) + 1n;
        }
      }
    } finally {
      await c.close();
    }
    const positions = acked.map((id) => seen.indexOf(id));
    if (positions.some((p, i) => p < 0 || (i > 0 && p <= positions[i - 1]!))) throw new Error('verify: an acknowledged batch is missing or out of order');
    if (new Set(seen).size !== seen.length) throw new Error('verify: a batch is in the log twice');
    const sorted = trials.map((t) => t.failoverMs).sort((a, b) => a - b);
    return {
      machine: machineInfo(),
      config: { trials: o.trials, sessionTimeoutMs: o.sessionTimeoutMs, pollMs: o.pollMs, brokers: 3, replicationFactor: 3, minInsyncReplicas: 2 },
      trials,
      summary: {
        p50Ms: percentile(sorted, 50),
        minMs: sorted[0]!,
        maxMs: sorted.at(-1)!,
        electedP50Ms: percentile(trials.map((t) => t.electedMs).sort((a, b) => a - b), 50),
      },
      acknowledgedBatches: acked.length,
    };
  }, args);
}

export function failoverTable(report: FailoverReport): string {
  const rows = report.trials.map((t, i) => `| ${i + 1} | ${t.killedLeader} | ${t.newLeader} | ${t.electedMs.toFixed(0)} | ${t.failoverMs.toFixed(0)} |\n`);
  const s = report.summary;
  return `| trial | killed leader | new leader | elected after (ms) | first ack after (ms) |\n|---|---|---|---|---|\n${rows.join('')}| median | | | ${s.electedP50Ms.toFixed(0)} | ${s.p50Ms.toFixed(0)} (min ${s.minMs.toFixed(0)}, max ${s.maxMs.toFixed(0)}) |\n`;
}

/** One bar per trial, split into election and the rest, with the session timeout drawn across. */
export async function writeFailoverChart(report: FailoverReport, path: string): Promise<void> {
  const values = report.trials.flatMap((t, i) => [
    { trial: i + 1, phase: '1 lease expiry + election', ms: t.electedMs },
    { trial: i + 1, phase: '2 new leader acknowledges', ms: t.failoverMs - t.electedMs },
  ]);
  await writeSvg(
    {
      $schema: 'https://vega.github.io/schema/vega-lite/v5.json',
      title: `Leader SIGKILL to the first acks=all acknowledgement (3 brokers, RF 3, session timeout ${report.config.sessionTimeoutMs} ms)`,
      width: 420,
      height: 220,
      layer: [
        {
          data: { values },
          mark: 'bar',
          encoding: {
            x: { field: 'trial', type: 'ordinal', title: 'trial' },
            y: { field: 'ms', type: 'quantitative', stack: 'zero', title: 'ms after the kill (lower is better)' },
            color: { field: 'phase', type: 'nominal', title: null },
          },
        },
        { data: { values: [{ ms: report.config.sessionTimeoutMs }] }, mark: { type: 'rule', strokeDash: [4, 4] }, encoding: { y: { field: 'ms', type: 'quantitative' } } },
      ],
      config: { background: 'white' },
    },
    path,
  );
}
