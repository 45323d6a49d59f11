// The progress bar the long benchmarks draw on stderr (cli-progress), and their log lines, which
// are printed only until the bar appears (after that the table on stdout says it all).

import { SingleBar, Presets } from 'cli-progress';

export interface BenchProgress {
  progress: (done: number, total: number, label: string) => void;
  log: (line: string) => void;
  stop: () => void;
}

export function benchProgress(name: string, unit = 'cells'): BenchProgress {
  const bar = new SingleBar({ format: `${name} [{bar}] {value}/{total} ${unit} | {label}`, stream: process.stderr, hideCursor: true, noTTYOutput: false }, Presets.shades_classic);
  let started = false;
  return {
    log: (line) => {
      if (!started) process.stderr.write(`${line}\n`);
    },
    progress: (done, total, label) => {
      if (!started) bar.start(total, 0, { label });
      started = true;
      bar.update(done, { label });
    },
    stop: () => bar.stop(),
  };
}
