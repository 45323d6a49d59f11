// Apache Kafka as a peer in Sluice's benchmarks: the broker Sluice imitates, run on the same machine
// in the same run, so that the figures compare side by side.
//
// On first use the jars come from Maven Central (`mvn dependency:build-classpath` on a small pom
// this module writes) into a cache outside the repo (SLUICE_KAFKA_CACHE, default
// ~/.cache/sluice/kafka-<version>/); java and mvn are installed from Debian's packages when missing
// and this runs as root. A peer is a single-node KRaft broker (broker and controller in one JVM),
// formatted in a temp dir with `--standalone`, started with the settings of the server.properties
// Kafka ships (3 network threads, 8 I/O threads, 100 KiB socket buffers, 1 GiB segments) and the
// JVM flags of kafka-server-start.sh (1 GiB heap, G1), on loopback ports picked free.

import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { freePort, startBenchBroker, type BenchBroker } from '../test/harness/broker-process.js';
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

function onPath(command: string): boolean {
  try {
    execFileSync('sh', ['-c', `command -v ${command}`], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** java and mvn, from Debian's packages when missing (as root); a clear error otherwise. */
function ensureJavaAndMaven(log: (line: string) => void): void {
  const missing = ['java', 'mvn'].filter((c) => !onPath(c));
  if (missing.length === 0) return;
  if (process.getuid?.() !== 0) throw new Error(`the Kafka peer needs ${missing.join(' and ')} on the PATH (apt-get install default-jre-headless maven)`);
  log(`kafka peer: installing ${missing.join(' and ')} from Debian's packages ...`);
  execFileSync('apt-get', ['update', '-qq'], { stdio: 'inherit' });
  execFileSync('apt-get', ['install', '-y', '-qq', 'default-jre-headless', 'maven'], { stdio: 'inherit', env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } });
}

function pom(version: string): string {
  // slf4j-simple at the slf4j-api version Kafka's pom brings (1.7.x), so the broker's warnings reach stderr.
  return `<?xml version="1.0" encoding="UTF-8"?>
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>dev.sluice.bench</groupId>
  <artifactId>kafka-peer</artifactId>
  <version>1</version>
  <packaging>pom</packaging>
  <dependencies>
    <dependency><groupId>org.apache.kafka</groupId><artifactId>kafka_2.13</artifactId><version>${version}</version></dependency>
    <dependency><groupId>org.slf4j</groupId><artifactId>slf4j-simple</artifactId><version>1.7.36</version></dependency>
  </dependencies>
</project>
`;
}

/** The broker's classpath, resolved from Maven Central once and cached. */
export function kafkaClasspath(version: string, log: (line: string) => void = () => undefined): string {
  const dir = process.env.SLUICE_KAFKA_CACHE ?? join(homedir(), '.cache', 'sluice', `kafka-${version}`);
  const file = join(dir, 'classpath.txt');
  const cached = () => {
    if (!existsSync(file)) return null;
    const cp = readFileSync(file, 'utf8').trim();
    return cp.split(':').every((jar) => existsSync(jar)) ? cp : null;
  };
  const hit = cached();
  if (hit) return hit;
  // Two processes (parallel test files) may both find no cache: one resolves, the other waits for it.
  mkdirSync(dirname(dir), { recursive: true });
  const unlock = lockDir(`${dir}.lock`, log);
  try {
    const resolved = cached();
    if (resolved) return resolved;
    ensureJavaAndMaven(log);
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'pom.xml'), pom(version));
    log(`kafka peer: resolving Apache Kafka ${version} from Maven Central into ${dir} ...`);
    const partial = `${file}.${process.pid}`;
    execFileSync('mvn', ['-q', '-B', '-f', join(dir, 'pom.xml'), 'dependency:build-classpath', `-Dmdep.outputFile=${partial}`], { stdio: ['ignore', 'inherit', 'inherit'] });
    renameSync(partial, file);
    return readFileSync(file, 'utf8').trim();
  } finally {
    unlock();
  }
}

/** Takes a lock directory, waiting (up to 15 minutes: a first Maven download) while another process holds it. */
function lockDir(path: string, log: (line: string) => void): () => void {
  const deadline = Date.now() + 15 * 60_000;
  let told = false;
  for (;;) {
    try {
      mkdirSync(path);
      return () => rmSync(path, { recursive: true, force: true });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      if (Date.now() > deadline) throw new Error(`kafka peer: ${path} is still held after 15 minutes (remove it if no resolution is running)`);
      if (!told) log(`kafka peer: waiting for another process resolving Kafka (${path}) ...`);
      told = true;
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 200);
    }
  }
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
