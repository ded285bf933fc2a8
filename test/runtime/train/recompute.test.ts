/**
 * The training step with `recompute = full` (StepOptions.recompute, model/recompute.ts) on the
 * micro model, whole and in 2 micro-batches: the loss, the gradient norm and every parameter's
 * gradient handed to AdamW equal the plain step's, the router loads are the same, and the step's
 * peak tensor memory on cpu is lower.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import type { ModelGraph } from '../../../ir/types.js';
import { selectBackend } from '../../../runtime/backend/select.js';
import { ParamStore } from '../../../runtime/model/params.js';
import { tf } from '../../../runtime/tf.js';
import { accumulatedStep } from '../../../runtime/train/accumulate.js';
import { AdamW } from '../../../runtime/train/adamw.js';
import type { TrainBatch } from '../../../runtime/train/batch.js';
import { stepPlan, trainStep, type StepResult } from '../../../runtime/train/step.js';
import { microModel } from '../micro-spec.js';
import { relativeDiff } from '../relative-diff.js';

const CONFIG = { betas: [0.9, 0.95] as const, weightDecay: 0.1, eps: 1e-8 };

/** 4 rows of 16 tokens, uneven loss masks. */
function batchOf(): TrainBatch {
  const inputIds = Int32Array.from({ length: 64 }, (_, i) => (i * 7 + 3) % 40);
  const lossMask = Float32Array.from({ length: 64 }, (_, i) => (i % 16 >= [2, 9, 5, 12][Math.floor(i / 16)]! ? 1 : 0));
  return { inputIds, lossMask, batch: 4, seqLen: 16 };
}

interface Run {
  readonly result: StepResult;
  /** the gradients AdamW was given, by parameter name */
  readonly grads: Map<string, Float32Array>;
  readonly peakBytes: number;
}

/** One step from the same initial weights, the gradients captured where AdamW receives them. */
async function step(model: ModelGraph, microBatches: number, recompute: boolean): Promise<Run> {
  const store = ParamStore.initialise(model, 7);
  const optimizer = AdamW.forStore(store, CONFIG);
  const plan = stepPlan(model, store);
  const grads = new Map<string, Float32Array>();
  const apply = optimizer.apply.bind(optimizer);
  optimizer.apply = (given, options) => {
    for (const [name, g] of given) grads.set(name, g.dataSync() as Float32Array);
    apply(given, options);
  };
  const batch = batchOf();
  const options = { lr: 1e-2, clip: 0, recompute };
  let result: StepResult | undefined;
  const { peakBytes } = await tf.profile(async () => {
    if (microBatches > 1) {
      result = await accumulatedStep(model, store, optimizer, batch, microBatches, options, plan);
      return;
    }
    const inputIds = tf.tensor2d(batch.inputIds, [batch.batch, batch.seqLen], 'int32');
    const lossMask = tf.tensor2d(batch.lossMask, [batch.batch, batch.seqLen], 'float32');
    result = await trainStep(model, store, optimizer, { inputIds, lossMask }, options, plan);
    tf.dispose([inputIds, lossMask]);
  });
  store.dispose();
  optimizer.dispose();
  return { result: result!, grads, peakBytes };
}

describe('a training step with recompute = full', () => {
  let model: ModelGraph;
  beforeAll(async () => {
    await selectBackend('cpu');
    model = microModel();
  });

  it.each([1, 2])('gives the plain step\'s loss, loads and every gradient with %i micro-batch(es), in less memory', async (m) => {
    const before = tf.memory().numTensors;
    const plain = await step(model, m, false);
    const again = await step(model, m, true);
    expect(tf.memory().numTensors).toBe(before);
    expect(again.result.nonFinite).toBeNull();
    expect(Math.abs(again.result.loss - plain.result.loss) / plain.result.loss).toBeLessThan(1e-6);
    expect(Math.abs(again.result.gradNorm - plain.result.gradNorm) / plain.result.gradNorm).toBeLessThan(1e-6);
    expect(again.result.loads).toEqual(plain.result.loads);
    expect(plain.grads.size).toBe(model.params.length);
    expect([...again.grads.keys()]).toEqual([...plain.grads.keys()]);
    for (const [name, g] of plain.grads) {
      const diff = relativeDiff(again.grads.get(name)!, g);
      if (diff >= 1e-6) throw new Error(`${name}: relative difference ${diff}`);
    }
    console.log(`micro_batches = ${m}: step peak tensor bytes plain ${plain.peakBytes}, recompute = full ${again.peakBytes}`);
    expect(again.peakBytes).toBeLessThan(plain.peakBytes);
  });
});
