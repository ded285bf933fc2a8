/**
 * The training-session skeleton that pretrain/SFT (runtime/run/train.ts) and GRPO
 * (runtime/stages/grpo.ts) share: after a resume (metrics past the checkpoint dropped), for each
 * step the learning rate from the schedule → one step (the caller's) → the device error guard →
 * non-finite handling → evaluation when due → one metrics record → progress → a checkpoint on the
 * cadence and at the last step. What a step, an evaluation and a checkpoint are is the caller's.
 * A SIGINT/SIGTERM (run/interrupt.ts) stops it between steps: the step in flight finishes, a
 * checkpoint is written at it, and `Interrupted` is thrown for the CLI to print the resume command.
 */
import { deviceErrorGuard } from '../backend/webgpu-errors.js';
import { RuntimeError } from '../errors.js';
import { Interrupted, interruptRequested } from '../run/interrupt.js';
import { appendMetrics, truncateMetrics } from '../run/metrics.js';
import { Progress, type ProgressSink } from '../run/progress.js';
import { nonFiniteMessage } from './finite.js';
import type { StagePlan } from '../../ir/types.js';
import { learningRate, parseSchedule, type LrSchedule } from './schedule.js';

export interface SessionPlan {
  readonly runDir: string;
  /** the stage's name, for the resume line */
  readonly name: string;
  readonly steps: number;
  /** the step of the checkpoint resumed from (0 for a fresh run) */
  readonly start: number;
  readonly resumed: boolean;
  readonly schedule: LrSchedule;
  readonly peakLr: number;
  readonly checkpointEvery: number;
  /** evaluate every this many steps and at the last one (with `evaluate`) */
  readonly evalEvery?: number;
  /** evaluate once before the first step of a fresh run, logged as step 0 */
  readonly evalAtStart?: boolean;
  /** log a non-finite step and go on, instead of stopping */
  readonly skipNonFinite?: boolean;
  /** the hint of the error a non-finite step stops with */
  readonly nonFiniteHint: string;
  readonly progress: ProgressSink;
  readonly log: (line: string) => void;
}

/**
 * The plan fields that follow from the stage and its resume point alike for every training stage
 * (pretrain, SFT, GRPO): its name, its lr schedule, the optimizer's peak lr, where it starts.
 */
export function stageSession(
  stage: StagePlan,
  peakLr: number,
  from: { readonly runDir: string; readonly start: number; readonly resumed: boolean },
): Pick<SessionPlan, 'runDir' | 'name' | 'start' | 'resumed' | 'schedule' | 'peakLr'> {
  return { runDir: from.runDir, name: stage.name, start: from.start, resumed: from.resumed, schedule: parseSchedule(stage.hyper.schedule), peakLr };
}

export interface StepReport {
  /** the figure progress shows and the session collects: the loss (or what `label` names) */
  readonly value: number;
  readonly label?: string;
  readonly tokensPerSecond: number;
  /** what was not finite (the caller updated nothing), or null */
  readonly nonFinite: string | null;
  /** the step's metrics fields, after `step` */
  readonly record: Readonly<Record<string, unknown>>;
}

export interface SessionHooks {
  step(step: number, lr: number): Promise<StepReport>;
  /** metrics fields of an evaluation (e.g. `valid_loss`) */
  evaluate?(step: number): Promise<Readonly<Record<string, unknown>>>;
  /** writes the checkpoint of `step`; returns its folder */
  save(step: number): Promise<string>;
}

export interface SessionResult {
  /** the last checkpoint this session wrote, or '' when it wrote none */
  readonly checkpoint: string;
  /** `value` of every recorded step, in order */
  readonly values: readonly number[];
}

export async function runSession(plan: SessionPlan, hooks: SessionHooks): Promise<SessionResult> {
  if (plan.resumed) {
    // resuming at 0 (killed before its first checkpoint) starts over: even a step-0 line is logged again
    truncateMetrics(plan.runDir, plan.start === 0 ? -1 : plan.start);
    plan.log(`resumed ${plan.name} at step ${plan.start} from ${plan.runDir}`);
  }
  const progress = new Progress(plan.progress, plan.start);
  if (hooks.evaluate && plan.evalAtStart && plan.start === 0) {
    // the starting point, so a run shows how far the evaluated figure fell
    appendMetrics(plan.runDir, { step: 0, ...(await hooks.evaluate(0)) });
  }
  const values: number[] = [];
  let checkpoint = '';
  let savedAt = plan.start;
  const gpu = deviceErrorGuard();
  try {
    for (let step = plan.start + 1; step <= plan.steps; step++) {
      // a step on a synchronous backend (tfjs cpu) never reaches the event loop, where signals are
      // handled: yield to it once per step, or Ctrl-C would wait for the end of training
      await new Promise<void>((resolve) => setImmediate(resolve));
      const signal = interruptRequested();
      if (signal !== null) {
        const done = step - 1;
        // at `savedAt` the run is already saved (by this session, or the checkpoint resumed from)
        if (done > savedAt) checkpoint = await hooks.save(done);
        throw new Interrupted(signal, plan.name, done, checkpoint);
      }
      const lr = learningRate(plan.schedule, step - 1, plan.steps, plan.peakLr);
      const report = await hooks.step(step, lr);
      gpu.check(step);
      if (report.nonFinite !== null) {
        const message = nonFiniteMessage(step, report.nonFinite, plan.skipNonFinite ?? false);
        if (!plan.skipNonFinite) throw new RuntimeError(message, plan.nonFiniteHint);
        plan.log(message);
        continue;
      }
      values.push(report.value);
      const due = hooks.evaluate && plan.evalEvery !== undefined && (step % plan.evalEvery === 0 || step === plan.steps);
      const evaluated = due ? await hooks.evaluate!(step) : {};
      appendMetrics(plan.runDir, { step, ...report.record, ...evaluated });
      progress.update({ step, steps: plan.steps, loss: report.value, tokensPerSecond: report.tokensPerSecond, lr, ...(report.label ? { label: report.label } : {}) });
      if (step % plan.checkpointEvery === 0 || step === plan.steps) {
        checkpoint = await hooks.save(step);
        savedAt = step;
      }
    }
  } finally {
    gpu.stop();
    progress.done();
  }
  if (values.length === 0 && plan.steps > plan.start) {
    throw new RuntimeError(`every one of the ${plan.steps - plan.start} steps was skipped as not finite: nothing was trained`, plan.nonFiniteHint.replace(/, or pass --skip-nonfinite$/, ''));
  }
  return { checkpoint, values };
}
