/**
 * Learning-rate and scalar schedules against hand-computed values (specs/ir.md §1.10), including
 * DeepSeek's multistep read from a compiled plan.
 */
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { nodeHost } from '../../../compiler/bind/node-host.js';
import { checkFile } from '../../../compiler/check/index.js';
import { lowerSpec } from '../../../compiler/lower/index.js';
import { learningRate, parseScalarSchedule, parseSchedule, scalarAt, type LrSchedule } from '../../../runtime/train/schedule.js';

describe('learningRate', () => {
  it('constant: linear warmup (s + 1) / W, then the peak', () => {
    const s: LrSchedule = { kind: 'constant', warmup_steps: 4 };
    expect(learningRate(s, 0, 100, 1e-3)).toBeCloseTo(2.5e-4, 15);
    expect(learningRate(s, 2, 100, 1e-3)).toBeCloseTo(7.5e-4, 15);
    expect(learningRate(s, 3, 100, 1e-3)).toBe(1e-3);
    expect(learningRate(s, 99, 100, 1e-3)).toBe(1e-3);
    expect(learningRate({ kind: 'constant', warmup_steps: 0 }, 0, 100, 1e-3)).toBe(1e-3);
  });

  it('cosine: W = 10, S = 110, min_ratio 0.1', () => {
    const s: LrSchedule = { kind: 'cosine', warmup_steps: 10, min_ratio: 0.1 };
    expect(learningRate(s, 5, 110, 1)).toBeCloseTo(0.6, 12);
    expect(learningRate(s, 10, 110, 1)).toBeCloseTo(1, 12);
    // a quarter of the decay span: 0.1 + 0.9 · ½ · (1 + cos(π/4)) = 0.868198052...
    expect(learningRate(s, 35, 110, 1)).toBeCloseTo(0.8681980515339464, 12);
    expect(learningRate(s, 60, 110, 1)).toBeCloseTo(0.55, 12);
    expect(learningRate(s, 110, 110, 1)).toBeCloseTo(0.1, 12);
    // past the end it stays at the floor instead of rising again
    expect(learningRate(s, 500, 110, 1)).toBeCloseTo(0.1, 12);
  });

  it('multistep: warmup 2000, [67% -> 0.1, 98% -> 0.0333] of 10000 steps, relative to the peak', () => {
    const s: LrSchedule = {
      kind: 'multistep',
      warmup_steps: 2000,
      milestones: [
        { fraction: 0.67, step: 6700, factor: 0.1 },
        { fraction: 0.98, step: 9800, factor: 0.0333 },
      ],
    };
    const lr = (step: number): number => learningRate(s, step, 10000, 2.2e-4);
    expect(lr(0)).toBeCloseTo(1.1e-7, 18);
    expect(lr(999)).toBeCloseTo(1.1e-4, 15);
    expect(lr(1999)).toBe(2.2e-4);
    expect(lr(6699)).toBe(2.2e-4);
    expect(lr(6700)).toBeCloseTo(2.2e-5, 15);
    expect(lr(9799)).toBeCloseTo(2.2e-5, 15);
    // 0.0333 of the peak, not 0.1 × 0.0333
    expect(lr(9800)).toBeCloseTo(7.326e-6, 15);
    expect(lr(9999)).toBeCloseTo(7.326e-6, 15);
  });

  it('multistep with steps unknown at compile time (epochs) uses round(fraction · steps), in any listed order', () => {
    const s: LrSchedule = {
      kind: 'multistep',
      warmup_steps: 0,
      milestones: [
        { fraction: 0.9, step: null, factor: 0.1 },
        { fraction: 0.8, step: null, factor: 0.316 },
      ],
    };
    // 333 steps: milestones at round(266.4) = 266 and round(299.7) = 300
    expect(learningRate(s, 265, 333, 1)).toBe(1);
    expect(learningRate(s, 266, 333, 1)).toBe(0.316);
    expect(learningRate(s, 299, 333, 1)).toBe(0.316);
    expect(learningRate(s, 300, 333, 1)).toBe(0.1);
  });

  it("reads r1-tiny's compiled plan: warmup 5, [80% -> 0.316, 90% -> 0.1] of 200 steps at lr 1e-2", () => {
    // read from its folder: the data files it names are checked too
    const checked = checkFile(fileURLToPath(new URL('../../../examples/r1-tiny.moe', import.meta.url)), nodeHost);
    expect(checked.diagnostics.filter((d) => d.severity === 'error')).toEqual([]);
    const base = lowerSpec(checked, '/mem').plan.stages.find((s) => s.name === 'base')!;
    const s = parseSchedule(base.hyper.schedule);
    expect(s.kind).toBe('multistep');
    const steps = base.hyper.steps as number;
    expect(steps).toBe(200);
    expect(learningRate(s, 0, steps, 1e-2)).toBeCloseTo(2e-3, 15);
    expect(learningRate(s, 159, steps, 1e-2)).toBe(1e-2);
    expect(learningRate(s, 160, steps, 1e-2)).toBeCloseTo(3.16e-3, 15);
    expect(learningRate(s, 180, steps, 1e-2)).toBeCloseTo(1e-3, 15);
  });

  it('defaults to constant without warmup and rejects unknown kinds and bad steps', () => {
    expect(parseSchedule(undefined)).toEqual({ kind: 'constant', warmup_steps: 0 });
    expect(() => parseSchedule({ kind: 'linear', warmup_steps: 0 })).toThrow(/unknown schedule kind linear/);
    expect(() => learningRate({ kind: 'constant', warmup_steps: 0 }, -1, 10, 1)).toThrow(RangeError);
  });
});

describe('scalar schedules (γ, λ)', () => {
  it('a constant is itself', () => {
    expect(scalarAt(0.3, 0, 100)).toBe(0.3);
    expect(scalarAt(0.3, 99, 100)).toBe(0.3);
  });

  it('breakpoints: DeepSeek-V3 γ = 0.001 then 0 for the last 3.4 %, λ 0.3 then 0.1', () => {
    const gamma = parseScalarSchedule([{ at: 0, value: 0.001 }, { at: 0.966, value: 0 }], 'bias_rate');
    expect(scalarAt(gamma, 0, 1000)).toBe(0.001);
    expect(scalarAt(gamma, 965, 1000)).toBe(0.001);
    expect(scalarAt(gamma, 966, 1000)).toBe(0);
    const lambda = parseScalarSchedule([[0.676, 0.1], [0, 0.3]], 'mtp_weight');
    expect(scalarAt(lambda, 675, 1000)).toBe(0.3);
    expect(scalarAt(lambda, 676, 1000)).toBe(0.1);
    // before the first breakpoint: the first breakpoint's value
    expect(scalarAt([[0.5, 2]], 0, 10)).toBe(2);
    expect(() => parseScalarSchedule([], 'x')).toThrow(/non-empty/);
  });
});
