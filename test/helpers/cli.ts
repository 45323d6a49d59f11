// The `sluice` command as a test runs it: a child process of the built CLI with the given
// arguments and stdin, resolved with its exit status and what it printed.

import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { MAIN } from './broker.js';

export function sluice(args: string[], input?: string): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const proc = spawn(process.execPath, [MAIN, ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    proc.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    proc.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    proc.stdin.end(input ?? '');
    void once(proc, 'close').then(([status]) => resolve({ status: status as number | null, stdout, stderr }));
  });
}
