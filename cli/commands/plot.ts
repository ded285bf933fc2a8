/** `moe plot RUN [-o FILE]`: an SVG of a run's loss, learning rate and expert load (RUN/plot.svg). */
import { existsSync, statSync } from 'node:fs';
import { basename, extname, join, relative, resolve } from 'node:path';
import { METRICS_FILE, readMetrics } from '../../runtime/run/metrics.js';
import { plotRun } from '../../runtime/run/plot.js';
import { EXIT, UsageError, type CliIo } from '../io.js';
import { writeAtomic } from '../write-atomic.js';

export interface PlotCliOptions {
  readonly out?: string;
}

export function runPlot(run: string, options: PlotCliOptions, io: CliIo): number {
  const dir = resolve(io.cwd, run);
  if (!existsSync(dir) || !statSync(dir).isDirectory()) {
    throw new UsageError(`run folder \`${run}\` does not exist (a folder written by \`moe train\`)`);
  }
  if (!existsSync(join(dir, METRICS_FILE))) {
    throw new UsageError(`\`${run}\` has no ${METRICS_FILE}: is it a run folder written by \`moe train\`?`);
  }
  const records = readMetrics(dir);
  if (records.length === 0) throw new UsageError(`${join(run, METRICS_FILE)} has no records yet`);
  const out = resolve(io.cwd, options.out ?? join(dir, 'plot.svg'));
  if (extname(out).toLowerCase() !== '.svg') {
    throw new UsageError(`moe plot writes SVG: name the output FILE.svg (found \`${options.out ?? out}\`); a browser shows it, and \`rsvg-convert -o plot.png plot.svg\` makes a PNG`);
  }
  writeAtomic(out, plotRun(records, { title: `${basename(dir)}: ${records.length} step${records.length === 1 ? '' : 's'}` }));
  const shown = relative(io.cwd, out);
  io.stdout(`${shown.startsWith('..') || shown === '' ? out : shown}\n`);
  return EXIT.ok;
}
