/** The pretrain and sft stage runner: the training loop of `moe train`, started where the pipeline says. */
import { train } from '../run/train.js';
import type { StageRunner } from './stage-runner.js';

export const trainRunner: StageRunner = async (ctx) => {
  // a resumed run reads its own checkpoint; only a fresh one needs the `from` weights
  const initial = ctx.resume ? undefined : ctx.loadInitial();
  const steps = cappedSteps(ctx.stage.hyper.steps, ctx.maxSteps);
  const result = await train({
    document: ctx.document,
    specDir: ctx.specDir,
    stage: ctx.stage.name,
    runDir: ctx.runDir,
    ...(steps === undefined ? {} : { steps }),
    resume: ctx.resume,
    ...(initial ? { initial } : {}),
    ...(ctx.cuda ? { cuda: ctx.cuda } : {}),
    progress: ctx.progress,
    log: ctx.log,
  });
  const valid = result.validLoss === null ? '' : `, validation ${result.validLoss.toFixed(4)}`;
  const losses = Number.isNaN(result.firstLoss) ? 'all trained in an earlier run' : `loss ${result.firstLoss.toFixed(4)} → ${result.lastLoss.toFixed(4)}`;
  return { checkpoint: result.checkpoint, summary: [`${result.steps} steps, ${losses}${valid}`], figures: { steps: result.steps } };
};

/**
 * `--steps N` caps the stage's length; a stage counted in epochs (its steps unknown until the data
 * is read) runs exactly N steps.
 */
export function cappedSteps(stageSteps: unknown, cap: number | undefined): number | undefined {
  if (cap === undefined) return undefined;
  return typeof stageSteps === 'number' ? Math.min(stageSteps, cap) : cap;
}
