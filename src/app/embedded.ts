// A broker inside this process, for an application's test suite (or a tool that wants one for a
// while): `const broker = await startBroker()` listens on free loopback ports with a fresh temp data
// dir, in well under a second; point Sluice's client at `broker.address` or any Kafka client
// (kafkajs, @platformatic/kafka, librdkafka) at `broker.kafkaBootstrap`; `await broker.close()`
// stops it and removes the temp dir. It leaves no timer, socket or file behind, so a test runner
// exits on its own.

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { resolveBrokerSettings } from './settings.js';
import { SluiceError } from '../errors.js';
import { Broker } from './broker.js';

export interface StartBrokerOptions {
  /** Where the topics live; default a fresh temp dir that close() removes (a given dir is kept). */
  dataDir?: string;
  /** Default 127.0.0.1. */
  host?: string;
  /** Sluice's protocol; 0 (default) picks a free port. */
  port?: number;
  /** Kafka's protocol; 0 (default) picks a free port; null turns the Kafka listener off. */
  kafkaPort?: number | null;
  /** /metrics, /healthz, /readyz; null (default) is off, 0 picks a free port. */
  metricsPort?: number | null;
  /** Any other broker setting by its key in the README's settings table (`autoCreateTopics`, `defaultPartitions`, `segmentBytes`, ...). Environment variables are not read. */
  settings?: Record<string, string | number | boolean>;
  /** pino level for the broker's log on stderr; default `silent`. */
  logLevel?: string;
}

export interface EmbeddedBroker {
  /** `host:port` of Sluice's protocol, for `new Producer({ broker })` and friends. */
  readonly address: string;
  /** `host:port` of the Kafka listener (null when off), for `new Kafka({ brokers: [...] })`. */
  readonly kafkaBootstrap: string | null;
  /** `http://host:port` of /metrics, /healthz and /readyz (null when off). */
  readonly metricsUrl: string | null;
  readonly dataDir: string;
  /** The broker itself (topics, groups, metrics). */
  readonly broker: Broker;
  /** Stops the broker (connections drained), then removes the temp data dir if it made one. */
  close(): Promise<void>;
}

export async function startBroker(options: StartBrokerOptions = {}): Promise<EmbeddedBroker> {
  const owned = options.dataDir === undefined;
  const dataDir = options.dataDir ?? mkdtempSync(join(tmpdir(), 'sluice-broker-'));
  try {
    // The settings table's defaults and checks, without the process's environment.
    const { config } = resolveBrokerSettings({ ...options.settings, data: dataDir, host: options.host ?? '127.0.0.1' }, {});
    config.port = options.port ?? 0;
    config.kafkaPort = options.kafkaPort === undefined ? 0 : options.kafkaPort;
    config.metricsPort = options.metricsPort ?? null;
    const logger = pino({ name: 'sluice', level: options.logLevel ?? 'silent' }, pino.destination({ dest: 2, sync: true }));
    const broker = await Broker.start(config, logger);
    const host = (a: { address: string }) => (a.address.includes(':') ? `[${a.address}]` : a.address);
    const kafka = broker.kafkaAddress;
    const metrics = broker.metricsAddress;
    let closing: Promise<void> | undefined;
    return {
      address: `${host(broker.address)}:${broker.address.port}`,
      kafkaBootstrap: kafka ? `${host(kafka)}:${kafka.port}` : null,
      metricsUrl: metrics ? `http://${host(metrics)}:${metrics.port}` : null,
      dataDir,
      broker,
      close() {
        closing ??= broker.stop().finally(() => {
          if (owned) rmSync(dataDir, { recursive: true, force: true });
        });
        return closing;
      },
    };
  } catch (err) {
    if (owned) rmSync(dataDir, { recursive: true, force: true });
    throw err instanceof Error ? err : new SluiceError('UNKNOWN_SERVER_ERROR', String(err));
  }
}
