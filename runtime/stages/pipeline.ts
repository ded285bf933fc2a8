/**
 * `moe run`: the stages of a target (see targets.ts) run one after another, each in its own folder
 * `OUT/STAGE/`. A stage whose `done.json` matches its current fingerprint and inputs is skipped; a
 * changed one reruns, and so do its dependants (their inputs record the completion they used); an
 * interrupted one resumes from its latest checkpoint. A failing stage stops the run; the stages
 * completed before it stay done. Before anything runs, every stage folder is checked (one holding
 * files moe did not write is refused, nothing changed) and then opened and locked for the whole run
 * (run-folder.ts); rerunning a stage deletes only what moe wrote in its folder.
 */
import { randomUUID } from 'node:crypto';
import { join, relative, sep } from 'node:path';
import type { GraphDocument, StagePlan } from '../../ir/types.js';
import { RuntimeError } from '../errors.js';
import { checkpointSteps } from '../run/checkpoints.js';
import { decide } from './decide.js';
import { readDone, readStarted, writeDone, writeStarted, type DoneMarker, type StageStamp } from './markers.js';
import { claimInFolder, clearEntries, recordEntry } from '../run/ownership.js';
import type { ProgressSink } from '../run/progress.js';
import { checkRunFolder, openRunFolder, type OpenRunFolder } from '../run/run-folder.js';
import { settingNotes } from '../run/settings.js';
import { runnerFor, type StageRunners } from './runners.js';
import { stageKey } from './stage-key.js';
import { fromCheckpoint, loadWeights, withSamples, type Completed } from './stage-inputs.js';
import type { StageFigures, StageOutcome } from './stage-runner.js';
import { SUMMARY_FILE, writeRunSummary } from './summary.js';
import { selectStages, type Selection } from './targets.js';
import type { CudaRuntime } from '../cuda/runtime.js';

export interface PipelineOptions {
  readonly document: GraphDocument;
  readonly specDir: string;
  /** the spec file (its name picks the default pipeline among several) */
  readonly specFile: string;
  /** a pipeline or stage name; default: the spec's default pipeline */
  readonly target?: string;
  /** the folder holding one run folder per stage */
  readonly outDir: string;
  /** rerun the target's stages even when done */
  readonly force?: boolean;
  /** cap every training stage at this many steps */
  readonly maxSteps?: number;
  readonly backend: string;
  /** `--backend cuda`: the cuda executor the stages train and decode on (StageContext.cuda) */
  readonly cuda?: CudaRuntime;
  /** replace the runners of some kinds (tests; embedders) */
  readonly runners?: StageRunners;
  readonly progress: ProgressSink;
  readonly log: (line: string) => void;
}

export type StageStatus = 'ran' | 'skipped' | 'failed' | 'not run';

export interface StageReport {
  readonly name: string;
  readonly kind: StagePlan['kind'];
  readonly status: StageStatus;
  /** why it ran or was skipped */
  readonly reason: string;
  /** wall time of this run (0 when skipped) */
  readonly seconds: number;
  readonly runDir: string;
  readonly checkpoint?: string;
  readonly samples?: string;
  readonly outputs: readonly string[];
  readonly summary: readonly string[];
  /** the stage's numbers (steps, kept, accuracy, rules) when it ran or was skipped as done */
  readonly figures?: StageFigures;
}

export interface PipelineReport {
  readonly label: string;
  readonly stages: readonly StageReport[];
  /** the stage that failed and its error; the run stopped there */
  readonly failure?: { readonly stage: string; readonly error: Error };
}

export async function runPipeline(options: PipelineOptions): Promise<PipelineReport> {
  const selection = selectStages(options.document.plan, options.specFile, options.target);
  options.log(`running ${selection.label}: ${selection.order.join(' → ')} (run folders in ${options.outDir})`);
  const dirs = selection.order.map((name) => join(options.outDir, name));
  // every refusal before anything changes: the stage folders, then a summary.json not of moe's
  dirs.forEach(checkRunFolder);
  claimInFolder(options.outDir, SUMMARY_FILE);
  const folders = openStageFolders(dirs, options.log);
  try {
    const report = await runStages(options, selection);
    writeRunSummary(options.outDir, options.document.plan, report.stages);
    return report;
  } finally {
    for (const folder of folders) folder.release();
  }
}

/** Checks every folder first (a refusal changes nothing), then opens and locks them. */
function openStageFolders(dirs: readonly string[], log: (line: string) => void): OpenRunFolder[] {
  dirs.forEach(checkRunFolder);
  const opened: OpenRunFolder[] = [];
  try {
    for (const dir of dirs) opened.push(openRunFolder(dir, log));
  } catch (error) {
    for (const folder of opened) folder.release();
    throw error;
  }
  return opened;
}

async function runStages(options: PipelineOptions, selection: Selection): Promise<PipelineReport> {
  const plans = new Map(options.document.plan.stages.map((s) => [s.name, s]));
  const completed = new Map<string, Completed>();
  const reports: StageReport[] = [];
  for (const name of selection.order) {
    const stage = plans.get(name)!;
    const runDir = join(options.outDir, name);
    try {
      const report = await runStage(options, stage, runDir, completed, options.force === true && selection.named.includes(name));
      reports.push(report);
    } catch (error) {
      const err = error instanceof Error ? error : new Error(String(error));
      reports.push({ name, kind: stage.kind, status: 'failed', reason: err.message, seconds: 0, runDir, outputs: [], summary: [] });
      for (const rest of selection.order.slice(selection.order.indexOf(name) + 1)) {
        reports.push({ name: rest, kind: plans.get(rest)!.kind, status: 'not run', reason: `${name} failed`, seconds: 0, runDir: join(options.outDir, rest), outputs: [], summary: [] });
      }
      return { label: selection.label, stages: reports, failure: { stage: name, error: err } };
    }
  }
  return { label: selection.label, stages: reports };
}

