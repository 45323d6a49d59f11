// Charts for benchmark reports: a Vega-Lite spec rendered to SVG headlessly (no browser, no canvas).

import { writeFileSync } from 'node:fs';
import * as vega from 'vega';
import { compile, type TopLevelSpec } from 'vega-lite';

export async function writeSvg(spec: TopLevelSpec, path: string): Promise<void> {
  const view = new vega.View(vega.parse(compile(spec).spec), { renderer: 'none' });
  writeFileSync(path, await view.toSVG());
  view.finalize();
}

export interface FanoutPoint {
  path: string;
  consumers: number;
  gibPerSec: number;
  senderCpuPerGiB: number;
}

/** Two panels: aggregate GiB/s and CPU-s per GiB against consumers, one line per path. */
export function fanoutSpec(points: FanoutPoint[], title: string, options: { logConsumers?: boolean; cpuTitle?: string; seriesTitle?: string } = {}): TopLevelSpec {
  const x = options.logConsumers
    ? { field: 'consumers', type: 'quantitative' as const, title: 'consumers (log scale)', scale: { type: 'log' as const, base: 2 }, axis: { values: [...new Set(points.map((p) => p.consumers))] } }
    : { field: 'consumers', type: 'ordinal' as const, title: 'consumers' };
  const panel = (field: keyof FanoutPoint, axis: string) => ({
    width: 320,
    height: 220,
    mark: { type: 'line' as const, point: true },
    encoding: {
      x,
      y: { field, type: 'quantitative' as const, title: axis },
      color: { field: 'path', type: 'nominal' as const, title: options.seriesTitle ?? 'fetch path', legend: { labelLimit: 400 } },
    },
  });
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v5.json',
    title,
    data: { values: points },
    hconcat: [panel('gibPerSec', 'aggregate GiB/s (higher is better)'), panel('senderCpuPerGiB', options.cpuTitle ?? 'sender CPU-s per GiB (lower is better)')],
    config: { background: 'white' },
  } as TopLevelSpec;
}

/**
 * Two panels side by side against record size, one line per `series`: a produce chart. `points`
 * carry `recordBytes`, `series` and the two fields named.
 */
export function recordSizeSpec(points: object[], title: string, left: [field: string, axis: string], right: [field: string, axis: string]): TopLevelSpec {
  const panel = ([field, axis]: [string, string]) => ({
    width: 300,
    height: 220,
    mark: { type: 'line' as const, point: true },
    encoding: {
      x: { field: 'recordBytes', type: 'ordinal' as const, title: 'record bytes' },
      y: { field, type: 'quantitative' as const, title: axis },
      color: { field: 'series', type: 'nominal' as const, title: null },
    },
  });
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v5.json',
    title,
    data: { values: points },
    hconcat: [panel(left), panel(right)],
    config: { background: 'white' },
  } as TopLevelSpec;
}
