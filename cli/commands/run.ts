/** `moe run SPEC [TARGET] [--backend B] [--out DIR] [--force] [--steps N]` */
import { dirname, join, relative, resolve } from 'node:path';
import { Interrupted, watchInterrupts } from '../../runtime/run/interrupt.js';
import { selectBackend } from '../../runtime/backend/select.js';
import { cudaFor } from '../../runtime/cuda/runtime.js';
import { RuntimeError } from '../../runtime/errors.js';
import { runPipeline, type PipelineReport, type StageReport } from '../../runtime/stages/pipeline.js';
import { formatDuration } from '../../runtime/run/progress.js';
import type { StageRunners } from '../../runtime/stages/runners.js';
import { selectStages } from '../../runtime/stages/targets.js';
import { EXIT, type CliIo } from '../io.js';
import { parseBackend } from './logits.js';
import { interruptedLines, shellWord } from './train.js';
import { specDocument } from './spec-document.js';

export interface RunCliOptions {
  readonly backend?: string;
  readonly out?: string;
  readonly force?: boolean;
  readonly steps?: string;
}

/**
 * Runs the target; a failing stage prints the summary, then its error, and exits 1 (what the spec,
 * its data or the run folder holds was refused, as `moe train` exits) or 2 (an internal error). `runners`
 * replaces stage runners (tests inject a fake sample stage through it).
 */
export async function runRun(spec: string, target: string | undefined, options: RunCliOptions, io: CliIo, runners?: StageRunners): Promise<number> {
  const input = specDocument(spec, options.steps, io);
  if (typeof input === 'number') return input;
  const { path, document, steps } = input;
  try {
    selectStages(document.plan, path, target);
  } catch (error) {
    // a target that names nothing, or no default among several pipelines, is a usage error
    if (!(error instanceof RuntimeError)) throw error;
    io.stderr(`error: ${error.message}\n${error.help ? `help: ${error.help}\n` : ''}`);
    return EXIT.usage;
  }
  // --backend cuda, and auto when cuda opens and runs every model of the spec: stages train, update
  // GRPO's policy and decode on cuda; tfjs only holds weights on the host (the cpu backend)
  const opened = await cudaFor(options.backend, undefined, document.models);
  const cuda = opened?.runtime;
  const backend = await selectBackend(cuda ? 'cpu' : parseBackend(options.backend));
  io.stderr(opened ? `backend cuda: ${opened.reason}\n` : `backend ${backend.name}: ${backend.reason}\n`);
  const outDir = resolve(io.cwd, options.out ?? 'runs');
  const unwatch = watchInterrupts((signal) => io.stderr(`\n${signal}: stopping after the current step to write a checkpoint (again to quit at once)\n`));
  let report: PipelineReport;
  try {
    report = await runPipeline({
    document,
    specDir: dirname(path),
    specFile: path,
    ...(target === undefined ? {} : { target }),
    outDir,
    force: options.force === true,
    ...(steps === undefined ? {} : { maxSteps: steps }),
    backend: backend.name,
    ...(cuda ? { cuda } : {}),
    ...(runners ? { runners } : {}),
    progress: { write: io.stderr, tty: io.color },
    log: (line) => io.stderr(`${line}\n`),
    });
  } finally {
    unwatch();
  }
  io.stdout(summaryTable(report, io.cwd));
  if (!report.failure) return EXIT.ok;
  const { stage, error } = report.failure;
  if (error instanceof Interrupted) {
    const words = ['moe', 'run', spec, ...(target === undefined ? [] : [target]), '-o', relative(io.cwd, outDir) || outDir];
    if (options.backend !== undefined && options.backend !== 'auto') words.push('--backend', options.backend);
    if (options.steps !== undefined) words.push('--steps', options.steps);
    io.stderr(interruptedLines(error, io.cwd, join(outDir, stage), words.map(shellWord).join(' ')));
    return EXIT.interrupted;
  }
  const help = error instanceof RuntimeError && error.help ? `help: ${error.help}\n` : '';
  io.stderr(`error: stage ${stage} failed: ${error.message}\n${help}the stages before it stay done; \`moe run\` again resumes from ${stage}\n`);
  return error instanceof RuntimeError ? EXIT.specErrors : EXIT.usage;
}

/** One row per stage: name, kind, status, wall time, checkpoint or output, the runner's summary lines. */
export function summaryTable(report: PipelineReport, cwd: string): string {
  const shown = (p: string): string => relative(cwd, p) || p;
  const product = (s: StageReport): string => (s.checkpoint ? shown(s.checkpoint) : s.samples ? shown(s.samples) : s.outputs[0] ? shown(s.outputs[0]) : '-');
  const rows = report.stages.map((s) => [s.name, s.kind, s.status, s.status === 'ran' ? formatDuration(s.seconds) : '-', product(s), s.summary[0] ?? (s.status === 'failed' ? s.reason : '')]);
  const header = ['stage', 'kind', 'status', 'time', 'checkpoint / output', 'summary'];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: readonly string[]): string => cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]!))).join('  ').trimEnd();
  const indent = ' '.repeat(widths.slice(0, -1).reduce((a, w) => a + w + 2, 0));
  const out = [`${report.label}:`, line(header)];
  report.stages.forEach((s, i) => {
    out.push(line(rows[i]!));
    for (const more of s.summary.slice(1)) out.push(`${indent}${more}`);
  });
  return `${out.join('\n')}\n`;
}