/** What the stage's result depends on now: its fingerprint and its inputs' completions. */
function stampOf(options: PipelineOptions, stage: StagePlan, completed: ReadonlyMap<string, Completed>): StageStamp {
  const inputs: { [name: string]: string } = {};
  for (const dep of stage.after) {
    const c = completed.get(dep);
    if (!c) throw new RuntimeError(`stage ${stage.name} needs ${dep}, which has not completed`);
    inputs[dep] = c.done.id;
  }
  if (stage.from && 'path' in stage.from) inputs[`path:${stage.from.path}`] = stage.from.path;
  return { key: stageKey(options.document, stage, options.maxSteps), inputs };
}

async function runStage(options: PipelineOptions, stage: StagePlan, runDir: string, completed: Map<string, Completed>, forced: boolean): Promise<StageReport> {
  const stamp = stampOf(options, stage, completed);
  const done = readDone(runDir);
  const decision = decide({ stamp, done, started: readStarted(runDir), lastCheckpoint: checkpointSteps(runDir).at(-1), forced });
  if (decision.action === 'skip' && done) {
    options.log(`${stage.name}: skipped, ${decision.reason} (${relative(options.outDir, runDir)}/done.json; --force reruns it)`);
    completed.set(stage.name, { runDir, done });
    return { ...fromMarker(stage, runDir, done), status: 'skipped', reason: decision.reason, seconds: 0 };
  }
  options.log(`${stage.name} (${stage.kind}): ${decision.action === 'resume' ? decision.reason : `running: ${decision.reason}`}`);
  // the training loop (run/train.ts) reports its own settings, with the engine it picks
  if (stage.kind !== 'pretrain' && stage.kind !== 'sft') for (const line of settingNotes(stage, { backend: options.backend, cuda: false })) options.log(`${stage.name}: ${line}`);
  // starting over deletes only what moe wrote there: a user's notes or an hf-export/ stay
  if (decision.action === 'fresh') clearEntries(runDir);
  writeStarted(runDir, stamp);

  const from = fromCheckpoint(stage, options.specDir, completed);
  const document = withSamples(options.document, stage, options.specDir, completed);
  const started = performance.now();
  const outcome = await runnerFor(stage.kind, options.runners)({
    document,
    specDir: options.specDir,
    stage: document.plan.stages.find((s) => s.name === stage.name)!,
    runDir,
    fromCheckpoint: from,
    loadInitial: () => (from === undefined ? undefined : loadWeights(document, stage, from)),
    backend: options.backend,
    ...(options.cuda ? { cuda: options.cuda } : {}),
    resume: decision.action === 'resume',
    maxSteps: options.maxSteps,
    progress: options.progress,
    log: options.log,
  });
  const seconds = (performance.now() - started) / 1000;
  for (const file of [outcome.samples, ...(outcome.outputs ?? [])]) if (file !== undefined) recordOutput(runDir, file);
  const marker = doneMarker(stage, runDir, stamp, outcome, seconds);
  writeDone(runDir, marker);
  completed.set(stage.name, { runDir, done: marker });
  return { ...fromMarker(stage, runDir, marker), status: 'ran', reason: decision.reason, seconds };
}

/** A file a runner reports writing in its folder is ours to replace on a rerun. */
function recordOutput(runDir: string, file: string): void {
  const inside = relative(runDir, file);
  if (inside === '' || inside.startsWith('..')) return;
  recordEntry(runDir, inside.split(sep)[0]!);
}

function doneMarker(stage: StagePlan, runDir: string, stamp: StageStamp, outcome: StageOutcome, seconds: number): DoneMarker {
  if (stage.kind === 'sample' && outcome.samples === undefined) throw new RuntimeError(`the ${stage.kind} runner of stage ${stage.name} reported no samples file`);
  const inRun = (path: string | undefined): string | null => (path === undefined ? null : relative(runDir, path));
  return {
    stage: stage.name,
    kind: stage.kind,
    ...stamp,
    id: randomUUID(),
    checkpoint: inRun(outcome.checkpoint),
    samples: inRun(outcome.samples),
    outputs: (outcome.outputs ?? []).map((p) => relative(runDir, p)),
    summary: [...outcome.summary],
    ...(outcome.figures ? { figures: outcome.figures } : {}),
    seconds,
    finished: new Date().toISOString(),
  };
}

function fromMarker(stage: StagePlan, runDir: string, done: DoneMarker): Omit<StageReport, 'status' | 'reason' | 'seconds'> {
  return {
    name: stage.name,
    kind: stage.kind,
    runDir,
    ...(done.checkpoint === null ? {} : { checkpoint: join(runDir, done.checkpoint) }),
    ...(done.samples === null ? {} : { samples: join(runDir, done.samples) }),
    outputs: done.outputs.map((p) => join(runDir, p)),
    summary: done.summary,
    ...(done.figures ? { figures: done.figures } : {}),
  };
}

