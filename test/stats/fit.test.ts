import { describe, expect, it } from 'vitest';
import { applyFix, checkFit } from '../../compiler/stats/fit.js';
import { estimateMemory } from '../../compiler/stats/memory.js';
import type { ClusterShape, ParallelPlan, TrainingSetup } from '../../compiler/stats/shape.js';
import { deepSeekV3, mixtral8x7b, smallDense } from './models.js';

function cluster(memory: number): ClusterShape {
  return { devices: 64, memory, peak: 989e12 };
}

describe('checkFit', () => {
  const plan: ParallelPlan = { data: 8, tensor: 1, pipeline: 1, expert: 8, microBatches: 1, zero: 0 };
  const shortRun: TrainingSetup = { seqLen: 256, batch: 8, precision: 'bf16' };

  it('fits when the estimate is within device memory', () => {
    const total = estimateMemory(mixtral8x7b, plan, shortRun).total;
    const report = checkFit(mixtral8x7b, plan, shortRun, cluster(total));
    expect(report.fits).toBe(true);
    expect(report.headroom).toBe(0);
    expect(report.suggestion).toBeNull();
  });

  it('suggests ZeRO 1 when optimizer state is the biggest term', () => {
    const needed = estimateMemory(mixtral8x7b, { ...plan, zero: 1 }, shortRun).total;
    const report = checkFit(mixtral8x7b, plan, shortRun, cluster(needed));
    expect(report.fits).toBe(false);
    expect(report.memory.biggest).toBe('optimizer');
    expect(report.headroom).toBeLessThan(0);
    expect(report.fix).toEqual({ field: 'zero', value: 1, text: 'raise zero to 1' });
    expect(report.suggestion).toBe('optimizer is the biggest term; raise zero to 1');
  });

  it('suggests more micro-batches when activations dominate', () => {
    const longRun: TrainingSetup = { seqLen: 32768, batch: 64, precision: 'bf16' };
    const report = checkFit(mixtral8x7b, { ...plan, zero: 3 }, longRun, cluster(1e9));
    expect(report.memory.biggest).toBe('activations');
    expect(report.fix?.field).toBe('microBatches');
    expect(report.suggestion).toBe('activations is the biggest term; raise micro_batches to 2');
  });

  describe('for DeepSeek-V3 with few experts per device', () => {
    // The optimizer term dominates. ZeRO 1 helps little: with data 8 × tensor 1 / expert 4 every
    // expert shard has only two replicas to shard its state over.
    const pp: ParallelPlan = { data: 8, tensor: 1, pipeline: 4, expert: 4, microBatches: 8, zero: 0 };
    const setup: TrainingSetup = { seqLen: 4096, batch: 32, precision: 'bf16' };
    const totalAfter = (report: ReturnType<typeof checkFit>): number =>
      estimateMemory(deepSeekV3, applyFix(pp, report.fix!), setup).total;

    it('prefers the first change that makes it fit over a more natural one that does not', () => {
      const zero1 = estimateMemory(deepSeekV3, { ...pp, zero: 1 }, setup).total;
      const expert8 = estimateMemory(deepSeekV3, { ...pp, expert: 8 }, setup).total;
      expect(expert8).toBeLessThan(zero1);
      const report = checkFit(deepSeekV3, pp, setup, cluster(expert8));
      expect(report.memory.biggest).toBe('optimizer');
      expect(report.fix?.text).toBe('raise expert to 8');
      expect(totalAfter(report)).toBeLessThanOrEqual(expert8);
    });

    it('otherwise suggests the change that lowers the total most', () => {
      const report = checkFit(deepSeekV3, pp, setup, cluster(1e9));
      expect(report.fix?.text).toBe('raise pipeline to 8');
      const others = ['zero', 'expert', 'tensor'] as const;
      const doubled = { zero: 1, expert: 8, tensor: 2 } as const;
      for (const field of others) {
        const total = estimateMemory(deepSeekV3, { ...pp, [field]: doubled[field] }, setup).total;
        expect(totalAfter(report)).toBeLessThan(total);
      }
    });
  });

  it('never suggests expert parallelism that does not divide data × tensor', () => {
    const narrow: ParallelPlan = { data: 4, tensor: 1, pipeline: 4, expert: 4, microBatches: 8, zero: 1 };
    const report = checkFit(deepSeekV3, narrow, { seqLen: 4096, batch: 32, precision: 'bf16' }, cluster(1e9));
    expect(report.fix?.field).not.toBe('expert');
  });

  it('says so when no single change helps', () => {
    const maxed: ParallelPlan = { data: 1, tensor: 4, pipeline: 16, expert: 1, microBatches: 1, zero: 3 };
    const report = checkFit(smallDense, maxed, { seqLen: 4096, batch: 1, precision: 'bf16' }, cluster(1));
    expect(report.fits).toBe(false);
    expect(report.fix).toBeNull();
    expect(report.suggestion).toMatch(/is the biggest term; no single plan change lowers it$/);
  });
});
