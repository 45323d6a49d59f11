// Every setting of `sluice broker` in one table: its flag, its environment variable, its key in the
// optional JSON config file, its default and how its value is checked. The command's options and
// help text come from here; a test holds the README's settings table to it. Precedence: flag, then
// environment, then config file, then default.

import { AccessControl } from '../auth/access.js';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { type Command, Option } from 'commander';
import { SluiceError } from '../errors.js';
import type { BrokerConfig } from './broker.js';
import { FETCH_PATHS, isFetchPath } from '../transfer/engine.js';

type Value = string | number | boolean | null | undefined;

interface Setting {
  /** camelCase: the config file key and commander's attribute name. */
  key: string;
  flag: string;
  description: string;
  /** Shown in help; undefined means "not set". */
  fallback: Value;
  /** Checks a value from any source (flag text, env text, JSON value). */
  parse(value: unknown): Value;
  boolean?: true;
}

const KIB = 1024;
const MIB = 1024 * KIB;
const DAY_MS = 24 * 60 * 60 * 1000;

function integer(min: number, max = Number.MAX_SAFE_INTEGER) {
  return (value: unknown): number => {
    const n = typeof value === 'number' ? value : typeof value === 'string' && value.trim() !== '' ? Number(value) : NaN;
    if (!Number.isSafeInteger(n) || n < min || n > max) throw new Error(`expected an integer in [${min}, ${max}], got ${JSON.stringify(value)}`);
    return n;
  };
}

const text = (value: unknown): string => {
  if (typeof value !== 'string' || value === '') throw new Error(`expected a non-empty string, got ${JSON.stringify(value)}`);
  return value;
};

const bool = (value: unknown): boolean => {
  if (typeof value === 'boolean') return value;
  if (typeof value === 'string' && /^(true|1|yes|on)$/i.test(value)) return true;
  if (typeof value === 'string' && /^(false|0|no|off)$/i.test(value)) return false;
  throw new Error(`expected true or false, got ${JSON.stringify(value)}`);
};

const port = integer(0, 65535);

const endpoints = (value: unknown): string => {
  const list = text(value).split(',').map((e) => e.trim());
  for (const e of list) if (!/^https?:\/\/[^/\s]+$/.test(e)) throw new Error(`expected etcd URLs like http://127.0.0.1:2379, got ${JSON.stringify(e)}`);
  return list.join(',');
};

const clusterName = (value: unknown): string => {
  const name = text(value);
  if (!/^[A-Za-z0-9._-]{1,100}$/.test(name)) throw new Error(`expected letters, digits, ".", "_" or "-", got ${JSON.stringify(name)}`);
  return name;
};

function oneOf(choices: readonly string[]) {
  return (value: unknown): string => {
    if (typeof value !== 'string' || !choices.includes(value)) throw new Error(`expected one of ${choices.join(', ')}, got ${JSON.stringify(value)}`);
    return value;
  };
}

export const LOG_FORMATS = ['auto', 'json', 'pretty'] as const;

/**
 * Node flags every launcher of the broker process passes (the `sluice` shebang, `npm start`, the
 * Dockerfile, the tests' and benchmarks' brokers): a 64 MiB initial heap. Produce traffic churns
 * through socket reads and request frames held outside the JS heap; V8 counts that memory against
 * limits derived from the heap's size, and with a small heap it ran a full GC every ~40 ms under
 * one 400 MB/s producer (17% of the broker's CPU). As Kafka's -Xms, a heap sized at start.
 */
export const BROKER_NODE_FLAGS: readonly string[] = ['--initial-heap-size=64'];

