// The `sluice` command as a test runs it: a child process of the built CLI with the given
// arguments and stdin, resolved with its exit status and what it printed (as text, or as bytes).

import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { MAIN } from './broker.js';

/** Runs the CLI with raw bytes on stdin; resolves with its raw stdout (binary-safe tests). */
export function sluiceBytes(args: string[], input: Buffer = Buffer.alloc(0)): Promise<{ status: number | null; stdout: Buffer; stderr: string }> {
  return new Promise((resolve) => {
    const proc = spawn(process.execPath, [MAIN, ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    let stderr = '';
    proc.stdout.on('data', (d: Buffer) => out.push(d));
    proc.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    proc.stdin.end(input);
    void once(proc, 'close').then(([status]) => resolve({ status: status as number | null, stdout: Buffer.concat(out), stderr }));
  });
}

export async function sluice(args: string[], input?: string): Promise<{ status: number | null; stdout: string; stderr: string }> {
  const r = await sluiceBytes(args, Buffer.from(input ?? ''));
  return { ...r, stdout: r.stdout.toString('utf8') };
}
