import { beforeAll, describe, expect, it } from 'vitest';
import { tf } from '../../../runtime/tf.js';
import { updateRouterBias } from '../../../runtime/ops/bias-update.js';
import { lossBalance } from '../../../runtime/ops/loss-balance.js';
import { lossZ } from '../../../runtime/ops/loss-z.js';
import { mulberry32, normalArray } from '../../../runtime/random.js';
import { gradCheck, useCpu } from '../gradcheck.js';
import { balanceRef, rows, zLossRef, type Matrix } from './moe-reference.js';

beforeAll(async () => {
  await useCpu();
});

type Kind = 'sequence' | 'batch';
type Score = 'sigmoid' | 'softmax';

/** Scores as the router makes them (σ or softmax of random logits) and K distinct random experts per position. */
function routing(B: number, T: number, E: number, K: number, score: Score, seed: number): { scores: Float32Array; indices: Int32Array } {
  const z = normalArray(B * T * E, 1.5, seed);
  const scores = new Float32Array(B * T * E);
  for (let p = 0; p < B * T; p++) {
    const row = Array.from(z.subarray(p * E, (p + 1) * E));
    const s = score === 'sigmoid' ? row.map((v) => 1 / (1 + Math.exp(-v))) : row.map(Math.exp);
    const total = score === 'sigmoid' ? 1 : s.reduce((a, b) => a + b, 0);
    s.forEach((v, e) => (scores[p * E + e] = v / total));
  }
  const rand = mulberry32(seed + 1);
  const indices = new Int32Array(B * T * K);
  for (let p = 0; p < B * T; p++) {
    const order = Array.from({ length: E }, (_, e) => e).sort(() => rand() - 0.5);
    indices.set(order.slice(0, K), p * K);
  }
  return { scores, indices };
}

function balance(scores: tf.Tensor, indices: tf.Tensor, kind: Kind, alpha: number, E: number, K: number, score: Score): tf.Tensor {
  return lossBalance({ inputs: [scores, indices], params: [], state: [], attrs: { kind, alpha, experts: E, top_k: K, score } })[0]!;
}

function nest3(flat: ArrayLike<number>, B: number, T: number, last: number): Matrix[] {
  const r = rows(flat, last);
  return Array.from({ length: B }, (_, b) => r.slice(b * T, (b + 1) * T));
}