export const BROKER_SETTINGS: readonly Setting[] = [
  { key: 'config', flag: '--config <file>', description: 'JSON file of settings (keys as in this table, camelCase)', fallback: undefined, parse: text },
  { key: 'data', flag: '--data <dir>', description: 'data directory', fallback: './data', parse: text },
  { key: 'host', flag: '--host <host>', description: 'address to listen on', fallback: '127.0.0.1', parse: text },
  { key: 'port', flag: '--port <port>', description: 'port for clients (0: any free port)', fallback: 9292, parse: port },
  { key: 'kafkaPort', flag: '--kafka-port <port>', description: 'port for Kafka clients (Kafka wire protocol; 0: no Kafka listener)', fallback: 9092, parse: port },
  { key: 'kafkaAdvertisedPort', flag: '--kafka-advertised-port <port>', description: 'port named to Kafka clients in Metadata and FindCoordinator, for a proxy or port forward in front of the broker (default: --kafka-port)', fallback: undefined, parse: integer(1, 65535) },
  { key: 'advertisedHost', flag: '--advertised-host <host>', description: 'host named to clients in Metadata (default: --host)', fallback: undefined, parse: text },
  {
    key: 'metricsPort',
    flag: '--metrics-port <port>',
    description: 'port for Prometheus GET /metrics (0: any free port, "off": none)',
    fallback: 9293,
    parse: (v) => (v === 'off' || v === null ? null : port(v)),
  },
  { key: 'fetchPath', flag: '--fetch-path <path>', description: `how fetched data reaches sockets (${FETCH_PATHS.join(', ')})`, fallback: 'sendfile', parse: oneOf(FETCH_PATHS) },
  { key: 'senderThreads', flag: '--sender-threads <n>', description: 'native threads that send fetched file ranges to sockets (sendfile, mmap, copy paths)', fallback: 1, parse: integer(1, 64) },
  { key: 'sendfileChunkBytes', flag: '--sendfile-chunk-bytes <n>', description: 'most bytes one sendfile(2) call is asked to move (the default asks for the rest of the range: the kernel takes what the socket buffer holds)', fallback: 1024 * MIB, parse: integer(4096, 0x7fff_ffff) },
  { key: 'socketSendBufferBytes', flag: '--socket-send-buffer-bytes <n>', description: "SO_SNDBUF of consumer sockets the native sender writes to (0: the kernel's autotuning), as Kafka's socket.send.buffer.bytes", fallback: 102_400, parse: integer(0, 0x7fff_ffff) },
  { key: 'maxFrameBytes', flag: '--max-frame-bytes <n>', description: 'largest request frame accepted; larger ones are refused unread', fallback: 100 * MIB, parse: integer(1024, 0xffff_ffff) },
  { key: 'maxInFlightRequests', flag: '--max-in-flight-requests <n>', description: 'requests per connection awaiting a response before the broker stops reading it', fallback: 128, parse: integer(1, 65536) },
  { key: 'connectionsMaxIdleMs', flag: '--connections-max-idle-ms <ms>', description: 'close a connection that sent nothing and awaits no response for this long (a parked fetch is not idle)', fallback: 600_000, parse: integer(100, 0x7fff_ffff) },
  { key: 'authFile', flag: '--auth-file <file>', description: 'JSON file of principals, their token hashes and topic permissions; clients must authenticate (default: no authentication)', fallback: undefined, parse: text },
  { key: 'autoCreateTopics', flag: '--auto-create-topics', description: 'create unknown topics named in Metadata requests', fallback: false, parse: bool, boolean: true },
  { key: 'defaultPartitions', flag: '--default-partitions <n>', description: 'partitions of auto-created topics and of creates that ask for -1', fallback: 1, parse: integer(1, 10_000) },
  { key: 'segmentBytes', flag: '--segment-bytes <n>', description: 'default segment size of topics', fallback: 1024 * MIB, parse: integer(1024, 0x7fff_ffff) },
  { key: 'segmentMs', flag: '--segment-ms <ms>', description: 'default time before a segment rolls', fallback: 7 * DAY_MS, parse: integer(1) },
  { key: 'retentionBytes', flag: '--retention-bytes <n>', description: 'default size limit of a partition (-1: none)', fallback: -1, parse: integer(-1) },
  { key: 'retentionMs', flag: '--retention-ms <ms>', description: 'default age limit of segments (-1: none)', fallback: 7 * DAY_MS, parse: integer(-1) },
  { key: 'flushIntervalMs', flag: '--flush-interval-ms <ms>', description: 'fsync acks=1 data at least this often (default: leave it to the OS)', fallback: undefined, parse: integer(1) },
  { key: 'flushIntervalBytes', flag: '--flush-interval-bytes <n>', description: 'fsync once this many bytes are unflushed (default: leave it to the OS)', fallback: undefined, parse: integer(1) },
  { key: 'maxBatchBytes', flag: '--max-batch-bytes <n>', description: 'largest record batch accepted', fallback: 8 * MIB, parse: integer(61, 0x7fff_ffff) },
  { key: 'producerIdExpirationMs', flag: '--producer-id-expiration-ms <ms>', description: "a partition forgets an idempotent producer's sequence numbers this long after its last write (Kafka's producer.id.expiration.ms)", fallback: DAY_MS, parse: integer(1) },
  { key: 'producerSnapshotIntervalBytes', flag: '--producer-snapshot-interval-bytes <n>', description: "bytes appended to a partition between two snapshots of its producers' state (bounds the log replay after a crash)", fallback: 64 * MIB, parse: integer(1) },
  { key: 'groupMinSessionTimeoutMs', flag: '--group-min-session-timeout-ms <ms>', description: 'shortest session timeout a group member may ask for', fallback: 1_000, parse: integer(1) },
  { key: 'groupMaxSessionTimeoutMs', flag: '--group-max-session-timeout-ms <ms>', description: 'longest session timeout a group member may ask for', fallback: 30 * 60_000, parse: integer(1) },
  { key: 'offsetsRetentionMs', flag: '--offsets-retention-ms <ms>', description: 'a group empty this long forgets its committed offsets; offsets committed outside a membership expire this long after their commit (-1: never; checked every --retention-check-interval-ms)', fallback: 7 * DAY_MS, parse: integer(-1) },
  { key: 'groupInitialRebalanceDelayMs', flag: '--group-initial-rebalance-delay-ms <ms>', description: "how long an empty group's first rebalance waits for more members", fallback: 3_000, parse: integer(0) },
  { key: 'retentionCheckIntervalMs', flag: '--retention-check-interval-ms <ms>', description: 'how often retention runs', fallback: 5 * 60 * 1000, parse: integer(1) },
  { key: 'shutdownTimeoutMs', flag: '--shutdown-timeout-ms <ms>', description: 'how long a stop waits for responses still owed', fallback: 30_000, parse: integer(0) },
  { key: 'nodeId', flag: '--node-id <n>', description: 'this broker\'s id in a cluster (needs --etcd-endpoints; unique per broker)', fallback: undefined, parse: integer(0, 0x7fff_ffff) },
  { key: 'etcdEndpoints', flag: '--etcd-endpoints <urls>', description: 'join a cluster coordinated by these etcd endpoints (comma-separated URLs; default: a single broker, no cluster)', fallback: undefined, parse: endpoints },
  { key: 'clusterName', flag: '--cluster-name <name>', description: 'the cluster\'s name: its keys in etcd live under /sluice/<name>/', fallback: 'sluice', parse: clusterName },
  { key: 'interBrokerToken', flag: '--inter-broker-token <token>', description: 'with --auth-file in a cluster: the token this broker authenticates with at the other brokers to replicate (its principal needs "replication": true in every broker\'s auth file)', fallback: undefined, parse: text },
  { key: 'rack', flag: '--rack <rack>', description: 'this broker\'s rack (Kafka\'s broker.rack): replicas spread over racks, consumers may read from a replica in theirs', fallback: undefined, parse: text },
  { key: 'defaultReplicationFactor', flag: '--default-replication-factor <n>', description: 'replicas of auto-created topics and of creates that ask for -1 (at most the live brokers)', fallback: 3, parse: integer(1, 100) },
  { key: 'minInsyncReplicas', flag: '--min-insync-replicas <n>', description: 'in-sync replicas an acks=all produce needs (topics may set their own)', fallback: 1, parse: integer(1, 100) },
  { key: 'replicaLagTimeMaxMs', flag: '--replica-lag-time-max-ms <ms>', description: 'a follower that has not caught up for this long leaves the ISR', fallback: 10_000, parse: integer(100) },
  { key: 'replicaFetchWaitMaxMs', flag: '--replica-fetch-wait-max-ms <ms>', description: 'how long a follower\'s fetch waits at the leader for new data (Kafka\'s replica.fetch.wait.max.ms)', fallback: 500, parse: integer(1) },
  { key: 'brokerSessionTimeoutMs', flag: '--broker-session-timeout-ms <ms>', description: 'a broker whose etcd lease is not renewed for this long is dead to the cluster (its leaderships move; whole seconds)', fallback: 3_000, parse: integer(1_000) },
  { key: 'replicationTimeoutMs', flag: '--replication-timeout-ms <ms>', description: 'how long an acks=all produce waits for its in-sync replicas before REQUEST_TIMED_OUT', fallback: 30_000, parse: integer(1) },
  { key: 'offsetsTopicPartitions', flag: '--offsets-topic-partitions <n>', description: "partitions of a cluster's __consumer_offsets, fixed when it is created (Kafka's offsets.topic.num.partitions); a group's coordinator is the leader of one of them", fallback: 10, parse: integer(1, 1000) },
  { key: 'offsetsTopicReplicationFactor', flag: '--offsets-topic-replication-factor <n>', description: "replicas of each partition of a cluster's __consumer_offsets (Kafka's offsets.topic.replication.factor); groups wait for this many live brokers", fallback: 3, parse: integer(1, 100) },
  { key: 'logLevel', flag: '--log-level <level>', description: 'pino level (trace, debug, info, warn, error, fatal, silent)', fallback: 'info', parse: oneOf(['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent']) },
  { key: 'logFormat', flag: '--log-format <format>', description: 'json, pretty, or auto (pretty when stdout is a terminal)', fallback: 'auto', parse: oneOf(LOG_FORMATS) },
];

