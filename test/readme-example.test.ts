// The README's TypeScript quick-start block, exactly as printed, against a real broker: it must
// run twice in a row (the second run meets the topic it created) and end on its own, closing what
// it opens. Only the broker address line is pointed at the test's broker.

import t from 'tap';
import { readmeBlock } from './helpers/readme.js';
import { spawnSync } from 'node:child_process';
import { symlinkSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startBroker } from './helpers/broker.js';
import { tmpDir } from './helpers/tmp.js';

const root = fileURLToPath(new URL('..', import.meta.url));

t.test("the README's TypeScript quick start runs twice and exits on its own", async (t) => {
  const block = readmeBlock('From TypeScript (this block runs as it is', 'ts');
  t.match(block, /^const broker = '127\.0\.0\.1:9292';$/m, 'the block names the default broker on one line');
  const broker = await startBroker(t);
  const app = tmpDir(t);
  mkdirSync(join(app, 'node_modules'));
  symlinkSync(root, join(app, 'node_modules', 'sluice'));
  // The block is TypeScript without types, so it runs as a module as it is.
  writeFileSync(join(app, 'quickstart.mjs'), block.replace("const broker = '127.0.0.1:9292';", `const broker = '127.0.0.1:${broker.port}';`));
  for (const run of [1, 2]) {
    const r = spawnSync(process.execPath, ['quickstart.mjs'], { cwd: app, encoding: 'utf8', timeout: 60_000 });
    t.equal(r.status, 0, `run ${run}: ${r.stderr}`);
    t.equal(r.signal, null, `run ${run} ended on its own`);
    t.match(r.stdout, /^\d+ \d+n \{"qty":2\}$/m, `run ${run} printed the record (offsets are bigints)`);
  }
});
