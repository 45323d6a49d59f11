// The broker's Prometheus metrics (prom-client), all prefixed `sluice_`. Counters are bumped as
// data and requests move; gauges of partitions and of the transfer engine are read at scrape time.
// Also the process's own metrics (CPU, RSS, fds, event-loop lag) from prom-client's defaults.

import { statfsSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo, Server as NetServer } from 'node:net';
import type { Partition } from '../log/partition.js';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics, type Metric } from 'prom-client';
import { fsyncLatency } from '../storage/partition-log.js';
import type { GroupService } from '../group/coordinator.js';
import type { LogObserver } from '../log/log-service.js';
import type { TopicRegistry } from '../log/topic-registry.js';
import type { TransferEngine } from '../transfer/engine.js';

/** What moved through one topic, counted in plain numbers (a labelled counter's inc hashes its labels: too dear per push). */
interface TopicTraffic {
  bytesIn: number;
  recordsIn: number;
  bytesOut: number;
  recordsOut: number;
}

export class BrokerMetrics implements LogObserver {
  readonly registry = new Registry();
  readonly #traffic = new Map<string, TopicTraffic>();
  readonly #requests: Counter<'api' | 'result'>;
  readonly #latency: Histogram<'api'>;
  readonly #waits: Histogram<'api'>;
  readonly #flushes: Histogram;
  readonly #connections: Gauge;
  readonly #connectionsTotal: Counter;
  readonly #closedForProtocol: Counter<'reason'>;
  readonly #closedIdle: Counter;