export function envName(key: string): string {
  return `SLUICE_${key.replace(/[A-Z]/g, (c) => `_${c}`).toUpperCase()}`;
}

/** Adds every setting to `command` as an option (no defaults there: layering happens in resolve). */
export function addBrokerOptions(command: Command): Command {
  for (const s of BROKER_SETTINGS) {
    const shown = s.fallback === undefined ? '' : `, default ${String(s.fallback)}`;
    command.addOption(new Option(s.flag, `${s.description} (env ${envName(s.key)}${shown})`));
    if (s.boolean) command.addOption(new Option(s.flag.replace('--', '--no-'), `turn ${s.flag} off`));
  }
  return command;
}

export interface ResolvedSettings {
  config: BrokerConfig;
  logLevel: string;
  logFormat: (typeof LOG_FORMATS)[number];
  /** Where each value came from, for the start-up log. */
  sources: Record<string, 'flag' | 'env' | 'file' | 'default'>;
}

/** Layers flags over environment over config file over defaults, checking every value. */
export function resolveBrokerSettings(flags: Record<string, unknown>, env: NodeJS.ProcessEnv = process.env): ResolvedSettings {
  const values: Record<string, Value> = {};
  const sources: ResolvedSettings['sources'] = {};
  const pick = (s: Setting, file: Record<string, unknown>) => {
    const candidates: Array<[ResolvedSettings['sources'][string], unknown, string]> = [
      ['flag', flags[s.key], s.flag.split(' ')[0]!],
      ['env', env[envName(s.key)], envName(s.key)],
      ['file', file[s.key], `${String(values.config)}: ${s.key}`],
    ];
    for (const [source, raw, where] of candidates) {
      if (raw === undefined || raw === '') continue;
      try {
        values[s.key] = s.parse(raw);
      } catch (err) {
        throw new SluiceError('INVALID_CONFIG', `${where}: ${(err as Error).message}`);
      }
      sources[s.key] = source;
      return;
    }
    values[s.key] = s.fallback;
    sources[s.key] = 'default';
  };
  const configSetting = BROKER_SETTINGS[0]!;
  pick(configSetting, {});
  const file = values.config ? readConfigFile(String(values.config)) : {};
  for (const s of BROKER_SETTINGS.slice(1)) pick(s, file);

  // Every value was checked by its setting's parse above.
  const v = <T = number>(key: string) => values[key] as T;
  const fetchPath = v<string>('fetchPath');
  if (!isFetchPath(fetchPath)) throw new SluiceError('INVALID_CONFIG', `fetchPath ${fetchPath}`);
  const optional = (key: string) => (values[key] === undefined ? {} : { [key]: values[key] as number });
  const access = values.authFile === undefined ? null : AccessControl.fromFile(resolve(v<string>('authFile')));
  return {
    config: {
      dataDir: resolve(v<string>('data')),
      host: v<string>('host'),
      ...(values.advertisedHost === undefined ? {} : { advertisedHost: v<string>('advertisedHost') }),
      port: v('port'),
      kafkaPort: v('kafkaPort') === 0 ? null : v('kafkaPort'),
      ...optional('kafkaAdvertisedPort'),
      metricsPort: v<number | null>('metricsPort'),
      fetchPath,
      transfer: { senderThreads: v('senderThreads'), sendfileChunkBytes: v('sendfileChunkBytes'), socketSendBufferBytes: v('socketSendBufferBytes') },
      maxFrameBytes: v('maxFrameBytes'),
      maxInFlightRequests: v('maxInFlightRequests'),
      connectionsMaxIdleMs: v('connectionsMaxIdleMs'),
      autoCreateTopics: v<boolean>('autoCreateTopics'),
      topicDefaults: {
        partitions: v('defaultPartitions'),
        segmentBytes: v('segmentBytes'),
        segmentMs: v('segmentMs'),
        retentionBytes: v('retentionBytes'),
        retentionMs: v('retentionMs'),
        maxBatchBytes: v('maxBatchBytes'),
        producerIdExpirationMs: v('producerIdExpirationMs'),
        producerSnapshotIntervalBytes: v('producerSnapshotIntervalBytes'),
        ...optional('flushIntervalMs'),
        ...optional('flushIntervalBytes'),
      },
      retentionCheckIntervalMs: v('retentionCheckIntervalMs'),
      groups: {
        minSessionTimeoutMs: v('groupMinSessionTimeoutMs'),
        maxSessionTimeoutMs: v('groupMaxSessionTimeoutMs'),
        initialRebalanceDelayMs: v('groupInitialRebalanceDelayMs'),
        offsetsRetentionMs: v('offsetsRetentionMs'),
      },
      shutdownTimeoutMs: v('shutdownTimeoutMs'),
      cluster: clusterSettings(values, access),
      access,
    },
    logLevel: v<string>('logLevel'),
    logFormat: v<ResolvedSettings['logFormat']>('logFormat'),
    sources,
  };
}

