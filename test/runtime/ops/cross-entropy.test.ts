/** loss.cross_entropy: the shift, the mask weighting and the denominator of specs/ir.md §4.14. */
import { beforeAll, describe, expect, it } from 'vitest';
import { crossEntropy } from '../../../runtime/ops/cross-entropy.js';
import { tf } from '../../../runtime/tf.js';
import { useCpu } from '../gradcheck.js';
import { expectGradient, expectNoLeak, nest, sample } from './reference.js';

beforeAll(async () => {
  await useCpu();
});

const B = 2;
const T = 5;
const V = 6;
const IDS = [1, 4, 0, 5, 2, 3, 3, 1, 0, 4];
// non-binary weights and zeros: the denominator is Σ w over counted positions, not their number
const MASK = [0, 1, 0.5, 0, 2, 7, 1, 0, 1, 1];

/** §4.14 with loops: ℓ = lse − logit[target], weights mask[t + shift], L = Σ wℓ / Σ w (0 if Σ w = 0). */
function reference(logits: number[][][], ids: number[], mask: number[], shift: number): number {
  let num = 0;
  let den = 0;
  for (let b = 0; b < B; b++) {
    for (let t = 0; t + shift < T; t++) {
      const row = logits[b]![t]!;
      const m = Math.max(...row);
      const lse = m + Math.log(row.reduce((s, z) => s + Math.exp(z - m), 0));
      const w = mask[b * T + t + shift]!;
      num += w * (lse - row[ids[b * T + t + shift]!]!);
      den += w;
    }
  }
  return den === 0 ? 0 : num / den;
}

function run(logits: tf.Tensor, mask: number[] | tf.Tensor, shift: number): tf.Tensor {
  const m = mask instanceof tf.Tensor ? mask : tf.tensor2d(mask, [B, T]);
  return crossEntropy({ inputs: [logits, tf.tensor2d(IDS, [B, T], 'int32'), m], params: [], state: [], attrs: { shift } })[0]!;
}

describe('loss.cross_entropy', () => {
  it('matches the reference for shift 1, 2 and 3 with a weighted mask', async () => {
    const logits = sample([B, T, V], 1, 3);
    const nested = nest(logits.a, [B, T, V]) as number[][][];
    for (const shift of [1, 2, 3]) {
      const expected = reference(nested, IDS, MASK, shift);
      expect(Math.abs((await run(logits.t, MASK, shift).data())[0]! - expected)).toBeLessThan(1e-5);
    }
  });

  it('ignores mask entries that are not targets (t < shift) and masked positions’ logits', async () => {
    const logits = sample([B, T, V], 2);
    const base = (await run(logits.t, MASK, 2).data())[0]!;
    // mask[·, 0..1] weight no target when shift = 2
    const changedMask = MASK.map((w, i) => (i % T < 2 ? 5 : w));
    expect((await run(logits.t, changedMask, 2).data())[0]).toBe(base);
    // position t = 1 of row 0 predicts ids[0, 3], whose mask is 0: its logits do not count
    const values = Float32Array.from(logits.a);
    for (let v = 0; v < V; v++) values[1 * V + v] = 100 * (v + 1);
    expect((await run(tf.tensor3d(values, [B, T, V]), MASK, 2).data())[0]).toBe(base);
    // the last `shift` positions predict nothing
    for (let v = 0; v < V; v++) values[(T - 1) * V + v] = -50 * v;
    expect((await run(tf.tensor3d(values, [B, T, V]), MASK, 2).data())[0]).toBe(base);
  });

  it('is 0 when no counted weight is positive or when shift ≥ T, with a finite gradient', async () => {
    const logits = sample([B, T, V], 3);
    const zeros = MASK.map((w, i) => (i % T === 0 ? w : 0));
    expect((await run(logits.t, zeros, 1).data())[0]).toBe(0);
    expect((await run(logits.t, MASK, T).data())[0]).toBe(0);
    const grad = tf.grad((x: tf.Tensor) => run(x, zeros, 1))(logits.t);
    expect(Array.from(await grad.data()).every((g) => g === 0)).toBe(true);
  });

  it('is stable for large logits', async () => {
    const logits = tf.mul(sample([B, T, V], 4).t, 1e4);
    const nested = nest(await logits.data(), [B, T, V]) as number[][][];
    const value = (await run(logits, MASK, 1).data())[0]!;
    expect(Number.isFinite(value)).toBe(true);
    expect(Math.abs(value - reference(nested, IDS, MASK, 1)) / Math.abs(reference(nested, IDS, MASK, 1))).toBeLessThan(1e-5);
  });

  it('gradient w.r.t. logits and the mask (shift 1 and 2): relative error < 1e-3', async () => {
    const logits = sample([B, T, V], 5, 2).t;
    const mask = tf.tensor2d(MASK.map((w) => w + 0.25), [B, T]);
    for (const shift of [1, 2]) await expectGradient(`cross_entropy shift ${shift}`, ([l, m]) => [run(l!, m!, shift)], [logits, mask], 1e-3);
  });

  it('rejects shift < 1', () => {
    expect(() => run(sample([B, T, V], 6).t, MASK, 0)).toThrow(/shift/);
  });

  it('leaks no tensors inside tf.tidy', () => {
    const logits = sample([B, T, V], 7).t;
    expectNoLeak(() => [run(logits, MASK, 1)]);
    expectNoLeak(() => [run(logits, MASK, T)]);
  });
});
