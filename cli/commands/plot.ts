/** `moe plot RUN [RUN…] [-o FILE]`: an SVG of a run's loss, learning rate and expert load (RUN/plot.svg), or of several runs overlaid. */
import { existsSync, statSync } from 'node:fs';
import { basename, dirname, extname, join, relative, resolve } from 'node:path';
import { RuntimeError } from '../../runtime/errors.js';
import { METRICS_FILE, readMetrics, type MetricsRecord } from '../../runtime/run/metrics.js';
import { withManifestLock } from '../../runtime/run/manifest-lock.js';
import { claimEntry, isOwned, readManifest } from '../../runtime/run/ownership.js';
import { plotRun, plotRuns } from '../../report/plot.js';
import { EXIT, UsageError, type CliIo } from '../io.js';
import { writeAtomic } from '../write-atomic.js';

export interface PlotCliOptions {
  readonly out?: string;
}

/**
 * A plot written into the run folder is listed in its manifest before it is written, so a file of
 * that name the user (or another tool) put there is refused, never replaced. A run folder without a
 * manifest (not moe's) gets a new file only. In a folder of moe's the check, the listing and the
 * write hold the manifest lock: `moe train` may be listing a checkpoint there right now, another
 * `moe plot` its plot, or `--force` clearing what moe wrote.
 */
function writeInRun(dir: string, name: string, run: string, svg: string, io: CliIo): void {
  const refuse = (): void => {
    throw new RuntimeError(`${join(run, name)} was not written by moe; it is left as it is`, `write the plot elsewhere with -o FILE.svg, or move ${name} out of ${run}`);
  };
  if (readManifest(dir) === undefined) {
    if (existsSync(join(dir, name))) refuse();
    writeAtomic(join(dir, name), svg);
    return;
  }
  const log = (line: string): void => io.stderr(`${line}\n`);
  withManifestLock(
    dir,
    () => {
      if (existsSync(join(dir, name)) && !isOwned(dir, name)) refuse();
      claimEntry(dir, name);
      writeAtomic(join(dir, name), svg);
    },
    { log },
  );
}

/** The records of a run folder named on the command line; one that is not a run is a usage error. */
function runRecords(run: string, io: CliIo): { dir: string; records: MetricsRecord[] } {
  const dir = resolve(io.cwd, run);
  if (!existsSync(dir) || !statSync(dir).isDirectory()) {
    throw new UsageError(`run folder \`${run}\` does not exist (a folder written by \`moe train\`)`);
  }
  if (!existsSync(join(dir, METRICS_FILE))) {
    throw new UsageError(`\`${run}\` has no ${METRICS_FILE}: is it a run folder written by \`moe train\`?`);
  }
  const records = readMetrics(dir);
  if (records.length === 0) throw new UsageError(`${join(run, METRICS_FILE)} has no records yet`);
  return { dir, records };
}

/** `moe plot RUN [RUN…] [-o FILE.svg]`: one run's picture, or several overlaid (then -o is needed: no run folder is theirs). */
export function runPlot(runs: readonly string[], options: PlotCliOptions, io: CliIo): number {
  if (runs.length > 1 && options.out === undefined) throw new UsageError(`plotting ${runs.length} runs together needs -o FILE.svg: the overlay belongs to no one run folder`);
  const read = runs.map((run) => runRecords(run, io));
  const { dir, records } = read[0]!;
  const out = resolve(io.cwd, options.out ?? join(dir, 'plot.svg'));
  if (extname(out).toLowerCase() !== '.svg') {
    throw new UsageError(`moe plot writes SVG: name the output FILE.svg (found \`${options.out ?? out}\`); a browser shows it, and \`rsvg-convert -o plot.png plot.svg\` makes a PNG`);
  }
  const svg =
    read.length === 1
      ? plotRun(records, { title: `${basename(dir)}: ${records.length} step${records.length === 1 ? '' : 's'}` })
      : plotRuns(
          read.map((r, i) => ({ name: runs[i]!, records: r.records })),
          { title: `${read.length} runs: ${runs.join(', ')}` },
        );
  // into a run folder plotted (its own, or one of several overlaid): moe's file there
  const home = read.findIndex((r) => r.dir === dirname(out));
  if (home >= 0) writeInRun(read[home]!.dir, basename(out), runs[home]!, svg, io);
  else writeAtomic(out, svg);
  const shown = relative(io.cwd, out);
  io.stdout(`${shown.startsWith('..') || shown === '' ? out : shown}\n`);
  return EXIT.ok;
}