  constructor(topics: TopicRegistry, groups: GroupService, engine: TransferEngine, version: string, dataDir: string) {
    const registers = [this.registry];
    new Gauge({
      name: 'sluice_data_dir_free_bytes',
      help: 'Bytes free for the broker (not root) on the data directory\'s filesystem',
      registers,
      collect() {
        const fs = statfsSync(dataDir);
        this.set(fs.bavail * fs.bsize);
      },
    });
    collectDefaultMetrics({ register: this.registry });
    new Gauge({ name: 'sluice_build_info', help: 'Always 1; the labels say which Sluice and Node run', labelNames: ['version', 'node'] as const, registers }).set(
      { version, node: process.versions.node },
      1,
    );
    const traffic = this.#traffic;
    const perTopic = (name: string, help: string, read: (t: TopicTraffic) => number) =>
      new Counter({
        name,
        help,
        labelNames: ['topic'] as const,
        registers,
        collect() {
          this.reset();
          for (const [topic, t] of traffic) this.inc({ topic }, read(t));
        },
      });
    perTopic('sluice_bytes_in_total', 'Record-batch bytes appended, by topic', (t) => t.bytesIn);
    perTopic('sluice_records_in_total', 'Records appended, by topic', (t) => t.recordsIn);
    perTopic('sluice_bytes_out_total', 'Record-batch bytes sent to consumers, by topic', (t) => t.bytesOut);
    perTopic('sluice_records_out_total', 'Offsets delivered to consumers (records), by topic', (t) => t.recordsOut);
    this.#requests = new Counter({
      name: 'sluice_requests_total',
      help: 'Requests answered, by API and result (ok or the error code)',
      labelNames: ['api', 'result'] as const,
      registers,
    });
    this.#latency = new Histogram({
      name: 'sluice_request_duration_seconds',
      help: 'Time from a request frame arriving to its response handed to the kernel, a long poll\'s wait for data excluded (see sluice_fetch_wait_seconds)',
      labelNames: ['api'] as const,
      buckets: [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers,
    });
    this.#waits = new Histogram({
      name: 'sluice_fetch_wait_seconds',
      help: 'Time fetches were parked waiting for data (long polls), by API',
      labelNames: ['api'] as const,
      buckets: [0.001, 0.005, 0.025, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers,
    });
    this.#flushes = new Histogram({
      name: 'sluice_fsync_wait_seconds',
      help: 'Time an acks=all produce waited for the fsync of the partitions it wrote (group commit)',
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers,
    });
    this.registry.registerMetric(fsyncRoundsHistogram() as unknown as Metric);
    this.#connections = new Gauge({ name: 'sluice_connections', help: 'Open client connections', registers });
    this.#connectionsTotal = new Counter({ name: 'sluice_connections_total', help: 'Client connections accepted', registers });
    this.#closedIdle = new Counter({
      name: 'sluice_connections_closed_idle_total',
      help: 'Connections the broker closed after connectionsMaxIdleMs with nothing sent and no response owed',
      registers,
    });
    this.#closedForProtocol = new Counter({
      name: 'sluice_connections_closed_for_protocol_errors_total',
      help: 'Connections the broker closed because their framing or MessagePack could not be parsed',
      labelNames: ['reason'] as const,
      registers,
    });

    const partitionGauge = (name: string, help: string, read: (p: Partition) => number) =>
      new Gauge({
        name,
        help,
        labelNames: ['topic', 'partition'] as const,
        registers,
        collect() {
          this.reset();
          for (const t of topics.list()) {
            for (const p of t.partitions) {
              if (!p || p.closed) continue;
              this.set({ topic: t.name, partition: String(p.index) }, read(p));
            }
          }
        },
      });
    partitionGauge('sluice_partition_high_watermark', 'Offset after the last appended record', (p) => Number(p.highWatermark));
    partitionGauge('sluice_partition_log_start_offset', 'First offset still in the log (after retention)', (p) => Number(p.logStartOffset));
    partitionGauge('sluice_partition_log_size_bytes', 'Bytes of log segments on disk', (p) => p.log.stats().sizeBytes);
    partitionGauge('sluice_partition_segments', 'Log segments on disk', (p) => p.log.stats().segments);
    partitionGauge('sluice_partition_subscriptions', 'Open push subscriptions to the partition', (p) => p.subscriptions.size);

    const groupGauge = (name: string, help: string, read: (committed: bigint, highWatermark: bigint) => number) =>
      new Gauge({
        name,
        help,
        labelNames: ['group', 'topic', 'partition'] as const,
        registers,
        collect() {
          this.reset();
          for (const { groupId } of groups.listGroups()) {
            for (const o of groups.describe(groupId).offsets) {
              const p = topics.get(o.topic)?.partitions[o.partition];
              // A negative offset is a tool's reset (-2 earliest, -1 latest), not a position: no lag to report.
              if (p && o.offset >= 0n) this.set({ group: groupId, topic: o.topic, partition: String(o.partition) }, read(o.offset, p.highWatermark));
            }
          }
        },
      });
    groupGauge('sluice_group_committed_offset', 'Offset a consumer group committed, per partition', (committed) => Number(committed));
    groupGauge('sluice_group_lag', 'High watermark minus the committed offset: records the group has not consumed', (committed, hw) => Number(hw - committed));
    new Gauge({
      name: 'sluice_group_members',
      help: 'Members of each consumer group',
      labelNames: ['group', 'state'] as const,
      registers,
      collect() {
        this.reset();
        for (const g of groups.listGroups()) this.set({ group: g.groupId, state: g.state }, groups.describe(g.groupId).members.length);
      },
    });

    new Counter({
      name: 'sluice_fetch_path_bytes_total',
      help: 'Record bytes sent to consumers, by fetch path (sendfile, mmap, copy, node)',
      labelNames: ['path'] as const,
      registers,
      collect() {
        const c = engine.counters();
        this.reset();
        this.inc({ path: 'sendfile' }, c.sendfileBytes);
        this.inc({ path: 'mmap' }, c.mmapBytes);
        this.inc({ path: 'copy' }, c.copyBytes);
        this.inc({ path: 'node' }, c.nodeBytes);
      },
    });
    const engineMetric = (kind: 'gauge' | 'counter', name: string, help: string, read: (c: ReturnType<TransferEngine['counters']>) => number) =>
      kind === 'gauge'
        ? new Gauge({ name, help, registers, collect() { this.set(read(engine.counters())); } })
        : new Counter({ name, help, registers, collect() { this.reset(); this.inc(read(engine.counters())); } });
    engineMetric('gauge', 'sluice_transfers_in_flight', 'Native transfer jobs queued or being sent', (c) => c.jobsInFlight);
    engineMetric('gauge', 'sluice_transfer_connections_waiting_writable', 'Connections whose socket buffer is full (slow consumers)', (c) => c.connectionsWaitingWritable);
    engineMetric('counter', 'sluice_transfer_writable_waits_total', 'Times a transfer waited for a full socket buffer', (c) => c.writableWaits);
    engineMetric('counter', 'sluice_transfer_cold_page_waits_total', 'Transfers that waited for cold pages to be read from disk', (c) => c.coldPageWaits);
    engineMetric('counter', 'sluice_transfer_failed_jobs_total', 'Transfers that failed (peer gone mid-transfer)', (c) => c.jobsFailed);
    engineMetric('counter', 'sluice_transfer_sender_cpu_seconds_total', 'CPU time of the native sender threads', (c) => c.senderCpuSeconds);
  }

  produced(topic: string, bytes: number, records: number): void {
    const t = this.#topic(topic);
    t.bytesIn += bytes;
    t.recordsIn += records;
  }

  fetched(topic: string, bytes: number, records: number): void {
    const t = this.#topic(topic);
    t.bytesOut += bytes;
    t.recordsOut += records;
  }

  /** A request answered after `seconds`, of which `waitedSeconds` parked (long poll). */
  request(api: string, result: string, seconds: number, waitedSeconds = 0): void {
    this.#requests.inc({ api, result });
    this.#latency.observe({ api }, Math.max(0, seconds - waitedSeconds));
    if (waitedSeconds > 0) this.#waits.observe({ api }, waitedSeconds);
  }

  flushed(seconds: number): void {
    this.#flushes.observe(seconds);
  }

  connectionOpened(): void {
    this.#connections.inc();
    this.#connectionsTotal.inc();
  }

  connectionClosed(): void {
    this.#connections.dec();
  }

  closedForProtocolError(reason: string): void {
    this.#closedForProtocol.inc({ reason });
  }

  closedIdle(): void {
    this.#closedIdle.inc();
  }

  #topic(topic: string): TopicTraffic {
    let t = this.#traffic.get(topic);
    if (!t) this.#traffic.set(topic, (t = { bytesIn: 0, recordsIn: 0, bytesOut: 0, recordsOut: 0 }));
    return t;
  }
}

