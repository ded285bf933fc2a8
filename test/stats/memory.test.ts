import { describe, expect, it } from 'vitest';
import {
  ATTENTION_ACTIVATION_FACTOR,
  inFlightMicroBatches,
  logitsBytes,
  stageActivationBytes,
} from '../../compiler/stats/activations.js';
import { estimateMemory, type MemoryTerm } from '../../compiler/stats/memory.js';
import { countParams } from '../../compiler/stats/params.js';
import type { ParallelPlan, TrainingSetup } from '../../compiler/stats/shape.js';
import { deepSeekV3, mixtral8x7b, smallDense } from './models.js';

const single: ParallelPlan = { data: 1, tensor: 1, pipeline: 1, expert: 1, microBatches: 1, zero: 0 };
const plan: ParallelPlan = { data: 8, tensor: 2, pipeline: 4, expert: 4, microBatches: 8, zero: 0 };
const setup: TrainingSetup = { seqLen: 4096, batch: 64, precision: 'bf16' };

describe('estimateMemory on one device', () => {
  it('holds every parameter: 2 bytes of weights and gradients, 12 of AdamW state in bf16', () => {
    const total = countParams(mixtral8x7b).total;
    const m = estimateMemory(mixtral8x7b, single, setup);
    expect(m.weights).toBe(2 * total);
    expect(m.gradients).toBe(2 * total);
    expect(m.optimizer).toBe(12 * total);
  });

  it('holds fp32 weights and 8 bytes of AdamW state in fp32', () => {
    const total = countParams(smallDense).total;
    const m = estimateMemory(smallDense, single, { ...setup, precision: 'fp32' });
    expect(m.weights).toBe(4 * total);
    expect(m.optimizer).toBe(8 * total);
  });

  it('counts a tied embedding once', () => {
    const tied = { ...smallDense, tieEmbeddings: true };
    expect(estimateMemory(tied, single, setup).weights).toBe(2 * countParams(tied).total);
  });

  it('estimates activations from the documented formula', () => {
    const s = { seqLen: 1024, batch: 2, precision: 'bf16' } as const;
    const tokens = 1024 * 2;
    const perLayer = ATTENTION_ACTIVATION_FACTOR * tokens * 2048 + 6 * tokens * 5632;
    const logits = 4 * tokens * 32000;
    expect(estimateMemory(smallDense, single, s).activations).toBe(16 * perLayer + logits);
  });

  it('sums its terms and names the biggest', () => {
    const m = estimateMemory(deepSeekV3, { ...plan, pipeline: 8, expert: 8 }, setup);
    expect(m.total).toBe(m.weights + m.gradients + m.optimizer + m.activations);
    const terms: MemoryTerm[] = ['weights', 'gradients', 'optimizer', 'activations'];
    for (const term of terms) expect(m[term]).toBeLessThanOrEqual(m[m.biggest]);
  });
});

describe('headroom', () => {
  it('is null without a cluster', () => {
    expect(estimateMemory(mixtral8x7b, plan, setup).headroom).toBeNull();
  });

  it('is the device memory left over', () => {
    const m = estimateMemory(mixtral8x7b, plan, setup, { devices: 64, memory: 80e9, peak: 1e15 });
    expect(m.headroom).toBe(80e9 - m.total);
  });
});

describe('ZeRO', () => {
  it('stage 1 shards the optimizer state over data-parallel ranks', () => {
    const total = countParams(smallDense).total;
    const m = estimateMemory(smallDense, { ...single, data: 4, zero: 1 }, { ...setup, batch: 4 });
    expect(m.optimizer).toBe((12 * total) / 4);
    expect(m.gradients).toBe(2 * total);
  });

  it('shards expert state over data·tensor/expert ranks', () => {
    const p = countParams(mixtral8x7b);
    const nonExpert = p.total - p.routedExperts;
    // data 8 × tensor 1 / expert 4 = 2 replicas of each expert shard
    const m = estimateMemory(mixtral8x7b, { ...single, data: 8, expert: 4, zero: 1 }, { ...setup, batch: 8 });
    expect(m.optimizer).toBeCloseTo(12 * (nonExpert / 8 + p.routedExperts / 4 / 2), 0);
  });

  it('lowers only the optimizer term at stage 1', () => {
    const z0 = estimateMemory(mixtral8x7b, plan, setup);
    const z1 = estimateMemory(mixtral8x7b, { ...plan, zero: 1 }, setup);
    expect(z1.optimizer).toBeLessThan(z0.optimizer);
    expect(z1.gradients).toBe(z0.gradients);
    expect(z1.weights).toBe(z0.weights);
    expect(z1.activations).toBe(z0.activations);
  });

  it('lowers gradients at stage 2 and weights at stage 3', () => {
    const z1 = estimateMemory(mixtral8x7b, { ...plan, zero: 1 }, setup);
    const z2 = estimateMemory(mixtral8x7b, { ...plan, zero: 2 }, setup);
    const z3 = estimateMemory(mixtral8x7b, { ...plan, zero: 3 }, setup);
    expect(z2.gradients).toBeLessThan(z1.gradients);
    expect(z2.weights).toBe(z1.weights);
    expect(z3.weights).toBeLessThan(z2.weights);
    expect(z3.total).toBeLessThan(z2.total);
    expect(z2.total).toBeLessThan(z1.total);
  });
});

