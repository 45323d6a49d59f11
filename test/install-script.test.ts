// scripts/install.mjs in a clone (its TypeScript sources and tsconfig.json are there; the tarball
// ships dist/ only) builds only what is out of date: the addon and dist/ newer than
// every source means nothing to build (npx in a clone runs the install script again); a source
// edited since means `npm run build`. Run on a small tree whose build is an echo.

import t from 'tap';
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { tmpDir } from './helpers/tmp.js';

const repo = fileURLToPath(new URL('..', import.meta.url));

t.test('a clone whose addon and dist/ are newer than its sources builds nothing; an edited source rebuilds', async (t) => {
  const root = tmpDir(t, 'install-script');
  const files: Record<string, string> = {
    'package.json': JSON.stringify({ name: 'x', version: '0.0.0', scripts: { build: 'echo the build ran' } }),
    'Cargo.toml': '[workspace]\n',
    'tsconfig.json': '{}\n',
    'crates/log/src/lib.rs': '// a source\n',
    'src/index.ts': 'export {};\n',
    'native/index.cjs': '',
    'native/sluice.linux-x64-gnu.node': '',
    'dist/src/cli/main.js': '',
  };
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(dirname(join(root, path)), { recursive: true });
    writeFileSync(join(root, path), text);
  }
  mkdirSync(join(root, 'scripts'));
  copyFileSync(join(repo, 'scripts', 'install.mjs'), join(root, 'scripts', 'install.mjs'));
  symlinkSync(join(repo, 'node_modules'), join(root, 'node_modules')); // a clone has its dev dependencies
  const at = (path: string, seconds: number) => utimesSync(join(root, path), seconds, seconds);
  for (const source of ['package.json', 'Cargo.toml', 'tsconfig.json', 'crates/log/src/lib.rs', 'src/index.ts']) at(source, 1_000);
  for (const output of ['native/index.cjs', 'native/sluice.linux-x64-gnu.node', 'dist/src/cli/main.js']) at(output, 2_000);
  const install = () => spawnSync(process.execPath, [join(root, 'scripts', 'install.mjs')], { cwd: root, encoding: 'utf8', env: { ...process.env, npm_execpath: '' } });

  const current = install();
  t.equal(current.status, 0, current.stderr);
  t.match(current.stdout, /nothing to build/);
  t.notMatch(current.stdout, /the build ran/);

  at('crates/log/src/lib.rs', 3_000);
  const edited = install();
  t.equal(edited.status, 0, edited.stderr);
  t.match(edited.stdout, /the build ran/, 'a Rust source newer than the addon: npm run build');

  at('crates/log/src/lib.rs', 1_000);
  at('dist/src/cli/main.js', 500);
  t.match(install().stdout, /the build ran/, 'an output older than a source: npm run build');
});