/** Serves `GET /metrics` in Prometheus text format. */
/** What the health endpoints report: `serving` once listening, `stopping` from the first stop signal on. */
export type BrokerState = 'serving' | 'stopping';

/**
 * The HTTP endpoint beside the listeners: `GET /metrics` (Prometheus text), and `GET /healthz` and
 * `GET /readyz` for supervisors and load balancers: 200 with `{"status":"serving"}` while the broker
 * serves, 503 with `{"status":"stopping"}` once it is stopping (it still drains connections then).
 */
export async function serveMetrics(metrics: BrokerMetrics, host: string, port: number, state: () => BrokerState = () => 'serving'): Promise<{ server: Server; address: AddressInfo }> {
  const server = createServer((req, res) => {
    const path = (req.url ?? '').split('?')[0];
    if (req.method === 'GET' && (path === '/healthz' || path === '/readyz')) {
      const now = state();
      res.writeHead(now === 'serving' ? 200 : 503, { 'content-type': 'application/json' }).end(`${JSON.stringify({ status: now })}\n`);
      return;
    }
    if (req.method !== 'GET' || path !== '/metrics') {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found: try GET /metrics, /healthz or /readyz\n');
      return;
    }
    metrics.registry.metrics().then(
      (text) => res.writeHead(200, { 'content-type': metrics.registry.contentType }).end(text),
      (err: Error) => res.writeHead(500, { 'content-type': 'text/plain' }).end(`${err.message}\n`),
    );
  });
  await listenOn(server, host, port);
  return { server, address: server.address() as AddressInfo };
}

/** `server.listen` as a promise that rejects on EADDRINUSE and friends. */
export function listenOn(server: NetServer, host: string, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const onError = (err: Error) => reject(err);
    server.once('error', onError);
    server.listen(port, host);
    server.once('listening', () => {
      server.off('error', onError);
      resolve();
    });
  });
}

/**
 * `sluice_fsync_seconds`: every fsync round of every log in this process (Kafka's
 * LogFlushRateAndTimeMs), from the storage core's own histogram, which no JS code observes: the
 * background flusher's rounds run on its thread. A collector of prom-client's shape (it takes any
 * object with `get()`), since its Histogram can only be fed one observation at a time.
 */
function fsyncRoundsHistogram() {
  const name = 'sluice_fsync_seconds';
  const help = 'Time each fsync round took (a round fsyncs every segment a flush needs: acks=all produces, the background flusher, truncations)';
  const get = () => {
    const h = fsyncLatency();
    let cumulative = 0;
    const buckets = h.bucketBoundsSeconds.map((le, i) => ({ metricName: `${name}_bucket`, labels: { le }, value: (cumulative += h.buckets[i] ?? 0) }));
    // The core reads its buckets before its count without a lock: a round counted in between must
    // not leave a finite bucket above +Inf.
    const count = Math.max(h.count, cumulative);
    return {
      name,
      help,
      type: 'histogram',
      aggregator: 'sum',
      values: [...buckets, { metricName: `${name}_bucket`, labels: { le: '+Inf' }, value: count }, { metricName: `${name}_sum`, labels: {}, value: h.sumSeconds }, { metricName: `${name}_count`, labels: {}, value: count }],
    };
  };
  return { name, help, type: 'histogram', aggregator: 'sum', get: () => Promise.resolve(get()), reset: () => undefined };
}
