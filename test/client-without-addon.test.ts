// A client-only install: the package without its native addon (as on a machine that installed it
// with no Rust toolchain). `import { Producer, Consumer, Admin } from 'sluice'` must work there (the
// codec's CRC-32C falls back to pure TypeScript), talk to a real broker, and its types must compile
// with skipLibCheck off. The app dir below holds the package's files (dist, package.json,
// native/index.cjs and .d.cts) but no .node binary.

import t, { type Test } from 'tap';
import { spawnSync } from 'node:child_process';
import { copyFileSync, cpSync, mkdirSync, readdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startBroker } from './helpers/broker.js';
import { tmpDir } from './helpers/tmp.js';

const root = fileURLToPath(new URL('..', import.meta.url));

/** `deps`: which of the package's dependencies the app has (all, or only the named ones). */
function clientOnlyApp(t: Test, deps: 'all' | string[] = 'all'): string {
  const app = tmpDir(t);
  const pkg = join(app, 'node_modules', 'sluice');
  mkdirSync(join(pkg, 'native'), { recursive: true });
  copyFileSync(join(root, 'package.json'), join(pkg, 'package.json'));
  cpSync(join(root, 'dist'), join(pkg, 'dist'), { recursive: true });
  for (const f of ['index.cjs', 'index.d.cts']) copyFileSync(join(root, 'native', f), join(pkg, 'native', f));
  t.ok(!readdirSync(join(pkg, 'native')).some((f) => f.endsWith('.node')), 'no addon binary in the app');
  // The package's dependencies, and @types/node for the app's own type check.
  if (deps === 'all') symlinkSync(join(root, 'node_modules'), join(pkg, 'node_modules'));
  else {
    mkdirSync(join(pkg, 'node_modules'));
    for (const d of deps) symlinkSync(join(root, 'node_modules', d), join(pkg, 'node_modules', d));
  }
  symlinkSync(join(root, 'node_modules', '@types'), join(app, 'node_modules', '@types'));
  writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'app', type: 'module', private: true }));
  return app;
}

t.test('Producer, Consumer and Admin work without the addon, and load nothing but the codec: msgpackr is the only dependency there', async (t) => {
  const broker = await startBroker(t);
  const app = clientOnlyApp(t, ['msgpackr']);
  writeFileSync(
    join(app, 'client.mjs'),
    `import { Admin, Consumer, Producer, crc32c, nativeAvailable } from 'sluice';
const broker = process.env.BROKER;
const admin = new Admin({ broker });
await admin.createTopic('plain', { partitions: 1 });
await admin.close();
const producer = new Producer({ broker, acks: 1 });
await producer.send('plain', Array.from({ length: 100 }, (_, i) => ({ key: 'k', value: 'v' + i })));
await producer.close();
const consumer = new Consumer({ broker });
await consumer.assign([{ topic: 'plain', partition: 0, offset: 0n }]);
const values = [];
for await (const m of consumer) { values.push(m.value.toString()); if (values.length === 100) break; }
await consumer.close();
console.log(JSON.stringify({ nativeAvailable, values, crc: crc32c(Buffer.from('123456789')) }));
`,
  );
  const run = spawnSync(process.execPath, ['client.mjs'], { cwd: app, encoding: 'utf8', env: { ...process.env, BROKER: `127.0.0.1:${broker.port}` }, timeout: 60_000 });
  t.equal(run.status, 0, run.stderr);
  const out = JSON.parse(run.stdout) as { nativeAvailable: boolean; values: string[]; crc: number };
  t.equal(out.nativeAvailable, false);
  t.same(out.values, Array.from({ length: 100 }, (_, i) => `v${i}`), 'records produced and consumed back, CRCs checked both ways');
  t.equal(out.crc, 0xe3069283, 'the pure TypeScript CRC-32C');
});

t.test('without the addon, starting a broker says what is missing', async (t) => {
  const app = clientOnlyApp(t);
  writeFileSync(join(app, 'broker.mjs'), "import { startBroker } from 'sluice';\ntry { await startBroker(); } catch (err) { console.log(err.message); }\n");
  const run = spawnSync(process.execPath, ['broker.mjs'], { cwd: app, encoding: 'utf8', timeout: 60_000 });
  t.equal(run.status, 0, run.stderr);
  t.match(run.stdout, /the native addon is not built .*the broker and the storage core need it.*clients .* work without it/);
});

t.test("an app's TypeScript compiles against the package's types with skipLibCheck off", async (t) => {
  const app = clientOnlyApp(t);
  writeFileSync(
    join(app, 'consumer.ts'),
    `import { Consumer, Producer, Subscription, startBroker, type Message, type RecordMetadata } from 'sluice';
export async function main(): Promise<void> {
  const broker = await startBroker();
  const producer = new Producer({ broker: broker.address });
  const sent: RecordMetadata[] = await producer.send('t', { value: 'x' });
  const consumer = new Consumer({ broker: broker.address, groupId: 'g' });
  consumer.subscribe(['t']);
  for await (const m of consumer) { const message: Message = m; console.log(message.offset, sent[0]?.offset); break; }
  const s = await Subscription.open({ broker: broker.address, topic: 't', offset: 'earliest' });
  for await (const push of s) { console.log(push.nextOffset); break; }
  await broker.close();
}
`,
  );
  writeFileSync(
    join(app, 'tsconfig.json'),
    JSON.stringify({ compilerOptions: { target: 'ES2022', module: 'NodeNext', moduleResolution: 'NodeNext', strict: true, skipLibCheck: false, noEmit: true, types: ['node'] }, files: ['consumer.ts'] }),
  );
  const tsc = spawnSync(process.execPath, [join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', app], { encoding: 'utf8', timeout: 120_000 });
  t.equal(tsc.status, 0, tsc.stdout + tsc.stderr);
});