/** The cluster settings when --etcd-endpoints is set (then --node-id must be too); null for a single broker. */
function clusterSettings(values: Record<string, unknown>, access: AccessControl | null): BrokerConfig['cluster'] {
  if (values.etcdEndpoints === undefined) {
    if (values.nodeId !== undefined) throw new SluiceError('INVALID_CONFIG', '--node-id needs --etcd-endpoints: a single broker is node 0 of no cluster');
    return null;
  }
  if (values.nodeId === undefined) throw new SluiceError('INVALID_CONFIG', '--etcd-endpoints needs --node-id: each broker of a cluster has its own id');
  // With --auth-file, followers authenticate at their leaders with --inter-broker-token, whose
  // principal must be allowed to replicate: without one nothing would replicate. Said at start,
  // not found out later (this broker's own auth file is the one checked).
  const token = values.interBrokerToken as string | undefined;
  if (access) {
    if (token === undefined) throw new SluiceError('INVALID_CONFIG', '--auth-file in a cluster needs --inter-broker-token: followers authenticate at their leaders to replicate');
    const principal = access.principalOf(token);
    if (!principal) throw new SluiceError('INVALID_CONFIG', '--inter-broker-token is not the token of any principal in the auth file');
    if (!principal.replication) throw new SluiceError('INVALID_CONFIG', `--inter-broker-token belongs to ${principal.name}, which may not replicate: give it "replication": true in the auth file`);
  }
  return {
    ...(token !== undefined ? { interBrokerToken: token } : {}),
    nodeId: values.nodeId as number,
    etcdEndpoints: String(values.etcdEndpoints).split(','),
    clusterName: values.clusterName as string,
    rack: (values.rack as string | undefined) ?? null,
    defaultReplicationFactor: values.defaultReplicationFactor as number,
    minInsyncReplicas: values.minInsyncReplicas as number,
    replicaLagTimeMaxMs: values.replicaLagTimeMaxMs as number,
    replicaFetchWaitMaxMs: values.replicaFetchWaitMaxMs as number,
    sessionTimeoutMs: values.brokerSessionTimeoutMs as number,
    replicationTimeoutMs: values.replicationTimeoutMs as number,
    offsetsTopicPartitions: values.offsetsTopicPartitions as number,
    offsetsTopicReplicationFactor: values.offsetsTopicReplicationFactor as number,
  };
}

function readConfigFile(path: string): Record<string, unknown> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(path, 'utf8'));
  } catch (err) {
    throw new SluiceError('INVALID_CONFIG', `config file ${path}: ${(err as Error).message}`);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new SluiceError('INVALID_CONFIG', `config file ${path}: expected a JSON object`);
  const known = new Set(BROKER_SETTINGS.map((s) => s.key));
  const unknown = Object.keys(parsed).filter((k) => !known.has(k) || k === 'config');
  if (unknown.length > 0) throw new SluiceError('INVALID_CONFIG', `config file ${path}: unknown settings ${unknown.join(', ')}`);
  return parsed as Record<string, unknown>;
}
