import { beforeAll, describe, expect, it } from 'vitest';
import { tf } from '../../../runtime/tf.js';
import type { KernelArgs } from '../../../runtime/ops/kernel.js';
import { moeRouter } from '../../../runtime/ops/moe-router.js';
import { mulberry32, normalArray } from '../../../runtime/random.js';
import { gradCheck, useCpu } from '../gradcheck.js';
import { maxRelDiff, routerRef, routingMargins, rows, type RouterRefOptions } from './moe-reference.js';

beforeAll(async () => {
  await useCpu();
});

interface Case extends RouterRefOptions {
  readonly B: number;
  readonly T: number;
  readonly D: number;
}

function attrs(o: RouterRefOptions): KernelArgs['attrs'] {
  return {
    experts: o.experts,
    top_k: o.topK,
    score: o.score,
    groups: o.groups,
    top_groups: o.topGroups,
    normalize: o.normalize,
    scale: o.scale,
    bias_rate: o.bias ? 0.001 : null,
    group_score: o.groupScore,
  };
}

function run(x: tf.Tensor, W: tf.Tensor, o: RouterRefOptions): tf.Tensor[] {
  const state = o.bias ? [tf.tensor1d([...o.bias])] : [];
  const out = moeRouter({ inputs: [x], params: [W], state, attrs: attrs(o) });
  state.forEach((s) => s.dispose());
  return out;
}

/** Runs the kernel and the reference on the same f32 inputs and compares every output. */
async function compare(x: Float32Array, W: Float32Array, c: Case): Promise<{ indices: number[][]; weights: number[][]; scores: number[][] }> {
  const xt = tf.tensor3d(x, [c.B, c.T, c.D]);
  const Wt = tf.tensor2d(W, [c.experts, c.D]);
  const [weights, indices, scores, logits, load] = run(xt, Wt, c) as [tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor];
  expect(weights.shape).toEqual([c.B, c.T, c.topK]);
  expect(indices.shape).toEqual([c.B, c.T, c.topK]);
  expect(indices.dtype).toBe('int32');
  expect(scores.shape).toEqual([c.B, c.T, c.experts]);
  expect(logits.shape).toEqual([c.B, c.T, c.experts]);
  expect(load.shape).toEqual([c.experts]);
  const ref = routerRef(rows(x, c.D), rows(W, c.D), c);
  const got = {
    weights: rows(await weights.data(), c.topK),
    indices: rows(await indices.data(), c.topK),
    scores: rows(await scores.data(), c.experts),
    logits: rows(await logits.data(), c.experts),
    load: Array.from(await load.data()),
  };
  expect(got.indices).toEqual(ref.indices);
  expect(got.load).toEqual(ref.load);
  expect(maxRelDiff(got.logits, ref.logits)).toBeLessThan(1e-5);
  expect(maxRelDiff(got.scores, ref.scores)).toBeLessThan(1e-5);
  expect(maxRelDiff(got.weights, ref.weights)).toBeLessThan(1e-5);
  [xt, Wt, weights, indices, scores, logits, load].forEach((t) => t.dispose());
  return got;
}

const base = { B: 2, T: 5, D: 6, experts: 8, topK: 2, groups: 1, topGroups: 1, normalize: true, scale: 1, groupScore: 'max' } as const;

function random(c: Case, seed: number): { x: Float32Array; W: Float32Array } {
  return { x: normalArray(c.B * c.T * c.D, 1, seed), W: normalArray(c.experts * c.D, 0.7, seed + 1) };
}

