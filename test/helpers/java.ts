// Apache Kafka's own Java code, unmodified, for the tests: the Java client (kafka-clients) and the
// command-line tools (kafka-tools: TopicCommand, ConsumerGroupCommand, ConsoleProducer, ...) at
// JAVA_KAFKA_VERSION from Maven Central (../harness/maven.ts; cached under
// ~/.cache/sluice/java-clients-<version>/), and test/java/*.java compiled by plain javac into a
// cache dir named by a hash of the sources and the classpath (so an edit recompiles, once).
// A scenario is one JVM that prints one JSON object per line (see test/java/SluiceJavaClient.java).

import { execFile, execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, renameSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ensureJavaTools, lockDir, mavenClasspath, type MavenArtifact } from '../harness/maven.js';

export const JAVA_KAFKA_VERSION = '4.4.0';

const SOURCES = fileURLToPath(new URL('../java/', import.meta.url));
const CACHE = process.env.SLUICE_JAVA_CACHE ?? join(homedir(), '.cache', 'sluice');

/** The client, the tools, and slf4j-simple at the slf4j-api version Kafka's poms bring (1.7.x), so warnings reach stderr. */
const ARTIFACTS: MavenArtifact[] = [
  ['org.apache.kafka', 'kafka-clients', JAVA_KAFKA_VERSION],
  ['org.apache.kafka', 'kafka-tools', JAVA_KAFKA_VERSION],
  ['org.slf4j', 'slf4j-simple', '1.7.36'],
];

/**
 * Startup flags only (C1 compiler only, a small heap): a test's JVM lives for seconds. The client's
 * own settings are untouched; slf4j-simple logs warnings and errors, not the INFO config dumps.
 */
const JVM_FLAGS = ['-XX:TieredStopAtLevel=1', '-XX:+UseSerialGC', '-Xmx256m', '-Dorg.slf4j.simpleLogger.defaultLogLevel=warn'];

const log = (line: string) => process.stderr.write(`# ${line}\n`);

let classpath: string | undefined;

/** Kafka's jars and the compiled test/java classes: resolved and compiled on first use, then cached on disk. */
export function javaClasspath(): string {
  if (classpath) return classpath;
  const jars = mavenClasspath(join(CACHE, `java-clients-${JAVA_KAFKA_VERSION}`), 'java-clients', ARTIFACTS, log);
  const files = readdirSync(SOURCES).filter((f) => f.endsWith('.java')).sort();
  const hash = createHash('sha256').update(jars);
  for (const f of files) hash.update(f).update(readFileSync(join(SOURCES, f)));
  const classes = join(CACHE, 'java-client-classes', hash.digest('hex').slice(0, 16));
  if (!existsSync(classes)) {
    mkdirSync(join(CACHE, 'java-client-classes'), { recursive: true });
    const unlock = lockDir(`${classes}.lock`, log);
    try {
      if (!existsSync(classes)) {
        ensureJavaTools(['javac'], log);
        // Compiled beside, then renamed: a run that dies mid-compile leaves no half a cache entry.
        const partial = mkdtempSync(`${classes}.partial-`);
        execFileSync('javac', ['-nowarn', '-d', partial, '-cp', jars, ...files.map((f) => join(SOURCES, f))], { stdio: ['ignore', 'inherit', 'inherit'] });
        renameSync(partial, classes);
      }
    } finally {
      unlock();
    }
  }
  classpath = `${classes}:${jars}`;
  return classpath;
}

export interface JavaRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs `main` from the classpath with `args` (and `input` on stdin); resolves whatever its exit code, rejects only on a timeout. */
export function runJava(main: string, args: string[], options: { input?: string; timeoutMs?: number } = {}): Promise<JavaRun> {
  const cp = javaClasspath();
  return new Promise((resolve, reject) => {
    const child = execFile('java', [...JVM_FLAGS, '-cp', cp, main, ...args], { timeout: options.timeoutMs ?? 60_000, maxBuffer: 64 << 20, killSignal: 'SIGKILL' }, (err, stdout, stderr) => {
      if (err && err.killed) reject(new Error(`${main} ${args.join(' ')}: killed after ${options.timeoutMs ?? 60_000} ms\nstdout: ${stdout}\nstderr: ${stderr}`));
      else resolve({ code: err ? (typeof err.code === 'number' ? err.code : null) : 0, stdout, stderr });
    });
    child.stdin!.end(options.input ?? '');
  });
}

/** One check's line: its name, an error if it threw, and whatever it reported. */
export type CheckLine = { check: string; error?: { class: string; message: string; outer?: string } } & Record<string, unknown>;

export interface ScenarioRun extends JavaRun {
  checks: CheckLine[];
}

/** Runs a SluiceJavaClient scenario against `bootstrap`; its checks, parsed (a line that is not JSON is a failure). */
export async function runScenario(scenario: string, bootstrap: string, options: Record<string, string | number> = {}, timeoutMs = 60_000): Promise<ScenarioRun> {
  const args = [scenario, '--bootstrap', bootstrap, ...Object.entries(options).flatMap(([k, v]) => [`--${k}`, String(v)])];
  const run = await runJava('SluiceJavaClient', args, { timeoutMs });
  const checks = run.stdout
    .split('\n')
    .filter((line) => line !== '')
    .map((line) => JSON.parse(line) as CheckLine);
  return { ...run, checks };
}

/** The checks of `run` named `name`, in order. */
export function checksNamed(run: ScenarioRun, name: string): CheckLine[] {
  return run.checks.filter((c) => c.check === name);
}
