// `npm install`'s build step, in a clone and from the packed tarball alike.
//
// - In a clone (the napi-rs CLI and TypeScript are there as dev dependencies): `npm run build`,
//   which builds the addon with `napi build` (it also writes native/index.cjs and .d.cts) and the
//   TypeScript into dist/.
// - From the tarball (dist/, native/index.cjs and .d.cts ship in it, dev dependencies do not): the
//   addon is built from the Rust sources the tarball carries (crates/, Cargo.toml, Cargo.lock) with
//   cargo, and the library copied where native/index.cjs looks for it.
//
// Without cargo it fails with one line saying so (the clients alone would run without the addon,
// but the package's broker and CLI need it). `CARGO` names another cargo binary.

import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readdirSync, rmSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const require = createRequire(import.meta.url);

function resolvable(name) {
  try {
    require.resolve(name, { paths: [root] });
    return true;
  } catch {
    return false;
  }
}

function run(command, args, env = process.env) {
  const r = spawnSync(command, args, { cwd: root, stdio: 'inherit', env });
  if (r.error) return r.error;
  if (r.status !== 0) process.exit(r.status ?? 1);
  return undefined;
}

/** The newest modification time (ms) under `path` of files `keep` accepts; 0 when there are none. */
function newest(path, keep) {
  if (!existsSync(path)) return 0;
  const stat = statSync(path);
  if (!stat.isDirectory()) return keep(path) ? stat.mtimeMs : 0;
  return readdirSync(path).reduce((max, name) => (name === 'target' || name === 'node_modules' ? max : Math.max(max, newest(join(path, name), keep))), 0);
}

/**
 * In a clone, whether the addon and dist/ are newer than everything they are built from (as make
 * decides): then there is nothing to build. npm runs this script again in situations that change
 * no source, such as the first `npx sluice` in the clone (npm links the package into its cache and
 * runs its install script), which would otherwise rebuild everything under a running broker.
 */
function builtAndCurrent() {
  const outputs = [join(root, 'native', 'index.cjs'), join(root, 'dist', 'src', 'cli', 'main.js'), ...(existsSync(join(root, 'native')) ? readdirSync(join(root, 'native')).filter((n) => n.endsWith('.node')).map((n) => join(root, 'native', n)) : [])];
  if (outputs.length < 3 || !outputs.every((o) => existsSync(o))) return false;
  const oldestOutput = Math.min(...outputs.map((o) => statSync(o).mtimeMs));
  const sources = (p) => /\.(rs|toml|ts|json|lock)$/.test(p);
  const inputs = ['crates', 'src', 'Cargo.toml', 'Cargo.lock', 'tsconfig.json', 'package.json'].map((p) => newest(join(root, p), sources));
  return Math.max(...inputs) <= oldestOutput;
}

// A clone has the TypeScript sources and their tsconfig; the tarball ships dist/ only (an app that
// installs it may well have typescript and @napi-rs/cli of its own, resolvable from here).
const clone = existsSync(join(root, 'tsconfig.json')) && existsSync(join(root, 'src'));
if (clone && resolvable('@napi-rs/cli/package.json') && resolvable('typescript')) {
  if (builtAndCurrent()) {
    console.log('sluice: the native addon and dist/ are newer than their sources: nothing to build (npm run build rebuilds them)');
    process.exit(0);
  }
  const npm = process.env.npm_execpath;
  const failed = npm ? run(process.execPath, [npm, 'run', 'build']) : run('npm', ['run', 'build']);
  if (failed) throw failed;
  process.exit(0);
}

// From the tarball: cargo builds the binding crate; the library becomes native/sluice.<platform>.node.
// No `bench` feature: the benchmarks' native load generators (crates/loadgen) stay out of it.
const triple = { 'linux x64': 'linux-x64-gnu', 'linux arm64': 'linux-arm64-gnu' }[`${process.platform} ${process.arch}`];
if (!triple) {
  console.error(`sluice: cannot build the native addon: ${process.platform}/${process.arch} is not a supported platform (Linux x64 or arm64)`);
  process.exit(1);
}
const cargo = process.env.CARGO || 'cargo';
const probe = spawnSync(cargo, ['--version'], { encoding: 'utf8' });
if (probe.error || probe.status !== 0) {
  console.error(`sluice: cannot build the native addon: ${cargo} (Rust) was not found; install Rust (https://rustup.rs, or your distribution's cargo package) and run npm rebuild sluice`);
  process.exit(1);
}
const ownTarget = !process.env.CARGO_TARGET_DIR;
const targetDir = process.env.CARGO_TARGET_DIR || join(root, 'target');
const failed = run(cargo, ['build', '--release', '--locked', '-p', 'sluice-node', '--manifest-path', join(root, 'Cargo.toml')]);
if (failed) throw failed;
const built = join(targetDir, 'release', 'libsluice_node.so');
if (!existsSync(built)) {
  console.error(`sluice: cargo finished but ${built} is not there`);
  process.exit(1);
}
mkdirSync(join(root, 'native'), { recursive: true });
copyFileSync(built, join(root, 'native', `sluice.${triple}.node`));
// The build tree is hundreds of megabytes the installed package does not need.
if (ownTarget) rmSync(targetDir, { recursive: true, force: true });
