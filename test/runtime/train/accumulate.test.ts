/**
 * Gradient accumulation (`micro_batches`): the step over M micro-batches gives the whole batch's
 * loss, gradient norm, router loads and updated weights (micro model: sequence-wise balance and z
 * losses, both exact under equal row blocks; uneven loss masks so the per-micro-batch weighting
 * of the cross-entropies matters), and its peak tensor memory on cpu is lower.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import type { ModelGraph } from '../../../ir/types.js';
import { selectBackend } from '../../../runtime/backend/select.js';
import { ParamStore } from '../../../runtime/model/params.js';
import { tf } from '../../../runtime/tf.js';
import { adamwConfig } from '../../../runtime/train/adamw.js';
import { tfjsEngine, type TrainBatch } from '../../../runtime/train/engine.js';
import { microModel } from '../micro-spec.js';

const OPTIMIZER = { kind: 'adamw', lr: 1e-2, betas: [0.9, 0.95], weight_decay: 0.1, eps: 1e-8 };

/** 4 rows of 8 tokens; the rows count 7, 3, 5 and 1 positions of the main loss. */
function batchOf(): TrainBatch {
  const inputIds = Int32Array.from({ length: 32 }, (_, i) => (i * 7 + 3) % 40);
  const counted = [7, 3, 5, 1];
  const lossMask = Float32Array.from({ length: 32 }, (_, i) => (i % 8 >= 8 - counted[Math.floor(i / 8)]! ? 1 : 0));
  return { inputIds, lossMask, batch: 4, seqLen: 8 };
}

async function oneStep(model: ModelGraph, microBatches: number): Promise<{ loss: number; gradNorm: number; loads: number[][]; weights: Float32Array[]; bias: Float32Array[] }> {
  const engine = tfjsEngine(model, ParamStore.initialise(model, 3), adamwConfig(OPTIMIZER));
  try {
    const r = await engine.step(batchOf(), { lr: 1e-2, clip: 0, microBatches });
    expect(r.nonFinite).toBeNull();
    const snap = await engine.snapshot();
    return {
      loss: r.loss,
      gradNorm: r.gradNorm,
      loads: [...r.loads.values()].map((l) => [...l]),
      weights: [...snap.params.values()].map((t) => Float32Array.from(t.data as ArrayLike<number>)),
      bias: [...snap.state.values()].map((t) => Float32Array.from(t.data as ArrayLike<number>)),
    };
  } finally {
    engine.dispose();
  }
}

describe('micro_batches: gradient accumulation on tfjs', () => {
  let model: ModelGraph;
  beforeAll(async () => {
    await selectBackend('cpu');
    model = microModel();
  });

  it('gives the whole batch\'s loss, gradient, loads and update with 2 and 4 micro-batches', async () => {
    const whole = await oneStep(model, 1);
    for (const m of [2, 4]) {
      const split = await oneStep(model, m);
      expect(Math.abs(split.loss - whole.loss)).toBeLessThan(1e-5);
      expect(Math.abs(split.gradNorm - whole.gradNorm) / whole.gradNorm).toBeLessThan(1e-5);
      // the loads are summed over the micro-batches: the same counts, so the same bias update
      expect(split.loads).toEqual(whole.loads);
      expect(split.bias).toEqual(whole.bias);
      split.weights.forEach((w, i) => w.forEach((x, j) => expect(Math.abs(x - whole.weights[i]![j]!)).toBeLessThan(1e-5)));
    }
  });

  it('uses a batch whose halves count different positions (so an unweighted mean would be off)', async () => {
    const engine = tfjsEngine(model, ParamStore.initialise(model, 3), adamwConfig(OPTIMIZER));
    const b = batchOf();
    const half = (i: number): TrainBatch => ({ inputIds: b.inputIds.slice(i * 16, i * 16 + 16), lossMask: b.lossMask.slice(i * 16, i * 16 + 16), batch: 2, seqLen: 8 });
    const whole = await engine.mainLoss(b);
    const mean = ((await engine.mainLoss(half(0))) + (await engine.mainLoss(half(1)))) / 2;
    engine.dispose();
    expect(Math.abs(mean - whole)).toBeGreaterThan(1e-3);
  });

  it('peaks lower in tensor memory on cpu', async () => {
    const peak = async (m: number): Promise<number> => (await tf.profile(async () => void (await oneStep(model, m)))).peakBytes;
    const whole = await peak(1);
    const split = await peak(4);
    expect(split).toBeLessThan(whole);
  });

  it('leaves no tensor behind: the count is flat from step to step', async () => {
    const engine = tfjsEngine(model, ParamStore.initialise(model, 3), adamwConfig(OPTIMIZER));
    const counts: number[] = [];
    for (let s = 0; s < 3; s++) {
      await engine.step(batchOf(), { lr: 1e-2, clip: 1, microBatches: 2 });
      counts.push(tf.memory().numTensors);
    }
    engine.dispose();
    expect(new Set(counts).size).toBe(1);
  });

  it('refuses a batch that does not split evenly', async () => {
    const engine = tfjsEngine(model, ParamStore.initialise(model, 3), adamwConfig(OPTIMIZER));
    await expect(engine.step(batchOf(), { lr: 1e-2, clip: 0, microBatches: 3 })).rejects.toThrow(/does not split into 3 micro-batches/);
    engine.dispose();
  });
});
