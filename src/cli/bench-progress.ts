// What the benchmark commands share: the progress bar drawn on stderr (cli-progress) and their
// log lines, printed only until the bar appears; then the report as JSON, chart and stdout.

import { SingleBar, Presets } from 'cli-progress';
import { machineLine, type MachineInfo } from '../../bench/machine.js';
import { writeJson } from '../../bench/util.js';

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

/** Ends the bar, writes the JSON and the chart, prints the machine, `lines` and where the files are. */
export async function publishReport<R extends { machine: MachineInfo }>(
  bar: BenchProgress,
  report: R,
  files: { json: string; chart: string },
  writeChart: (report: R, path: string) => Promise<void>,
  lines: string[],
): Promise<void> {
  bar.stop();
  writeJson(files.json, report);
  await writeChart(report, files.chart);
  console.log([machineLine(report.machine), ...lines, `JSON: ${files.json}`, `chart: ${files.chart}`].join('\n'));
}
