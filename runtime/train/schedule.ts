/**
 * Schedules as pure functions of the 0-based optimizer step: the learning rate exactly as
 * specs/ir.md §1.10 defines it (warmup, then constant, cosine to min_ratio, or DeepSeek's multistep
 * with factors relative to the peak), and a generic scalar schedule for the router bias rate γ and
 * the MTP weight λ (DeepSeek-V3 drops γ to 0 and λ from 0.3 to 0.1 late in training).
 *
 * `steps` is always the total number of optimizer steps as a number: the IR has `steps = null` when
 * the length is in epochs, and the trainer then passes the total its data pipeline computed.
 */
import type { AttrValue } from '../../ir/types.js';
import { RuntimeError } from '../errors.js';

export interface Milestone {
  /** share of training, in [0, 1] */
  readonly fraction: number;
  /** round(fraction · steps), or null when the compiler did not know the steps (epochs) */
  readonly step: number | null;
  /** multiplier of the peak lr from this step on (not cumulative) */
  readonly factor: number;
}

export type LrSchedule =
  | { readonly kind: 'constant'; readonly warmup_steps: number }
  | { readonly kind: 'cosine'; readonly warmup_steps: number; readonly min_ratio: number }
  | { readonly kind: 'multistep'; readonly warmup_steps: number; readonly milestones: readonly Milestone[] };

/** A plan's `hyper.schedule` attribute as a typed schedule; absent means constant without warmup (the compiler's default). */
export function parseSchedule(attr: AttrValue | undefined): LrSchedule {
  if (attr === undefined || attr === null) return { kind: 'constant', warmup_steps: 0 };
  const o = record(attr, 'schedule');
  const warmup_steps = nonNegative(o.warmup_steps ?? 0, 'schedule.warmup_steps');
  switch (o.kind) {
    case 'constant':
      return { kind: 'constant', warmup_steps };
    case 'cosine':
      return { kind: 'cosine', warmup_steps, min_ratio: nonNegative(o.min_ratio ?? 0.1, 'schedule.min_ratio') };
    case 'multistep': {
      const list = o.milestones ?? [];
      if (!Array.isArray(list)) throw new RuntimeError('schedule.milestones must be a list');
      const milestones = (list as readonly AttrValue[]).map((m, i): Milestone => {
        const r = record(m, `schedule.milestones[${i}]`);
        return {
          fraction: nonNegative(r.fraction, `schedule.milestones[${i}].fraction`),
          step: r.step === null || r.step === undefined ? null : nonNegative(r.step, `schedule.milestones[${i}].step`),
          factor: nonNegative(r.factor, `schedule.milestones[${i}].factor`),
        };
      });
      return { kind: 'multistep', warmup_steps, milestones };
    }
    default:
      throw new RuntimeError(`unknown schedule kind ${String(o.kind)}: expected constant, cosine or multistep`);
  }
}

/** warm(s) of §1.10: linear from 1/W at step 0 to 1 at step W − 1, so the first step never has lr 0. */
function warm(step: number, warmup: number): number {
  return step < warmup ? (step + 1) / warmup : 1;
}

/** The milestone's step, computed with the compiler's formula when it left it null. */
export function milestoneStep(m: Milestone, steps: number): number {
  return m.step ?? Math.round(m.fraction * steps);
}

/** lr at 0-based step `step` of `steps` total, peak `peakLr` (= optimizer.lr). */
export function learningRate(schedule: LrSchedule, step: number, steps: number, peakLr: number): number {
  if (!Number.isInteger(step) || step < 0) throw new RangeError(`step must be an integer ≥ 0, got ${step}`);
  const W = schedule.warmup_steps;
  switch (schedule.kind) {
    case 'constant':
      return peakLr * warm(step, W);
    case 'cosine': {
      if (step < W) return peakLr * warm(step, W);
      const r = schedule.min_ratio;
      // past the end (or no decay span at all) the rate stays at the floor rather than rising again
      const progress = steps - W > 0 ? Math.min(1, (step - W) / (steps - W)) : 1;
      return peakLr * (r + (1 - r) * 0.5 * (1 + Math.cos(Math.PI * progress)));
    }
    case 'multistep': {
      let factor = 1;
      // the LAST milestone reached wins, whatever order the spec listed them in
      let reached = -1;
      for (const m of schedule.milestones) {
        const at = milestoneStep(m, steps);
        if (at <= step && at >= reached) {
          reached = at;
          factor = m.factor;
        }
      }
      return peakLr * warm(step, W) * factor;
    }
  }
}

/**
 * A scalar that changes at fractions of training: a constant, or breakpoints `[fraction, value]`
 * (also accepted in the IR's list-pair form `{at, value}`). The value at a step is the value of the
 * last breakpoint whose step round(fraction · steps) ≤ step — the same rounding as multistep
 * milestones — and the first breakpoint's value before any is reached.
 */
export type ScalarSchedule = number | readonly (readonly [number, number])[];

export function parseScalarSchedule(attr: AttrValue, what: string): ScalarSchedule {
  if (typeof attr === 'number') return attr;
  if (!Array.isArray(attr) || attr.length === 0) throw new RuntimeError(`${what} must be a number or a non-empty list of [fraction, value]`);
  return (attr as readonly AttrValue[]).map((p, i): readonly [number, number] => {
    if (Array.isArray(p) && p.length === 2) return [nonNegative(p[0], `${what}[${i}][0]`), finite(p[1], `${what}[${i}][1]`)];
    const r = record(p, `${what}[${i}]`);
    return [nonNegative(r.at, `${what}[${i}].at`), finite(r.value, `${what}[${i}].value`)];
  });
}

export function scalarAt(schedule: ScalarSchedule, step: number, steps: number): number {
  if (typeof schedule === 'number') return schedule;
  if (schedule.length === 0) throw new RangeError('a scalar schedule needs at least one breakpoint');
  let value = schedule[0]![1];
  let reached = -1;
  for (const [fraction, v] of schedule) {
    const at = Math.round(fraction * steps);
    if (at <= step && at >= reached) {
      reached = at;
      value = v;
    }
  }
  return value;
}

function record(v: AttrValue | undefined, what: string): { readonly [k: string]: AttrValue } {
  if (v === null || v === undefined || typeof v !== 'object' || Array.isArray(v)) throw new RuntimeError(`${what} must be an object`);
  return v as { readonly [k: string]: AttrValue };
}

function finite(v: AttrValue | undefined, what: string): number {
  if (typeof v !== 'number' || !Number.isFinite(v)) throw new RuntimeError(`${what} must be a finite number, got ${JSON.stringify(v)}`);
  return v;
}

function nonNegative(v: AttrValue | undefined, what: string): number {
  const n = finite(v, what);
  if (n < 0) throw new RuntimeError(`${what} must be ≥ 0, got ${n}`);
  return n;
}