describe('moe.router forward against a plain-JS reference (1e-5)', () => {
  const cases: [string, Case][] = [
    ['sigmoid, normalised', { ...base, score: 'sigmoid' }],
    ['softmax, not normalised, scale 2.5, K = 3', { ...base, score: 'softmax', normalize: false, scale: 2.5, topK: 3 }],
    ['softmax, normalised (Mixtral)', { ...base, score: 'softmax' }],
    [
      'sigmoid + bias + groups 4 → 2 by top2_sum, scale 2.5 (DeepSeek-V3)',
      { ...base, score: 'sigmoid', groups: 4, topGroups: 2, groupScore: 'top2_sum', scale: 2.5, topK: 3, bias: Array.from(normalArray(8, 0.1, 99)) },
    ],
    ['softmax + groups 4 → 2 by max, not normalised (DeepSeek-V2)', { ...base, score: 'softmax', groups: 4, topGroups: 2, normalize: false }],
    ['one expert per group: top2_sum uses min(2, n) = 1', { ...base, experts: 4, score: 'sigmoid', groups: 4, topGroups: 2, groupScore: 'top2_sum' }],
    ['K = E, every expert', { ...base, experts: 4, topK: 4, score: 'sigmoid' }],
  ];
  for (const [name, c] of cases) {
    it(name, async () => {
      for (const seed of [1, 2, 3]) {
        const { x, W } = random(c, seed * 10);
        await compare(x, W, c);
      }
    });
  }

  it('a bias that flips the selection changes indices, not the weights’ source', async () => {
    // W = I, so the logits are x itself: token scores σ(z) with expert 5 the weakest
    const c: Case = { ...base, B: 1, T: 1, D: 8, score: 'sigmoid', normalize: false };
    const z = [2, 1.5, 0.5, 0, -0.5, -3, -1, -2];
    const W = new Float32Array(64).map((_, i) => (i % 9 === 0 ? 1 : 0));
    const plain = await compare(Float32Array.from(z), W, c);
    expect(plain.indices).toEqual([[0, 1]]);
    const bias = [0, 0, 0, 0, 0, 1.5, 0, 0]; // u[5] = σ(−3) + 1.5 ≈ 1.547 > u[0] ≈ 0.881
    const biased = await compare(Float32Array.from(z), W, { ...c, bias });
    expect(biased.indices).toEqual([[5, 0]]);
    const s5 = 1 / (1 + Math.exp(3));
    const s0 = 1 / (1 + Math.exp(-2));
    // the weights are the unbiased scores of the chosen experts, not s + b
    expect(biased.weights[0]![0]).toBeCloseTo(s5, 6);
    expect(biased.weights[0]![1]).toBeCloseTo(s0, 6);
    expect(biased.scores).toEqual(plain.scores);
  });

  it('top2_sum and max pick different groups when one group has the single best expert', async () => {
    // groups of 2: group 0 = {σ(3), σ(−3)} (max 0.953, sum 1.0); group 1 = {σ(1.5), σ(1.5)} (max 0.818, sum 1.636)
    const c: Case = { ...base, B: 1, T: 1, D: 8, score: 'sigmoid', groups: 4, topGroups: 1, normalize: false };
    const z = Float32Array.from([3, -3, 1.5, 1.5, -2, -2, -2.5, -2.5]);
    const W = new Float32Array(64).map((_, i) => (i % 9 === 0 ? 1 : 0));
    const byMax = await compare(z, W, { ...c, groupScore: 'max' });
    const bySum = await compare(z, W, { ...c, groupScore: 'top2_sum' });
    expect(byMax.indices).toEqual([[0, 1]]);
    expect(bySum.indices).toEqual([[2, 3]]);
    // with no group limit the best two are experts 0 and 2
    expect((await compare(z, W, { ...c, topGroups: 4 })).indices).toEqual([[0, 2]]);
  });

  it('ties go to the smaller expert index, and load counts every selection', async () => {
    const c: Case = { ...base, B: 1, T: 3, D: 8, experts: 8, score: 'softmax', topK: 3 };
    const x = new Float32Array(24); // all logits 0: every score ties
    const W = normalArray(64, 1, 5);
    const got = await compare(x, W, c);
    expect(got.indices).toEqual([
      [0, 1, 2],
      [0, 1, 2],
      [0, 1, 2],
    ]);
  });

  it('accepts any leading shape ([N, D] here)', () => {
    const x = tf.tensor2d(normalArray(12, 1, 3), [4, 3]);
    const W = tf.tensor2d(normalArray(15, 1, 4), [5, 3]);
    const out = run(x, W, { ...base, experts: 5, score: 'sigmoid' });
    expect(out.map((t) => t.shape)).toEqual([[4, 2], [4, 2], [4, 5], [4, 5], [5]]);
    [x, W, ...out].forEach((t) => t.dispose());
  });

  it('rejects attributes outside their domain', () => {
    const x = tf.zeros([1, 2, 4]);
    const W = tf.zeros([8, 4]);
    const good = attrs({ ...base, score: 'sigmoid' });
    const bad: [string, KernelArgs['attrs']][] = [
      ['group_score', { ...good, group_score: undefined as unknown as string }],
      ['groups', { ...good, groups: 3 }],
      ['top_k', { ...good, groups: 4, top_groups: 1, top_k: 3 }],
      ['score', { ...good, score: 'relu' }],
      ['scale', { ...good, scale: 0 }],
    ];
    for (const [what, a] of bad) expect(() => moeRouter({ inputs: [x], params: [W], state: [], attrs: a }), what).toThrow(what);
    expect(() => moeRouter({ inputs: [x], params: [tf.zeros([8, 5])], state: [], attrs: good })).toThrow('gate.weight');
    x.dispose();
    W.dispose();
  });
});