describe('loss.balance against a plain-JS reference', () => {
  for (const kind of ['sequence', 'batch'] as const) {
    for (const score of ['sigmoid', 'softmax'] as const) {
      it(`${kind}, ${score} scores (1e-5)`, async () => {
        const [B, T, E, K, alpha] = [3, 7, 6, 2, 0.01];
        for (const seed of [1, 2]) {
          const r = routing(B, T, E, K, score, seed);
          const s = tf.tensor3d(r.scores, [B, T, E]);
          const i = tf.tensor3d(r.indices, [B, T, K], 'int32');
          const L = balance(s, i, kind, alpha, E, K, score);
          expect(L.shape).toEqual([]);
          const ref = balanceRef(nest3(r.scores, B, T, E), nest3(r.indices, B, T, K) as number[][][], { kind, alpha, experts: E, topK: K, score });
          expect(Math.abs((await L.data())[0]! - ref)).toBeLessThan(1e-5 * Math.max(1, Math.abs(ref)));
          [s, i, L].forEach((t) => t.dispose());
        }
      });
    }
  }

  it('perfectly balanced routing gives L = α (ℓ = 1) for both kinds and both score types', async () => {
    // B = 2, T = 4, E = 4, K = 2: each row selects every expert T·K/E = 2 times, so f_e = 1 and ℓ = Σ_e P_e = 1
    const [B, T, E, K, alpha] = [2, 4, 4, 2, 0.003];
    const idx = Int32Array.from([0, 1, 2, 3, 1, 2, 3, 0, /* row 1 */ 3, 2, 1, 0, 0, 2, 1, 3]);
    for (const score of ['sigmoid', 'softmax'] as const) {
      const r = routing(B, T, E, K, score, 4);
      for (const kind of ['sequence', 'batch'] as const) {
        const s = tf.tensor3d(r.scores, [B, T, E]);
        const i = tf.tensor3d(idx, [B, T, K], 'int32');
        const L = balance(s, i, kind, alpha, E, K, score);
        expect((await L.data())[0]).toBeCloseTo(alpha, 8);
        [s, i, L].forEach((t) => t.dispose());
      }
    }
  });

  it('sequence-wise sees per-row imbalance that batch-wise averages away', async () => {
    // row 0 only uses experts {0, 1}, row 1 only {2, 3}: balanced over the batch, not per row
    const [B, T, E, K] = [2, 2, 4, 2];
    const scores = Float32Array.from(new Array(B * T * E).fill(0.25)); // softmax-like uniform scores
    const idx = Int32Array.from([0, 1, 1, 0, 2, 3, 3, 2]);
    const s = tf.tensor3d(scores, [B, T, E]);
    const i = tf.tensor3d(idx, [B, T, K], 'int32');
    const seq = balance(s, i, 'sequence', 1, E, K, 'softmax');
    const bat = balance(s, i, 'batch', 1, E, K, 'softmax');
    // per row: f = 2 for its two experts, P = 1/4 each → ℓ = 2·2·1/4 = 1; uniform P hides it …
    expect((await seq.data())[0]).toBeCloseTo(1, 6);
    expect((await bat.data())[0]).toBeCloseTo(1, 6);
    // … skewed scores towards the chosen experts expose it: sequence ℓ = 2·(P_a + P_b) = 2·0.9
    const skewed = Float32Array.from([0.45, 0.45, 0.05, 0.05, 0.45, 0.45, 0.05, 0.05, 0.05, 0.05, 0.45, 0.45, 0.05, 0.05, 0.45, 0.45]);
    const s2 = tf.tensor3d(skewed, [B, T, E]);
    expect((await balance(s2, i, 'sequence', 1, E, K, 'softmax').data())[0]).toBeCloseTo(1.8, 5);
    expect((await balance(s2, i, 'batch', 1, E, K, 'softmax').data())[0]).toBeCloseTo(1, 5);
    tf.dispose([s, i, seq, bat, s2]);
  });

  it('rejects bad attributes and shapes', () => {
    const s = tf.ones([1, 2, 4]);
    const i = tf.zeros([1, 2, 2], 'int32');
    const call = (a: Record<string, unknown>, ss = s): tf.Tensor[] =>
      lossBalance({ inputs: [ss, i], params: [], state: [], attrs: { kind: 'sequence', alpha: 0.1, experts: 4, top_k: 2, score: 'sigmoid', ...a } as never });
    expect(() => call({ kind: 'token' })).toThrow('kind');
    expect(() => call({ alpha: -1 })).toThrow('alpha');
    expect(() => call({ experts: 5 })).toThrow('scores');
    expect(() => call({ top_k: 3 })).toThrow('indices');
    tf.dispose([s, i]);
  });
});

describe('loss.z', () => {
  it('equals coef · mean lse² of a plain-JS reference (1e-5), also for large logits', async () => {
    for (const [std, seed] of [
      [1, 1],
      [30, 2],
    ] as const) {
      const z = normalArray(2 * 5 * 6, std, seed);
      const logits = tf.tensor3d(z, [2, 5, 6]);
      const L = lossZ({ inputs: [logits], params: [], state: [], attrs: { coef: 0.001 } })[0]!;
      const ref = zLossRef(rows(z, 6), 0.001);
      expect(Math.abs((await L.data())[0]! - ref)).toBeLessThan(1e-5 * Math.max(1, ref));
      tf.dispose([logits, L]);
    }
  });

  it('rejects coef ≤ 0', () => {
    const l = tf.zeros([1, 2, 3]);
    expect(() => lossZ({ inputs: [l], params: [], state: [], attrs: { coef: 0 } })).toThrow('coef');
    l.dispose();
  });
});

