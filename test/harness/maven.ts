// Java jars from Maven Central, for the tools that run real Kafka code: a classpath resolved once by
// `mvn dependency:build-classpath` on a small pom written into a cache dir outside the repo, and
// reused while every jar it names still exists. Two processes (parallel test files, a benchmark
// beside a test) may both miss the cache: one resolves under a lock directory, the other waits.
// java, javac and mvn come from Debian's packages when missing and this runs as root (.ci/run
// installs them up front; this is for a bench run on a fresh machine).

import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

export type Log = (line: string) => void;

/** groupId, artifactId, version. */
export type MavenArtifact = readonly [string, string, string];

/** Which Debian package provides each command. */
const PACKAGES: Record<string, string> = { java: 'default-jre-headless', javac: 'default-jdk-headless', mvn: 'maven' };

function onPath(command: string): boolean {
  try {
    execFileSync('sh', ['-c', `command -v ${command}`], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** `commands` (java, javac, mvn), from Debian's packages when missing (as root); a clear error otherwise. */
export function ensureJavaTools(commands: ReadonlyArray<keyof typeof PACKAGES>, log: Log): void {
  const missing = commands.filter((c) => !onPath(c));
  if (missing.length === 0) return;
  const packages = [...new Set(missing.map((c) => PACKAGES[c]!))];
  if (process.getuid?.() !== 0) throw new Error(`${missing.join(' and ')} must be on the PATH (apt-get install ${packages.join(' ')})`);
  log(`installing ${packages.join(' and ')} from Debian's packages ...`);
  execFileSync('apt-get', ['update', '-qq'], { stdio: 'inherit' });
  execFileSync('apt-get', ['install', '-y', '-qq', ...packages], { stdio: 'inherit', env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } });
}

function pom(name: string, artifacts: readonly MavenArtifact[]): string {
  const dependencies = artifacts.map(([g, a, v]) => `    <dependency><groupId>${g}</groupId><artifactId>${a}</artifactId><version>${v}</version></dependency>`).join('\n');
  return `<?xml version="1.0" encoding="UTF-8"?>
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>dev.sluice</groupId>
  <artifactId>${name}</artifactId>
  <version>1</version>
  <packaging>pom</packaging>
  <dependencies>
${dependencies}
  </dependencies>
</project>
`;
}

/**
 * The classpath of `artifacts` and their dependencies, cached in `dir` (classpath.txt beside the
 * pom); resolved from Maven Central on a miss. `name` names the pom's project (and the log line).
 */
export function mavenClasspath(dir: string, name: string, artifacts: readonly MavenArtifact[], log: Log = () => undefined): string {
  const file = join(dir, 'classpath.txt');
  const wanted = pom(name, artifacts);
  const cached = () => {
    // A pom that changed (another artifact, another version) is a miss, not a stale hit.
    if (!existsSync(file) || !existsSync(join(dir, 'pom.xml')) || readFileSync(join(dir, 'pom.xml'), 'utf8') !== wanted) return null;
    const cp = readFileSync(file, 'utf8').trim();
    return cp.split(':').every((jar) => existsSync(jar)) ? cp : null;
  };
  const hit = cached();
  if (hit) return hit;
  mkdirSync(dirname(dir), { recursive: true });
  const unlock = lockDir(`${dir}.lock`, log);
  try {
    const resolved = cached();
    if (resolved) return resolved;
    ensureJavaTools(['java', 'mvn'], log);
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'pom.xml'), wanted);
    log(`${name}: resolving ${artifacts.map(([, a, v]) => `${a} ${v}`).join(', ')} from Maven Central into ${dir} ...`);
    const partial = `${file}.${process.pid}`;
    execFileSync('mvn', ['-q', '-B', '-f', join(dir, 'pom.xml'), 'dependency:build-classpath', `-Dmdep.outputFile=${partial}`], { stdio: ['ignore', 'inherit', 'inherit'] });
    renameSync(partial, file);
    return readFileSync(file, 'utf8').trim();
  } finally {
    unlock();
  }
}

/** Takes a lock directory, waiting (up to 15 minutes: a first Maven download) while another process holds it. */
export function lockDir(path: string, log: Log): () => void {
  const deadline = Date.now() + 15 * 60_000;
  let told = false;
  for (;;) {
    try {
      mkdirSync(path);
      return () => rmSync(path, { recursive: true, force: true });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      if (Date.now() > deadline) throw new Error(`${path} is still held after 15 minutes (remove it if no resolution is running)`);
      if (!told) log(`waiting for another process (${path}) ...`);
      told = true;
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 200);
    }
  }
}
