// The service files in the repo start a broker the way they say: the systemd unit's ExecStart and
// the Dockerfile's CMD, run here with the data dir and ports swapped for a temp dir and free ports,
// must reach the ready line and stop cleanly on SIGTERM (what systemd and docker send).
// (`systemd-analyze verify deploy/sluice.service` and `docker build .` need a system and a daemon
// that CI does not have; this checks what they would run.)

import t from 'tap';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { freePort } from './harness/broker-process.js';
import { BROKER_NODE_FLAGS } from '../src/app/settings.js';
import { MAIN } from './helpers/broker.js';
import { tmpDir } from './helpers/tmp.js';

const root = fileURLToPath(new URL('..', import.meta.url));

/** The Node flags the `sluice` command's shebang passes (the unit runs the command). */
function shebangFlags(): string[] {
  const line = readFileSync(MAIN, 'utf8').split('\n')[0]!;
  const words = line.split(/\s+/);
  if (words[0] !== '#!/usr/bin/env' || words[1] !== '-S' || words[2] !== 'node') throw new Error(`unexpected shebang ${line}`);
  return words.slice(3);
}

function unitArgs(): { nodeFlags: string[]; args: string[] } {
  const line = readFileSync(`${root}deploy/sluice.service`, 'utf8').split('\n').find((l) => l.startsWith('ExecStart='))!;
  const words = line.slice('ExecStart='.length).split(/\s+/).filter(Boolean);
  if (!words[0]!.endsWith('/sluice')) throw new Error(`ExecStart runs ${words[0]}, not sluice`);
  return { nodeFlags: shebangFlags(), args: words.slice(1) };
}

function dockerArgs(): { nodeFlags: string[]; args: string[] } {
  const line = readFileSync(`${root}Dockerfile`, 'utf8').split('\n').find((l) => l.startsWith('CMD '))!;
  const words = JSON.parse(line.slice(4)) as string[];
  const main = words.indexOf('dist/src/cli/main.js');
  if (words[0] !== 'node' || main < 1) throw new Error(`CMD runs ${words.slice(0, 2).join(' ')}`);
  return { nodeFlags: words.slice(1, main), args: words.slice(main + 1) };
}

t.test("every launcher starts the broker's Node with the same flags", async (t) => {
  t.same(shebangFlags(), BROKER_NODE_FLAGS, 'the sluice command (and so the systemd unit)');
  t.same(dockerArgs().nodeFlags, BROKER_NODE_FLAGS, 'the Dockerfile');
  const start = (JSON.parse(readFileSync(`${root}package.json`, 'utf8')) as { scripts: { start: string } }).scripts.start;
  t.equal(start, `node ${BROKER_NODE_FLAGS.join(' ')} dist/src/cli/main.js broker`, 'npm start');
});

/** The same flags, with the data dir and ports made safe for a shared machine. */
async function localized(args: string[], dataDir: string): Promise<string[]> {
  const swap: Record<string, string> = { '--data': dataDir, '--host': '127.0.0.1', '--port': '0', '--metrics-port': '0', '--kafka-port': String(await freePort()) };
  return args.map((a, i) => (i > 0 && swap[args[i - 1]!] !== undefined ? swap[args[i - 1]!]! : a));
}

for (const [name, { nodeFlags, args }] of [['systemd unit ExecStart', unitArgs()], ['Dockerfile CMD', dockerArgs()]] as const) {
  t.test(`${name} starts a broker and SIGTERM stops it cleanly`, async (t) => {
    t.equal(args[0], 'broker');
    const proc = spawn(process.execPath, [...nodeFlags, MAIN, ...(await localized(args, tmpDir(t)))], { stdio: ['ignore', 'pipe', 'pipe'] });
    t.teardown(() => void proc.kill('SIGKILL'));
    let out = '';
    await new Promise<void>((resolve, reject) => {
      proc.stdout.setEncoding('utf8').on('data', (d: string) => {
        out += d;
        if (/^sluice listening on /m.test(out)) resolve();
      });
      proc.once('exit', (code) => reject(new Error(`exited with ${code} before it was ready: ${out}`)));
    });
    t.match(out, /kafka on 127\.0\.0\.1:\d+, metrics on http:\/\/127\.0\.0\.1:\d+\/metrics/);
    proc.kill('SIGTERM');
    const [code] = (await once(proc, 'exit')) as [number | null];
    t.equal(code, 0);
  });
}
