/**
 * The GRPO pieces against hand-computed values: group-relative advantages under each scale, the
 * three loss normalisations, PPO clipping (value, clip fraction and a zero gradient where clipped),
 * the k3 KL estimate, parts of a batch normalised by the whole batch's sizes (gradient
 * accumulation), the gradient against finite differences, and the rollout → tensor layout.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { advantages, std } from '../../../runtime/rl/advantages.js';
import { policyBatch } from '../../../runtime/rl/batch.js';
import { grpoObjective, tokenLogprobs, type ObjectiveSettings } from '../../../runtime/rl/objective.js';
import type { RolloutItem } from '../../../runtime/rl/rollout.js';
import { tf } from '../../../runtime/tf.js';
import { useCpu } from '../gradcheck.js';

const SETTINGS: ObjectiveSettings = { clipLow: 0.2, clipHigh: 0.28, kl: 0, loss: 'grpo', maxNewTokens: 4 };

async function value(t: tf.Tensor): Promise<number> {
  return (await t.data())[0]!;
}

describe('group-relative advantages', () => {
  it('standardise within each group, over the batch, or only centre', () => {
    const rewards = [1, 0, 0, 0, 0.5, 0.5, 0.5, 0.5];
    const group = advantages(rewards, 4, 'group');
    // group 1: mean 0.25, sample std 0.5; group 2 identical rewards → 0
    expect(group[0]).toBeCloseTo(0.75 / (0.5 + 1e-4), 6);
    expect(group[1]).toBeCloseTo(-0.25 / (0.5 + 1e-4), 6);
    expect(group.slice(4)).toEqual([0, 0, 0, 0]);
    expect(advantages(rewards, 4, 'batch')[0]).toBeCloseTo(0.75 / (std(rewards) + 1e-4), 6);
    expect(advantages(rewards, 4, 'none')).toEqual([0.75, -0.25, -0.25, -0.25, 0, 0, 0, 0]);
    expect(() => advantages([1, 2, 3], 2, 'group')).toThrow(/do not split into groups of 2/);
  });
});

describe('the GRPO objective', () => {
  beforeAll(useCpu);

  // two sequences: 1 and 3 counted tokens
  const mask = (): tf.Tensor2D => tf.tensor2d([[1, 0, 0], [1, 1, 1]]);
  const adv = (): tf.Tensor2D => tf.tensor2d([[1], [-2]]);

  it('normalises per sequence (grpo), per token (dapo) or by N·max_new_tokens (dr_grpo)', async () => {
    // ratio 1 everywhere: every counted token contributes −A
    const logp = tf.tensor2d([[-1, 0, 0], [-2, -1, -3]]);
    const batch = { mask: mask(), advantages: adv(), oldLogp: logp };
    // grpo: (−1/1 + 2·3/3) / 2 = 0.5;  dapo: (−1 + 6) / 4;  dr_grpo: (−1 + 6) / (2 · 4)
    expect(await value(grpoObjective(logp, batch, SETTINGS).loss)).toBeCloseTo(0.5, 6);
    expect(await value(grpoObjective(logp, batch, { ...SETTINGS, loss: 'dapo' }).loss)).toBeCloseTo(5 / 4, 6);
    expect(await value(grpoObjective(logp, batch, { ...SETTINGS, loss: 'dr_grpo' }).loss)).toBeCloseTo(5 / 8, 6);
  });

  it('clips the ratio at 1 + ε_high for a positive advantage and 1 − ε_low for a negative one', async () => {
    const old = tf.tensor2d([[0, 0, 0], [0, 0, 0]]);
    // sequence 1: ratio e^0.5 ≈ 1.65 with A = 1 → clipped at 1.28; sequence 2: ratio e^-0.5 ≈ 0.61 with A = −2 → clipped at 0.8
    const logp = tf.variable(tf.tensor2d([[0.5, 0, 0], [-0.5, 0, 0]]));
    const out = grpoObjective(logp, { mask: mask(), advantages: adv(), oldLogp: old }, SETTINGS);
    // grpo: (−1.28 + (0.8·2 + 2 + 2)/3) / 2
    expect(await value(out.loss)).toBeCloseTo((-1.28 + (1.6 + 4) / 3) / 2, 5);
    expect(await value(out.clipped)).toBeCloseTo(2 / 4, 6);
    const { grads } = tf.variableGrads(() => grpoObjective(logp, { mask: mask(), advantages: adv(), oldLogp: old }, SETTINGS).loss, [logp]);
    const g = (await grads[logp.name]!.array()) as number[][];
    // clipped tokens get no gradient; an unclipped token of sequence 2 gets −A·ratio/(3·2) = 2/6
    expect(g[0]![0]).toBe(0);
    expect(g[1]![0]).toBe(0);
    expect(g[1]![1]).toBeCloseTo(2 / 6, 6);
  });

  it('adds β times the k3 estimate, which is ≥ 0 and 0 at the reference', async () => {
    const logp = tf.tensor2d([[-1, 0, 0], [-2, -1, -3]]);
    const ref = tf.tensor2d([[-1.5, 0, 0], [-2, -0.5, -3]]);
    const out = grpoObjective(logp, { mask: mask(), advantages: adv(), oldLogp: logp, refLogp: ref }, { ...SETTINGS, kl: 0.1 });
    const k3 = (d: number): number => Math.exp(d) - d - 1;
    const expectedKl = (k3(-0.5) + k3(0) + k3(0.5) + k3(0)) / 4;
    expect(await value(out.kl)).toBeCloseTo(expectedKl, 6);
    // grpo: (−1 + 0.1·k3(−0.5))/1 and (6 + 0.1·k3(0.5))/3, averaged
    expect(await value(out.loss)).toBeCloseTo((-1 + 0.1 * k3(-0.5) + (6 + 0.1 * k3(0.5)) / 3) / 2, 5);
    const same = grpoObjective(logp, { mask: mask(), advantages: adv(), oldLogp: logp, refLogp: logp }, { ...SETTINGS, kl: 0.1 });
    expect(await value(same.kl)).toBe(0);
  });

  it('gives, on parts of the rows with the whole batch\'s sizes, terms that add up to the whole batch\'s values', async () => {
    // three sequences of 1, 3 and 0 counted tokens; ratios off 1 so some tokens clip
    const full = {
      mask: tf.tensor2d([[1, 0, 0], [1, 1, 1], [0, 0, 0]]),
      advantages: tf.tensor2d([[1], [-2], [0.5]]),
      oldLogp: tf.tensor2d([[-1, 0, 0], [-2, -1, -3], [0, 0, 0]]),
      refLogp: tf.tensor2d([[-1.5, 0, 0], [-2, -0.5, -3.2], [0, 0, 0]]),
    };
    const logp = tf.tensor2d([[-0.6, 0, 0], [-2.1, -1.4, -2.9], [0, 0, 0]]);
    const rows = (t: tf.Tensor2D, from: number, to: number): tf.Tensor2D => tf.slice(t, [from, 0], [to - from, -1]);
    for (const loss of ['grpo', 'dapo', 'dr_grpo'] as const) {
      const settings = { ...SETTINGS, kl: 0.1, loss };
      const whole = grpoObjective(logp, full, settings);
      const parts = [[0, 1], [1, 3]].map(([from, to]) =>
        grpoObjective(rows(logp, from!, to!), {
          mask: rows(full.mask, from!, to!),
          advantages: rows(full.advantages, from!, to!),
          oldLogp: rows(full.oldLogp, from!, to!),
          refLogp: rows(full.refLogp, from!, to!),
          whole: { sequences: 3, tokens: 4 },
        }, settings),
      );
      for (const key of ['loss', 'kl', 'clipped'] as const) {
        const sum = (await value(parts[0]![key])) + (await value(parts[1]![key]));
        expect(sum, `${loss}: ${key}`).toBeCloseTo(await value(whole[key]), 6);
      }
      expect(await value(whole.clipped)).toBeGreaterThan(0);
    }
  });

  it('has the gradient of finite differences with respect to the logits', async () => {
    const targets = tf.tensor2d([[2, 0, 1], [1, 3, 0]], [2, 3], 'int32');
    const raw = Array.from({ length: 2 * 3 * 4 }, (_, i) => Math.sin(i * 1.7) * 0.8);
    const old = tf.tensor2d([[-1.2, 0, 0], [-1.5, -1.1, -1.6]]);
    const ref = tf.tensor2d([[-1.3, 0, 0], [-1.4, -1.2, -1.5]]);
    const loss = (values: number[]): tf.Scalar =>
      tf.tidy(() => {
        const logits = tf.tensor3d(values, [2, 3, 4]);
        return grpoObjective(tokenLogprobs(logits, targets), { mask: mask(), advantages: adv(), oldLogp: old, refLogp: ref }, { ...SETTINGS, kl: 0.2, loss: 'dapo' }).loss;
      });
    const logits = tf.variable(tf.tensor3d(raw, [2, 3, 4]));
    const { grads } = tf.variableGrads(
      () => grpoObjective(tokenLogprobs(logits, targets), { mask: mask(), advantages: adv(), oldLogp: old, refLogp: ref }, { ...SETTINGS, kl: 0.2, loss: 'dapo' }).loss,
      [logits],
    );
    const analytic = (await grads[logits.name]!.data()) as Float32Array;
    const h = 1e-2;
    let worst = 0;
    for (let i = 0; i < raw.length; i++) {
      const up = [...raw];
      const down = [...raw];
      up[i]! += h;
      down[i]! -= h;
      const numeric = ((await value(loss(up))) - (await value(loss(down)))) / (2 * h);
      worst = Math.max(worst, Math.abs(numeric - analytic[i]!));
    }
    expect(worst).toBeLessThan(2e-3);
  });
});

describe('a rollout as tensors', () => {
  beforeAll(useCpu);

  const item = (prompt: number[], ids: number[], finish: 'eos' | 'length'): RolloutItem => ({
    record: { prompt: '', completion: '' },
    promptIds: prompt,
    completion: { ids, logprobs: ids.map((id) => -id / 10), finish },
    text: '',
    reward: 0,
    components: {},
  });

  it('right-pads, shifts targets and masks exactly the completion predictions', async () => {
    const batch = policyBatch([item([5, 6], [7, 8], 'eos'), item([9], [1, 2, 3], 'length')], [0.5, -0.5], 0, false);
    expect(await batch.inputIds.array()).toEqual([[5, 6, 7, 8], [9, 1, 2, 3]]);
    expect(await batch.targets.array()).toEqual([[6, 7, 8, 0], [1, 2, 3, 0]]);
    expect(await batch.mask.array()).toEqual([[0, 1, 1, 0], [1, 1, 1, 0]]);
    const old = (await batch.oldLogp.array()) as number[][];
    expect(old[0]!.map((v) => +v.toFixed(6))).toEqual([0, -0.7, -0.8, 0]);
    expect(batch.tokens).toBe(5);
    const dropped = policyBatch([item([5, 6], [7, 8], 'eos'), item([9], [1, 2, 3], 'length')], [0.5, -0.5], 0, true);
    expect(await dropped.mask.array()).toEqual([[0, 1, 1, 0], [0, 0, 0, 0]]);
    batch.dispose();
    dropped.dispose();
  });
});