describe('balance and z loss gradients (finite differences)', () => {
  for (const kind of ['sequence', 'batch'] as const) {
    for (const score of ['sigmoid', 'softmax'] as const) {
      it(`loss.balance ${kind}, ${score}: w.r.t. scores, rel. error < 1e-3`, async () => {
        const [B, T, E, K] = [2, 4, 5, 2];
        const r = routing(B, T, E, K, score, 3);
        const s = tf.tensor3d(r.scores, [B, T, E]);
        const i = tf.tensor3d(r.indices, [B, T, K], 'int32');
        const result = await gradCheck(([ss]) => [balance(ss!, i, kind, 0.5, E, K, score)], [s], { coordinates: 10 });
        expect(result.checked).toBe(10);
        expect(result.maxRelativeError).toBeLessThan(1e-3);
        tf.dispose([s, i]);
      });
    }
  }

  it('loss.z: w.r.t. logits, rel. error < 1e-3', async () => {
    const logits = tf.tensor3d(normalArray(2 * 3 * 6, 2, 8), [2, 3, 6]);
    const result = await gradCheck(([l]) => [lossZ({ inputs: [l!], params: [], state: [], attrs: { coef: 0.1 } })[0]!], [logits], { coordinates: 10 });
    expect(result.maxRelativeError).toBeLessThan(1e-3);
    logits.dispose();
  });
});

describe('router bias update (§5)', () => {
  it('moves overloaded experts down and underloaded up by rate; sign(0) = 0', async () => {
    const bias = tf.tensor1d([0.1, 0, -0.2, 0.05]);
    const load = tf.tensor1d([6, 2, 4, 4]); // mean 4
    const next = updateRouterBias(bias, load, 0.001);
    const got = Array.from(await next.data());
    const want = [0.1 - 0.001, 0.001, -0.2, 0.05];
    got.forEach((v, e) => expect(v).toBeCloseTo(want[e]!, 7));
    // a non-integer mean: loads [1, 1, 2] have mean 4/3
    const b3 = tf.zeros([3]);
    const n3 = updateRouterBias(b3, tf.tensor1d([1, 1, 2]), 0.5);
    expect(Array.from(await n3.data())).toEqual([0.5, 0.5, -0.5]);
    tf.dispose([bias, load, next, b3, n3]);
  });

  it('validates shapes and leaks nothing', () => {
    const bias = tf.zeros([4]);
    const load = tf.ones([4]);
    const short = tf.ones([3]);
    expect(() => updateRouterBias(bias, short, 0.1)).toThrow('[experts]');
    expect(() => updateRouterBias(bias, load, NaN)).toThrow('bias_rate');
    const before = tf.memory().numTensors;
    const next = updateRouterBias(bias, load, 0.1);
    expect(tf.memory().numTensors).toBe(before + 1);
    next.dispose();
    tf.dispose([bias, load, short]);
  });
});

describe('loss memory', () => {
  it('loss.balance and loss.z leak no tensors', () => {
    const r = routing(2, 3, 4, 2, 'sigmoid', 1);
    const s = tf.tensor3d(r.scores, [2, 3, 4]);
    const i = tf.tensor3d(r.indices, [2, 3, 2], 'int32');
    const before = tf.memory().numTensors;
    tf.tidy(() => {
      balance(s, i, 'sequence', 0.1, 4, 2, 'sigmoid');
      balance(s, i, 'batch', 0.1, 4, 2, 'softmax');
      lossZ({ inputs: [s], params: [], state: [], attrs: { coef: 0.1 } });
    });
    expect(tf.memory().numTensors).toBe(before);
    const L = balance(s, i, 'sequence', 0.1, 4, 2, 'sigmoid');
    const Z = lossZ({ inputs: [s], params: [], state: [], attrs: { coef: 0.1 } })[0]!;
    expect(tf.memory().numTensors).toBe(before + 2);
    tf.dispose([L, Z, s, i]);
  });
});
