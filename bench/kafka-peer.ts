// Apache Kafka as a peer in Sluice's benchmarks: the broker Sluice imitates, run on the same machine
// in the same run, so that the figures compare side by side.
//
// On first use the jars come from Maven Central (../test/harness/maven.ts) into a cache outside the
// repo (SLUICE_KAFKA_CACHE, default ~/.cache/sluice/kafka-<version>/); java and mvn are installed
// from Debian's packages when missing and this runs as root. A peer is a single-node KRaft broker
// (broker and controller in one JVM), formatted in a temp dir with `--standalone`, started with the
// settings of the server.properties Kafka ships (3 network threads, 8 I/O threads, 100 KiB socket
// buffers, 1 GiB segments) and the JVM flags of kafka-server-start.sh (1 GiB heap, G1), on loopback
// ports picked free.

import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { freePort, startBenchBroker, type BenchBroker } from '../test/harness/broker-process.js';
import { mavenClasspath, type Log, type MavenArtifact } from '../test/harness/maven.js';
import { KafkaBenchClient } from './kafka-requests.js';

export const DEFAULT_KAFKA_VERSION = '4.4.0';

/** kafka-server-start.sh's heap and kafka-run-class.sh's performance flags. */
const STOCK_JVM_FLAGS = [
  '-Xmx1G',
  '-Xms1G',
  '-server',
  '-XX:+UseG1GC',
  '-XX:MaxGCPauseMillis=20',
  '-XX:InitiatingHeapOccupancyPercent=35',
  '-XX:+ExplicitGCInvokesConcurrent',
  '-XX:MaxInlineLevel=15',
  '-Djava.awt.headless=true',
];

/** Kafka's jars, and slf4j-simple at the slf4j-api version Kafka's pom brings (1.7.x), so the broker's warnings reach stderr. */
function artifacts(version: string): MavenArtifact[] {
  return [
    ['org.apache.kafka', 'kafka_2.13', version],
    ['org.slf4j', 'slf4j-simple', '1.7.36'],
  ];
}

/** The broker's classpath, resolved from Maven Central once and cached. */
export function kafkaClasspath(version: string, log: Log = () => undefined): string {
  const dir = process.env.SLUICE_KAFKA_CACHE ?? join(homedir(), '.cache', 'sluice', `kafka-${version}`);
  return mavenClasspath(dir, 'kafka-peer', artifacts(version), log);
}

export interface KafkaPeer {
  proc: ChildProcess;
  /** The PLAINTEXT listener. */
  kafkaPort: number;
  version: string;
  /** Seconds from spawning the JVM to its first answered request. */
  startSeconds: number;
  stop(): Promise<void>;
}

function serverProperties(dataDir: string, port: number, controllerPort: number): string {
  // Kafka's shipped config/server.properties, with loopback addresses, free ports and a temp log dir.
  return `process.roles=broker,controller
node.id=1
controller.quorum.bootstrap.servers=127.0.0.1:${controllerPort}
listeners=PLAINTEXT://127.0.0.1:${port},CONTROLLER://127.0.0.1:${controllerPort}
advertised.listeners=PLAINTEXT://127.0.0.1:${port},CONTROLLER://127.0.0.1:${controllerPort}
inter.broker.listener.name=PLAINTEXT
controller.listener.names=CONTROLLER
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT,SSL:SSL,SASL_PLAINTEXT:SASL_PLAINTEXT,SASL_SSL:SASL_SSL
num.network.threads=3
num.io.threads=8
socket.send.buffer.bytes=102400
socket.receive.buffer.bytes=102400
socket.request.max.bytes=104857600
log.dirs=${join(dataDir, 'logs')}
num.partitions=1
num.recovery.threads.per.data.dir=1
offsets.topic.replication.factor=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
log.retention.hours=168
log.segment.bytes=1073741824
log.retention.check.interval.ms=300000
`;
}

/**
 * Formats and starts a single-node KRaft broker in a fresh dir under `dir`; resolves once it
 * answers on its Kafka port. `stop()` ends it (SIGTERM, SIGKILL after 10 s) and removes the dir.
 */
