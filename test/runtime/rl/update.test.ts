/**
 * Gradient accumulation in the GRPO policy update (`parallel { micro_batches }`): over 2 and 4
 * equal parts of a fixed rollout batch, the update gives the whole batch's loss, KL, clip fraction,
 * entropy, gradient norm and every gradient (read from the parameters after one AdamW step whose
 * eps dominates, so each step is a fixed monotone function of its gradient, not only of its sign)
 * under each loss normalisation; the completions count different numbers of tokens (one none at
 * all), so a part weighted by its rows alone would be off under `dapo`. It peaks lower in tensor
 * memory, leaks no tensor, computes the reference log-probabilities in parts identically, and
 * refuses a batch that does not split. With `recompute = full` (model/recompute.ts) the update's
 * values and steps are the plain update's, whole and in parts, at a lower memory peak.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import type { ModelGraph } from '../../../ir/types.js';
import { ParamStore } from '../../../runtime/model/params.js';
import { policyBatch, type PolicyBatch } from '../../../runtime/rl/batch.js';
import { grpoObjective, type LossKind } from '../../../runtime/rl/objective.js';
import type { RolloutItem } from '../../../runtime/rl/rollout.js';
import { grpoUpdate, policyLogprobs, referenceLogprobs, type UpdateOptions, type UpdateResult } from '../../../runtime/rl/update.js';
import { tf } from '../../../runtime/tf.js';
import { AdamW } from '../../../runtime/train/adamw.js';
import { useCpu } from '../gradcheck.js';
import { microModel } from '../micro-spec.js';

const TEMPERATURE = 0.7;
// step 1 of AdamW moves p by lr · g / (|g| + eps): with eps ≫ |g|, about lr/eps · g
const OPTIMIZER = { lr: 100, betas: [0.9, 0.95] as [number, number], weightDecay: 0, eps: 1 };

/** 8 completions (4 prompts × group 2) of 3, 1, 5, 2, 4, 4, 1 and 6 tokens; the 7th is cut at max_new_tokens (masked out). */
function rollout(): RolloutItem[] {
  const prompts = [[1, 5], [1, 5], [9, 2, 33], [9, 2, 33], [7], [7], [12, 3, 18, 26], [12, 3, 18, 26]];
  const lengths = [3, 1, 5, 2, 4, 4, 1, 6];
  return prompts.map((promptIds, n) => {
    const ids = Array.from({ length: lengths[n]! }, (_, k) => (n * 11 + k * 7 + 3) % 40);
    // around log(1/40), off by up to ±0.45 so some ratios leave the clip range
    const logprobs = ids.map((_, k) => Math.log(1 / 40) + 0.45 * Math.sin(n * 3.1 + k * 1.7));
    return { record: { prompt: '', completion: '' }, promptIds, completion: { ids, logprobs, finish: n === 6 ? 'length' : 'eos' }, text: '', reward: 0, components: {} };
  });
}

const ADVANTAGES = [1.2, -1.2, 0.4, -0.4, 0.7, -0.7, -1.5, 1.5];

function batchOf(): PolicyBatch {
  return policyBatch(rollout(), ADVANTAGES, 0, true);
}

function options(loss: LossKind, microBatches: number): UpdateOptions {
  return { clipLow: 0.2, clipHigh: 0.28, kl: 0.1, loss, maxNewTokens: 6, lr: OPTIMIZER.lr, clipGrad: 0, temperature: TEMPERATURE, microBatches };
}

interface Outcome {
  readonly result: UpdateResult;
  /** each parameter's change in the update */
  readonly steps: Float32Array[];
}

async function values(store: ParamStore): Promise<Float32Array[]> {
  return Promise.all([...store.params.values()].map(async (v) => Float32Array.from(await v.data())));
}

async function oneUpdate(model: ModelGraph, loss: LossKind, microBatches: number, recompute = false): Promise<Outcome> {
  const store = ParamStore.initialise(model, 3);
  const reference = ParamStore.initialise(model, 11);
  const optimizer = AdamW.forStore(store, OPTIMIZER);
  const batch = batchOf();
  const refLogp = referenceLogprobs(model, reference, batch, TEMPERATURE);
  try {
    const before = await values(store);
    const result = await grpoUpdate(model, store, optimizer, batch, refLogp, { ...options(loss, microBatches), recompute });
    const after = await values(store);
    return { result, steps: after.map((a, i) => a.map((x, j) => x - before[i]![j]!)) };
  } finally {
    tf.dispose([refLogp]);
    batch.dispose();
    optimizer.dispose();
    store.dispose();
    reference.dispose();
  }
}

/** |a − b| relative to the larger magnitude (1e-30 keeps 0 = 0). */
const relative = (a: number, b: number): number => Math.abs(a - b) / Math.max(Math.abs(a), Math.abs(b), 1e-30);

