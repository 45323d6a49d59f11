// The package as users meet it. A fresh clone's `npm install` must leave the tree clean: npm
// resolving the committed lock again (package-lock-only, no scripts) writes it back unchanged.
// (An earlier lock lacked the optional platform entries npm adds, so every install rewrote it.)
// The packed tarball installs into an empty project and globally, building the addon from the
// Rust sources it carries, and says in one line that cargo is missing when it is.

import t from 'tap';
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { tmpDir } from './helpers/tmp.js';

const root = fileURLToPath(new URL('..', import.meta.url));

t.test('npm resolving the committed lock writes it back byte for byte', async (t) => {
  const dir = tmpDir(t);
  for (const f of ['package.json', 'package-lock.json']) copyFileSync(join(root, f), join(dir, f));
  const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
  const run = spawnSync(npm, ['install', '--package-lock-only', '--ignore-scripts', '--no-audit', '--no-fund'], { cwd: dir, encoding: 'utf8', timeout: 120_000 });
  t.equal(run.status, 0, run.stderr);
  t.ok(readFileSync(join(dir, 'package-lock.json')).equals(readFileSync(join(root, 'package-lock.json'))), 'package-lock.json unchanged');
});

/** Runs npm with `args` in `cwd`; the repo's cargo target dir is shared so the addon's dependencies are not rebuilt. */
function npm(cwd: string, args: string[], env: NodeJS.ProcessEnv = {}) {
  return spawnSync('npm', args, { cwd, encoding: 'utf8', timeout: 600_000, env: { ...process.env, CARGO_TARGET_DIR: join(root, 'target'), ...env } });
}

t.test('npm pack, then install the tarball into an empty project and globally; without cargo, one clear line', async (t) => {
  const dir = tmpDir(t);
  // --ignore-scripts: dist/ is built already (npm test builds it first), and rebuilding it here would
  // rewrite files that other tests running beside this one are loading.
  const pack = spawnSync('npm', ['pack', '--ignore-scripts', '--pack-destination', dir], { cwd: root, encoding: 'utf8', timeout: 300_000 });
  t.equal(pack.status, 0, pack.stderr);
  const tarball = join(dir, 'sluice-0.1.0.tgz');
  const listed = spawnSync('tar', ['tzf', tarball], { encoding: 'utf8' }).stdout.split('\n');
  t.ok(listed.includes('package/crates/node/src/lib.rs') && listed.includes('package/Cargo.lock') && listed.includes('package/scripts/install.mjs'), 'the tarball carries what the native build needs');
  t.notOk(listed.some((f) => f.endsWith('.node')), 'and no prebuilt binary');

  const app = join(dir, 'app');
  mkdirSync(app);
  writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'app', version: '1.0.0', private: true, type: 'module' }));
  const installed = npm(app, ['install', '--no-audit', '--no-fund', tarball]);
  t.equal(installed.status, 0, installed.stderr.slice(-2000));
  // As a user runs it in their project: npx finds the installed bin (offline: nothing is fetched).
  const help = spawnSync('npx', ['sluice', '--help'], { cwd: app, encoding: 'utf8', timeout: 60_000, env: { ...process.env, npm_config_offline: 'true' } });
  t.equal(help.status, 0, help.stderr);
  t.match(help.stdout, /^Usage: sluice/m);
  // An app's TypeScript against the installed package, skipLibCheck off.
  if (!existsSync(join(app, 'node_modules', '@types', 'node'))) {
    mkdirSync(join(app, 'node_modules', '@types'), { recursive: true });
    symlinkSync(join(root, 'node_modules', '@types', 'node'), join(app, 'node_modules', '@types', 'node'));
  }
  writeFileSync(join(app, 'main.ts'), "import { Producer, Consumer, Admin, startBroker } from 'sluice';\nexport const parts = [Producer, Consumer, Admin, startBroker];\n");
  writeFileSync(join(app, 'tsconfig.json'), JSON.stringify({ compilerOptions: { module: 'NodeNext', moduleResolution: 'NodeNext', target: 'ES2022', strict: true, skipLibCheck: false, noEmit: true, types: ['node'] }, files: ['main.ts'] }));
  const tsc = spawnSync(process.execPath, [join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', app], { encoding: 'utf8' });
  t.equal(tsc.status, 0, tsc.stdout);

  const prefix = join(dir, 'global');
  const global = npm(dir, ['install', '-g', '--prefix', prefix, '--no-audit', '--no-fund', tarball]);
  t.equal(global.status, 0, global.stderr.slice(-2000));
  const version = spawnSync(join(prefix, 'bin', 'sluice'), ['--version'], { encoding: 'utf8' });
  t.equal(version.stdout.trim(), '0.1.0', 'the global sluice command runs');

  const bare = join(dir, 'bare');
  mkdirSync(bare);
  writeFileSync(join(bare, 'package.json'), JSON.stringify({ name: 'bare', version: '1.0.0', private: true }));
  const noCargo = npm(bare, ['install', '--no-audit', '--no-fund', tarball], { CARGO: join(dir, 'no-such-cargo') });
  t.not(noCargo.status, 0);
  t.match(noCargo.stderr, /sluice: cannot build the native addon: .*no-such-cargo \(Rust\) was not found; install Rust/);
});
