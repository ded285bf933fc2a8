/**
 * `moe train SPEC [--stage NAME] [--backend B] [--steps N] [-o|--out DIR] [--resume | --force] [--skip-nonfinite]`
 *
 * The run folder is opened first (run-folder.ts): a folder holding files moe did not write is
 * refused, and so is a second command writing there. A fresh run needs a folder without an earlier
 * run in it; `--force` starts over there, deleting only what moe wrote.
 */
import { dirname, join, relative, resolve } from 'node:path';
import type { GraphDocument } from '../../ir/types.js';
import { selectBackend } from '../../runtime/backend/select.js';
import { RuntimeError } from '../../runtime/errors.js';
import type { ParamStore } from '../../runtime/model/params.js';
import { loadWeights } from '../../runtime/stages/stage-inputs.js';
import { checkpointDir, checkpointSteps } from '../../runtime/run/checkpoints.js';
import { trainingStage } from '../../runtime/run/stage.js';
import { Interrupted, watchInterrupts } from '../../runtime/run/interrupt.js';
import { train, type TrainOptions, type TrainResult } from '../../runtime/run/train.js';
import { clearEntries, ownedEntries } from '../../runtime/run/ownership.js';
import { openRunFolder } from '../../runtime/run/run-folder.js';
import { EXIT, UsageError, type CliIo } from '../io.js';
import { cudaFor } from '../../runtime/cuda/runtime.js';
import { parseBackend } from './logits.js';
import { specDocument } from './spec-document.js';

export interface TrainCliOptions {
  readonly stage?: string;
  readonly backend?: string;
  readonly steps?: string;
  readonly out?: string;
  readonly resume?: boolean;
  /** start over in a run folder of ours that holds an earlier run: its checkpoints and metrics go, nothing else */
  readonly force?: boolean;
  readonly skipNonfinite?: boolean;
}

/** Where a stage's run folder is: `runs/STAGE` beside the working folder unless --out says. */
export function runFolder(cwd: string, stage: string, out?: string): string {
  return resolve(cwd, out ?? join('runs', stage));
}

/** The weights a stage starts from: `from = STAGE` (that run's latest checkpoint) or a path. */
function startingWeights(document: GraphDocument, stageName: string, cwd: string, specDir: string): ParamStore | undefined {
  const stage = trainingStage(document, stageName);
  const from = stage.plan.from;
  if (!from) return undefined;
  let dir: string;
  if ('stage' in from) {
    const run = runFolder(cwd, from.stage);
    const last = checkpointSteps(run).at(-1);
    if (last === undefined) throw new RuntimeError(`stage ${stageName} starts from ${from.stage}, which has no checkpoint in ${relative(cwd, run) || run}`, `train it first: moe train SPEC --stage ${from.stage}`);
    dir = checkpointDir(run, last);
  } else {
    dir = resolve(specDir, from.path);
  }
  return loadWeights(document, stage.plan, dir);
}

/** `--stage NAME` that names no training stage of the spec is a usage error (exit 2), as `moe run`'s target and `moe score`'s reward. */
function stageNamed(document: GraphDocument, name: string | undefined): ReturnType<typeof trainingStage> {
  try {
    return trainingStage(document, name);
  } catch (error) {
    if (name === undefined || !(error instanceof RuntimeError)) throw error;
    throw new UsageError(error.message, error.help);
  }
}

/** Training with SIGINT/SIGTERM turned into a clean stop (runtime/run/interrupt.ts) while it runs. */
async function trainUntilInterrupted(io: CliIo, options: TrainOptions): Promise<TrainResult> {
  const unwatch = watchInterrupts((signal) => io.stderr(`\n${signal}: stopping after the current step to write a checkpoint (again to quit at once)\n`));
  try {
    return await train(options);
  } finally {
    unwatch();
  }
}

/** What an interrupted run prints: where it stopped and the command that continues it. */
export function interruptedLines(error: Interrupted, cwd: string, runDir: string, command: string): string {
  const saved = error.checkpoint ? `checkpoint ${relative(cwd, error.checkpoint) || error.checkpoint}` : error.step > 0 ? `its checkpoint at step ${error.step} in ${relative(cwd, runDir) || runDir}` : 'no checkpoint yet';
  return `interrupted: ${error.stage} stopped after step ${error.step}; ${saved}\nresume with: ${command}\n`;
}

