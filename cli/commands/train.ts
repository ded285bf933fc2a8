/** `moe train SPEC [--stage NAME] [--backend B] [--steps N] [--out DIR] [--resume] [--skip-nonfinite]` */
import { dirname, join, relative, resolve } from 'node:path';
import type { GraphDocument } from '../../compiler/ir/types.js';
import { selectBackend } from '../../runtime/backend/select.js';
import { RuntimeError } from '../../runtime/errors.js';
import type { ParamStore } from '../../runtime/model/params.js';
import { loadWeights } from '../../runtime/run/stage-inputs.js';
import { checkpointDir, checkpointSteps } from '../../runtime/run/checkpoints.js';
import { trainingStage } from '../../runtime/run/stage.js';
import { train } from '../../runtime/run/train.js';
import { EXIT, type CliIo } from '../io.js';
import { parseBackend } from './logits.js';
import { specDocument } from './spec-document.js';

export interface TrainCliOptions {
  readonly stage?: string;
  readonly backend?: string;
  readonly steps?: string;
  readonly out?: string;
  readonly resume?: boolean;
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

export async function runTrain(spec: string, options: TrainCliOptions, io: CliIo): Promise<number> {
  const input = specDocument(spec, options.steps, io);
  if (typeof input === 'number') return input;
  const { path, document, steps } = input;
  const stage = trainingStage(document, options.stage);
  const backend = await selectBackend(parseBackend(options.backend));
  io.stderr(`training ${stage.plan.name} (${stage.plan.kind}, model ${stage.model.name}) on ${backend.name}: ${backend.reason}\n`);
  const specDir = dirname(path);
  const runDir = runFolder(io.cwd, stage.plan.name, options.out);
  const resuming = options.resume === true && checkpointSteps(runDir).length > 0;
  const initial = resuming ? undefined : startingWeights(document, stage.plan.name, io.cwd, specDir);
  const result = await train({
    document,
    specDir,
    stage: stage.plan.name,
    runDir,
    ...(steps === undefined ? {} : { steps }),
    resume: resuming,
    skipNonFinite: options.skipNonfinite ?? false,
    ...(initial ? { initial } : {}),
    progress: { write: io.stderr, tty: io.color },
    log: (line) => io.stderr(`${line}\n`),
  });
  const valid = result.validLoss === null ? '' : `, validation loss ${result.validLoss.toFixed(4)}`;
  io.stdout(`${stage.plan.name}: ${result.steps} steps, loss ${result.firstLoss.toFixed(4)} → ${result.lastLoss.toFixed(4)}${valid}; checkpoint ${relative(io.cwd, result.checkpoint) || result.checkpoint}\n`);
  return EXIT.ok;
}