describe('micro_batches in the GRPO policy update', () => {
  let model: ModelGraph;
  beforeAll(async () => {
    await useCpu();
    model = microModel();
  });

  it.each(['grpo', 'dapo', 'dr_grpo'] as const)('gives the whole batch\'s values and gradients with 2 and 4 parts (loss = %s)', async (loss) => {
    const whole = await oneUpdate(model, loss, 1);
    expect(whole.result.nonFinite).toBeNull();
    expect(whole.result.clipFraction).toBeGreaterThan(0);
    expect(whole.result.kl).toBeGreaterThan(0);
    for (const m of [2, 4]) {
      const split = await oneUpdate(model, loss, m);
      expect(split.result.nonFinite).toBeNull();
      for (const key of ['loss', 'kl', 'clipFraction', 'entropy', 'gradNorm'] as const) {
        expect(relative(split.result[key], whole.result[key]), `${key} with ${m} parts`).toBeLessThan(1e-5);
      }
      // every parameter tensor's step, to 1e-5 of its largest entry
      let changed = 0;
      split.steps.forEach((step, i) => {
        const reference = whole.steps[i]!;
        const scale = reference.reduce((a, x) => Math.max(a, Math.abs(x)), 0);
        if (scale > 0) changed++;
        step.forEach((x, j) => expect(Math.abs(x - reference[j]!)).toBeLessThanOrEqual(1e-5 * scale));
      });
      expect(changed).toBeGreaterThan(0);
    }
  });

  it('uses a batch whose halves count different numbers of tokens (so an unweighted mean of the halves\' dapo losses would be off)', async () => {
    const store = ParamStore.initialise(model, 3);
    const batch = batchOf();
    const loss = (from: number, to: number): number =>
      tf.tidy(() => {
        const rows = (t: tf.Tensor2D): tf.Tensor2D => tf.slice(t, [from, 0], [to - from, -1]);
        const { logp } = policyLogprobs(model, store, { inputIds: rows(batch.inputIds), targets: rows(batch.targets) }, TEMPERATURE);
        const objective = grpoObjective(logp, { mask: rows(batch.mask), advantages: rows(batch.advantages), oldLogp: rows(batch.oldLogp) }, options('dapo', 1));
        return objective.loss.dataSync()[0]!;
      });
    const mean = (loss(0, 4) + loss(4, 8)) / 2;
    const whole = loss(0, 8);
    batch.dispose();
    store.dispose();
    expect(Math.abs(mean - whole)).toBeGreaterThan(1e-3);
  });

  it('computes the reference log-probabilities in parts exactly as in one pass', async () => {
    const reference = ParamStore.initialise(model, 11);
    const batch = batchOf();
    const one = (await referenceLogprobs(model, reference, batch, TEMPERATURE).array()) as number[][];
    for (const parts of [2, 4]) {
      const split = (await referenceLogprobs(model, reference, batch, TEMPERATURE, parts).array()) as number[][];
      split.forEach((row, n) => row.forEach((x, t) => expect(Math.abs(x - one[n]![t]!)).toBeLessThan(1e-6)));
    }
    batch.dispose();
    reference.dispose();
  });

  it('peaks lower in tensor memory on cpu', async () => {
    const peak = async (m: number): Promise<number> => (await tf.profile(async () => void (await oneUpdate(model, 'grpo', m)))).peakBytes;
    const whole = await peak(1);
    const split = await peak(4);
    expect(split).toBeLessThan(whole);
  });

  it.each([1, 2])('with recompute = full gives the same values and gradients in less memory (%i part(s))', async (m) => {
    let plain: Outcome | undefined;
    let again: Outcome | undefined;
    const high = (await tf.profile(async () => void (plain = await oneUpdate(model, 'grpo', m)))).peakBytes;
    const low = (await tf.profile(async () => void (again = await oneUpdate(model, 'grpo', m, true)))).peakBytes;
    for (const key of ['loss', 'kl', 'clipFraction', 'entropy', 'gradNorm'] as const) {
      expect(relative(again!.result[key], plain!.result[key]), key).toBeLessThan(1e-6);
    }
    again!.steps.forEach((step, i) => {
      const reference = plain!.steps[i]!;
      const scale = reference.reduce((a, x) => Math.max(a, Math.abs(x)), 0);
      step.forEach((x, j) => expect(Math.abs(x - reference[j]!)).toBeLessThanOrEqual(1e-6 * scale));
    });
    console.log(`grpo update, ${m} part(s): peak tensor bytes plain ${high}, recompute = full ${low}`);
    expect(low).toBeLessThan(high);
  });

  it('leaves no tensor behind: the count is flat from update to update', async () => {
    const store = ParamStore.initialise(model, 3);
    const optimizer = AdamW.forStore(store, OPTIMIZER);
    const batch = batchOf();
    const counts: number[] = [];
    for (let s = 0; s < 3; s++) {
      await grpoUpdate(model, store, optimizer, batch, undefined, { ...options('grpo', 2), kl: 0 });
      counts.push(tf.memory().numTensors);
    }
    batch.dispose();
    optimizer.dispose();
    store.dispose();
    expect(new Set(counts).size).toBe(1);
  });

  it('refuses a rollout batch that does not split evenly, before changing anything', async () => {
    const store = ParamStore.initialise(model, 3);
    const optimizer = AdamW.forStore(store, OPTIMIZER);
    const batch = batchOf();
    const before = await values(store);
    await expect(grpoUpdate(model, store, optimizer, batch, undefined, options('grpo', 3))).rejects.toThrow(/a rollout batch of 8 sequences does not split into 3 micro-batches/);
    expect(() => referenceLogprobs(model, store, batch, TEMPERATURE, 3)).toThrow(/does not split into 3 micro-batches/);
    expect(await values(store)).toEqual(before);
    batch.dispose();
    optimizer.dispose();
    store.dispose();
  });
});