/** `moe train …` that continues this run: the same spec, stage, folder and settings, with --resume. */
export function resumeCommand(spec: string, stage: string, out: string, options: TrainCliOptions): string {
  const words = ['moe', 'train', spec, '--stage', stage, '-o', out, '--resume'];
  if (options.backend !== undefined && options.backend !== 'auto') words.push('--backend', options.backend);
  if (options.steps !== undefined) words.push('--steps', options.steps);
  if (options.skipNonfinite === true) words.push('--skip-nonfinite');
  return words.map(shellWord).join(' ');
}

/** A word as a POSIX shell reads it back: quoted only when it has to be. */
export function shellWord(word: string): string {
  return /^[\w@%+=:,./-]+$/.test(word) ? word : `'${word.replace(/'/g, `'\\''`)}'`;
}

export async function runTrain(spec: string, options: TrainCliOptions, io: CliIo): Promise<number> {
  if (options.force === true && options.resume === true) throw new UsageError('--force starts a run over and --resume continues it: pass one of them');
  const input = specDocument(spec, options.steps, io);
  if (typeof input === 'number') return input;
  const { path, document, steps } = input;
  const stage = stageNamed(document, options.stage);
  // `auto` trains on cuda when it opens (runtime/cuda), else on the tfjs backend auto picks
  const opened = await cudaFor(options.backend, undefined, [stage.model]);
  const cuda = opened?.runtime;
  // on cuda, tfjs only initialises and holds weights on the host: the plain cpu backend
  const backend = opened ? { name: 'cuda', reason: opened.reason } : await selectBackend(parseBackend(options.backend));
  if (cuda) await selectBackend('cpu');
  io.stderr(`training ${stage.plan.name} (${stage.plan.kind}, model ${stage.model.name}) on ${backend.name}: ${backend.reason}\n`);
  const specDir = dirname(path);
  const runDir = runFolder(io.cwd, stage.plan.name, options.out);
  const log = (line: string): void => io.stderr(`${line}\n`);
  const folder = openRunFolder(runDir, log);
  let result: TrainResult;
  try {
    if (options.force === true && ownedEntries(runDir).length > 0) {
      clearEntries(runDir);
      log(`--force: deleted the earlier run in ${relative(io.cwd, runDir) || runDir} (only what moe wrote)`);
    }
    const resuming = options.resume === true;
    // a run resumed before its first checkpoint starts over, from the `from` weights too
    const initial = resuming && checkpointSteps(runDir).length > 0 ? undefined : startingWeights(document, stage.plan.name, io.cwd, specDir);
    result = await trainUntilInterrupted(io, {
      document,
      specDir,
      stage: stage.plan.name,
      runDir,
      ...(steps === undefined ? {} : { steps }),
      resume: resuming,
      skipNonFinite: options.skipNonfinite ?? false,
      ...(initial ? { initial } : {}),
      ...(cuda ? { cuda } : {}),
      progress: { write: io.stderr, tty: io.color },
      log,
    });
  } catch (error) {
    if (!(error instanceof Interrupted)) throw error;
    io.stderr(interruptedLines(error, io.cwd, runDir, resumeCommand(spec, stage.plan.name, relative(io.cwd, runDir) || runDir, options)));
    return EXIT.interrupted;
  } finally {
    folder.release();
  }
  const shownCheckpoint = relative(io.cwd, result.checkpoint) || result.checkpoint;
  if (result.startStep >= result.steps) {
    io.stdout(`${stage.plan.name}: nothing left to train, the run is at step ${result.startStep} of ${result.steps}; checkpoint ${shownCheckpoint}\n`);
    return EXIT.ok;
  }
  const valid = result.validLoss === null ? '' : `, validation loss ${result.validLoss.toFixed(4)}`;
  io.stdout(`${stage.plan.name}: ${result.steps} steps, loss ${result.firstLoss.toFixed(4)} → ${result.lastLoss.toFixed(4)}${valid}; checkpoint ${shownCheckpoint}\n`);
  return EXIT.ok;
}
