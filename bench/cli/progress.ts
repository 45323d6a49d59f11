// What the benchmark commands share: the progress bar drawn on stderr (cli-progress) and their
// log lines, printed only until the bar appears; then the report as JSON, chart and stdout.

import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SingleBar, Presets } from 'cli-progress';
import { machineLine, type MachineInfo } from '../../test/harness/machine.js';
import { writeJson } from '../../test/harness/util.js';

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

/** What a run's flags say about its output files. */
export interface ReportFlags {
  json?: string;
  chart?: string;
  publish?: boolean;
}

/**
 * Where a run writes its JSON and chart: `--publish` the published files of `name` (what the README
 * shows, `bench/results/<name>.json|svg`), else `--json`/`--chart` as given, else a fresh temp dir.
 * A run never rewrites the published results unless asked to.
 */
export function reportFiles(name: string, flags: ReportFlags): { json: string; chart: string } {
  if (flags.publish) return { json: `bench/results/${name}.json`, chart: `bench/results/${name}.svg` };
  const json = flags.json ?? join(mkdtempSync(join(tmpdir(), `sluice-bench-${name}-`)), `${name}.json`);
  return { json, chart: flags.chart ?? json.replace(/(\.json)?$/, '.svg') };
}
