// The package as users meet it. A fresh clone's `npm install` must leave the tree clean: npm
// resolving the committed lock again (package-lock-only, no scripts) writes it back unchanged.
// (An earlier lock lacked the optional platform entries npm adds, so every install rewrote it.)

import t from 'tap';
import { spawnSync } from 'node:child_process';
import { copyFileSync, readFileSync } from 'node:fs';
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