/**
 * Router inputs whose routing is stable under the gradient check's ±1e-2 perturbation of any one
 * coordinate: W = I + small noise and x = a permutation of well-spread logits + small noise per
 * token. A perturbation moves each logit by at most δ = step · max(|x|, |W|), each score by at most
 * δ/2 (sigmoid: δ/4; softmax: the Jacobian's row sums are 2·s(1−s) ≤ 1/2), so a gap in the
 * selection scores changes by at most δ and a gap in top-2 group sums by at most 2δ. The seed is
 * searched (deterministically) until the reference's margins exceed twice that.
 */
function stableInputs(c: Case, step: number): { x: tf.Tensor; W: tf.Tensor; seed: number } {
  const spread = [-2.2, -1.5, -0.9, -0.4, 0.1, 0.6, 1.2, 1.9];
  for (let seed = 1; seed < 200; seed++) {
    const rand = mulberry32(seed);
    const noise = normalArray(c.B * c.T * c.D + c.experts * c.D, 0.05, seed);
    const x = new Float32Array(c.B * c.T * c.D);
    for (let p = 0; p < c.B * c.T; p++) {
      const perm = [...spread].sort(() => rand() - 0.5);
      for (let d = 0; d < c.D; d++) x[p * c.D + d] = perm[d]! + noise[p * c.D + d]!;
    }
    const W = new Float32Array(c.experts * c.D).map((_, i) => (Math.floor(i / c.D) === i % c.D ? 1 : 0) + noise[c.B * c.T * c.D + i]!);
    const ref = routerRef(rows(x, c.D), rows(W, c.D), c);
    const delta = step * Math.max(...Array.from(x, Math.abs), ...Array.from(W, Math.abs));
    const m = routingMargins(ref, c.topK, c.topGroups);
    if (m.selection > 2 * delta && m.group > 4 * delta) return { x: tf.tensor3d(x, [c.B, c.T, c.D]), W: tf.tensor2d(W, [c.experts, c.D]), seed };
  }
  throw new Error('no seed with a stable routing');
}