export async function startKafkaPeer(dir: string, version = DEFAULT_KAFKA_VERSION, log: (line: string) => void = () => undefined): Promise<KafkaPeer> {
  const classpath = kafkaClasspath(version, log);
  const dataDir = mkdtempSync(join(dir, 'sluice-bench-kafka-'));
  const [port, controllerPort] = [await freePort(), await freePort()];
  const config = join(dataDir, 'server.properties');
  writeFileSync(config, serverProperties(dataDir, port, controllerPort));
  const java = (main: string, args: string[], level: string) => ['-cp', classpath, `-Dorg.slf4j.simpleLogger.defaultLogLevel=${level}`, main, ...args];
  // As Kafka's own Uuid.randomUuid: never an id that starts with '-', which the tool's argument parser would read as a flag.
  let clusterId: string;
  do clusterId = randomBytes(16).toString('base64url');
  while (clusterId.startsWith('-'));
  execFileSync('java', java('kafka.tools.StorageTool', ['format', '--standalone', `--cluster-id=${clusterId}`, '-c', config], 'warn'), { stdio: ['ignore', 'ignore', 'inherit'] });
  const t0 = performance.now();
  let stderr = '';
  const proc = spawn('java', [...STOCK_JVM_FLAGS, ...java('kafka.Kafka', [config], 'warn')], { stdio: ['ignore', 'ignore', 'pipe'] });
  proc.stderr!.setEncoding('utf8').on('data', (d: string) => {
    stderr = (stderr + d).slice(-20_000);
  });
  const exited = once(proc, 'exit').then(([code]) => {
    throw new Error(`Apache Kafka exited with ${code} before it was ready: ${stderr}`);
  });
  exited.catch(() => undefined); // raced below; its later rejection (after a stop) is nobody's business
  const stop = async () => {
    if (proc.exitCode === null && proc.signalCode === null) {
      proc.kill('SIGTERM');
      const timer = setTimeout(() => proc.kill('SIGKILL'), 10_000);
      await once(proc, 'exit');
      clearTimeout(timer);
    }
    rmSync(dataDir, { recursive: true, force: true });
  };
  try {
    const client = await Promise.race([KafkaBenchClient.connectWhenListening(port, 60_000), exited]);
    await client.close();
  } catch (e) {
    await stop();
    throw e;
  }
  return { proc, kafkaPort: port, version, startSeconds: (performance.now() - t0) / 1000, stop };
}

/** A broker's Kafka port and process, for a cell that measures it. */
export interface PeerTarget {
  broker: 'sluice' | 'kafka';
  port: number;
  pid: number;
}

/**
 * Runs `fn` with a Sluice broker (its Kafka listener on) and an Apache Kafka peer side by side,
 * Sluice first in `targets`; stops both and removes their data after, whatever happens.
 */
export async function withSluiceAndKafka<T>(
  dir: string,
  version: string,
  log: (line: string) => void,
  fn: (targets: PeerTarget[], peer: KafkaPeer) => Promise<T>,
  sluiceArgs: string[] = [],
): Promise<T> {
  const dataDir = mkdtempSync(join(dir, 'sluice-bench-peer-'));
  let broker: BenchBroker | null = null;
  let peer: KafkaPeer | null = null;
  try {
    broker = await startBenchBroker(dataDir, 'sendfile', [...sluiceArgs, '--kafka-port', String(await freePort())]);
    log(`starting Apache Kafka ${version} (KRaft, single node, stock settings) ...`);
    peer = await startKafkaPeer(dir, version, log);
    return await fn(
      [
        { broker: 'sluice', port: broker.kafkaPort!, pid: broker.proc.pid! },
        { broker: 'kafka', port: peer.kafkaPort, pid: peer.proc.pid! },
      ],
      peer,
    );
  } finally {
    await broker?.stop();
    await peer?.stop();
    rmSync(dataDir, { recursive: true, force: true });
  }
}