describe('parallelism lowers memory per device', () => {
  it('more tensor parallelism', () => {
    const t2 = estimateMemory(mixtral8x7b, plan, setup);
    const t4 = estimateMemory(mixtral8x7b, { ...plan, tensor: 4 }, setup);
    expect(t4.weights).toBeLessThan(t2.weights);
    expect(t4.activations).toBeLessThan(t2.activations);
    expect(t4.total).toBeLessThan(t2.total);
  });

  it('more pipeline stages', () => {
    const p4 = estimateMemory(mixtral8x7b, plan, setup);
    const p8 = estimateMemory(mixtral8x7b, { ...plan, pipeline: 8 }, setup);
    expect(p8.weights).toBeLessThan(p4.weights);
    expect(p8.optimizer).toBeLessThan(p4.optimizer);
  });

  it('more expert parallelism', () => {
    const e4 = estimateMemory(mixtral8x7b, plan, setup);
    const e8 = estimateMemory(mixtral8x7b, { ...plan, expert: 8 }, setup);
    expect(e8.weights).toBeLessThan(e4.weights);
    expect(e8.activations).toBe(e4.activations);
  });

  it('more micro-batches, once they outnumber the pipeline stages', () => {
    const m8 = estimateMemory(mixtral8x7b, plan, setup);
    const m16 = estimateMemory(mixtral8x7b, { ...plan, microBatches: 16 }, { ...setup, batch: 128 });
    const m32 = estimateMemory(mixtral8x7b, { ...plan, microBatches: 32 }, { ...setup, batch: 128 });
    expect(m32.activations).toBeLessThan(m16.activations);
    // 1F1B holds at most `pipeline` micro-batches: twice the batch in twice the micro-batches costs the same
    expect(m16.activations).toBe(m8.activations);
  });

  it('but not while micro-batches are fewer than stages', () => {
    const m2 = estimateMemory(mixtral8x7b, { ...plan, microBatches: 2 }, setup);
    const m4 = estimateMemory(mixtral8x7b, { ...plan, microBatches: 4 }, setup);
    expect(m4.activations).toBe(m2.activations);
  });
});

describe('activations', () => {
  it('grow with sequence length and batch', () => {
    const base = estimateMemory(mixtral8x7b, plan, setup).activations;
    expect(estimateMemory(mixtral8x7b, plan, { ...setup, seqLen: 8192 }).activations).toBeGreaterThan(base);
    expect(estimateMemory(mixtral8x7b, plan, { ...setup, batch: 128 }).activations).toBeGreaterThan(base);
  });

  it('double in fp32, apart from the fp32 logits', () => {
    const pp = { ...single, pipeline: 2 };
    const bf16 = stageActivationBytes(smallDense, 0, pp, setup);
    const fp32 = stageActivationBytes(smallDense, 0, pp, { ...setup, precision: 'fp32' });
    expect(fp32).toBe(2 * bf16);
    const tokens = setup.seqLen * setup.batch;
    const logits = logitsBytes(smallDense, tokens, 1);
    const lastBf16 = stageActivationBytes(smallDense, 1, pp, setup) - logits;
    const lastFp32 = stageActivationBytes(smallDense, 1, pp, { ...setup, precision: 'fp32' }) - logits;
    expect(lastFp32).toBe(2 * lastBf16);
  });

  it('keep min(pipeline − stage, microBatches) micro-batches in flight under 1F1B', () => {
    expect(inFlightMicroBatches(0, plan)).toBe(4);
    expect(inFlightMicroBatches(3, plan)).toBe(1);
    expect(inFlightMicroBatches(0, { ...plan, microBatches: 2 })).toBe(2);
  });
});

describe('pipeline stages', () => {
  it('report the busiest stage', () => {
    const m = estimateMemory(smallDense, { ...single, pipeline: 4, microBatches: 4 }, { ...setup, batch: 4 });
    // stage 0 holds the embedding and the most micro-batches in flight
    expect(m.stage).toBe(0);
  });

  it('count the MTP modules', () => {
    const without = { ...deepSeekV3, mtpDepth: 0 };
    const mtp = countParams(deepSeekV3).mtp.total;
    const withMtp = estimateMemory(deepSeekV3, single, setup).weights;
    expect(withMtp - estimateMemory(without, single, setup).weights).toBe(2 * mtp);
  });
});