describe('moe.router gradients (finite differences, routing stable under ±1e-2)', () => {
  const configs: [string, Case][] = [
    [
      'sigmoid + bias + group-limited top2_sum, normalise, scale 2.5',
      { ...base, D: 8, T: 3, score: 'sigmoid', groups: 4, topGroups: 2, groupScore: 'top2_sum', scale: 2.5, topK: 3, bias: [0.02, -0.03, 0.01, 0, 0.04, -0.01, 0, 0.03] },
    ],
    ['softmax, not normalised, group-limited max', { ...base, D: 8, T: 3, score: 'softmax', groups: 2, topGroups: 1, normalize: false, scale: 1.5 }],
    ['softmax, normalised', { ...base, D: 8, T: 3, score: 'softmax' }],
  ];
  for (const [name, c] of configs) {
    it(`${name}: w.r.t. x and W, rel. error < 1e-3`, async () => {
      const { x, W } = stableInputs(c, 1e-2);
      const weightsOnly = await gradCheck(([xx, ww]) => [run(xx!, ww!, c)[0]!], [x, W], { coordinates: 8 });
      const all = await gradCheck(
        ([xx, ww]) => {
          const [weights, , scores, logits] = run(xx!, ww!, c);
          return [weights!, scores!, logits!];
        },
        [x, W],
        { coordinates: 8, seed: 3 },
      );
      expect(weightsOnly.checked).toBe(16);
      expect(weightsOnly.maxRelativeError).toBeLessThan(1e-3);
      expect(all.maxRelativeError).toBeLessThan(1e-3);
      x.dispose();
      W.dispose();
    });
  }

  it('no gradient reaches the bias, and none flows through indices or load', () => {
    const c: Case = { ...base, score: 'sigmoid', bias: [0.1, 0, 0, 0, 0, 0, 0, 0] };
    const x = tf.tensor3d(normalArray(60, 1, 1), [2, 5, 6]);
    const W = tf.tensor2d(normalArray(48, 1, 2), [8, 6]);
    const b = tf.tensor1d([...c.bias!]);
    const before = tf.memory().numTensors;
    const loss = (withInts: boolean) => (xx: tf.Tensor, ww: tf.Tensor, bb: tf.Tensor): tf.Scalar => {
      const [weights, indices, , , load] = moeRouter({ inputs: [xx], params: [ww], state: [bb], attrs: attrs(c) });
      const w = tf.sum(weights!);
      return (withInts ? tf.add(w, tf.add(tf.sum(tf.cast(indices!, 'float32')), tf.sum(load!))) : w) as tf.Scalar;
    };
    // the bias is not on any path to the outputs: tfjs refuses to differentiate w.r.t. it
    expect(() => tf.grads(loss(false))([x, W, b])).toThrow('Cannot compute gradient');
    const withInts = tf.grads((xx: tf.Tensor, ww: tf.Tensor) => loss(true)(xx, ww, b))([x, W]);
    const plain = tf.grads((xx: tf.Tensor, ww: tf.Tensor) => loss(false)(xx, ww, b))([x, W]);
    for (let i = 0; i < 2; i++) expect(Array.from(withInts[i]!.dataSync())).toEqual(Array.from(plain[i]!.dataSync()));
    [...withInts, ...plain].forEach((g) => g.dispose());
    expect(tf.memory().numTensors).toBe(before);
    [x, W, b].forEach((t) => t.dispose());
  });
});

describe('moe.router memory', () => {
  it('leaks no tensors (inside tidy, and returns exactly its five outputs outside)', () => {
    const c: Case = { ...base, score: 'sigmoid', groups: 4, topGroups: 2, groupScore: 'top2_sum', bias: Array.from(normalArray(8, 0.1, 9)) };
    const x = tf.tensor3d(normalArray(60, 1, 1), [2, 5, 6]);
    const W = tf.tensor2d(normalArray(48, 1, 2), [8, 6]);
    const b = tf.tensor1d([...c.bias!]);
    const before = tf.memory().numTensors;
    tf.tidy(() => moeRouter({ inputs: [x], params: [W], state: [b], attrs: attrs(c) }).forEach(() => undefined));
    expect(tf.memory().numTensors).toBe(before);
    const out = moeRouter({ inputs: [x], params: [W], state: [b], attrs: attrs(c) });
    expect(tf.memory().numTensors).toBe(before + 5);
    out.forEach((t) => t.dispose());
    expect(tf.memory().numTensors).toBe(before);
    [x, W, b].forEach((t) => t.dispose());
  });
});
