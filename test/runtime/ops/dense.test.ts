/**
 * Position-wise kernels: embedding, rms_norm, linear, lm_head, concat, add, ffn.swiglu, loss.sum.
 * Gradients against finite differences, forward values against the loop references, no leaks.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { add } from '../../../runtime/ops/add.js';
import { concat } from '../../../runtime/ops/concat.js';
import { embedding } from '../../../runtime/ops/embedding.js';
import { linear } from '../../../runtime/ops/linear.js';
import { lmHead } from '../../../runtime/ops/lm-head.js';
import { lossSum } from '../../../runtime/ops/loss-sum.js';
import { rmsNorm } from '../../../runtime/ops/rms-norm.js';
import { swiglu } from '../../../runtime/ops/swiglu.js';
import { tf } from '../../../runtime/tf.js';
import { useCpu } from '../gradcheck.js';
import { expectClose, expectGradient, expectNoLeak, linearRef, nest, rmsnormRef, sample, siluRef, type Mat } from './reference.js';

beforeAll(async () => {
  await useCpu();
});

const B = 2;
const T = 4;
const D = 6;
const V = 7;
const IDS = [3, 0, 6, 2, 5, 5, 1, 4];
const ids = (): tf.Tensor => tf.tensor2d(IDS, [B, T], 'int32');

describe('embedding', () => {
  it('gathers rows and zeroes the last `shift` positions (shift 0, 1, 2, ≥ T)', async () => {
    const w = sample([V, D], 1);
    const table = nest(w.a, [V, D]) as Mat;
    for (const shift of [0, 1, 2, T, T + 3]) {
      const [y] = embedding({ inputs: [ids()], params: [w.t], state: [], attrs: { shift } });
      expect(y!.shape).toEqual([B, T, D]);
      const expected: number[] = [];
      for (let b = 0; b < B; b++) {
        for (let t = 0; t < T; t++) expected.push(...(t + shift < T ? table[IDS[b * T + t + shift]!]! : new Array<number>(D).fill(0)));
      }
      expectClose(await y!.data(), expected);
    }
  });

  it('gradient w.r.t. the table (shift 0 and 2): relative error < 1e-3', async () => {
    const w = sample([V, D], 2);
    for (const shift of [0, 2]) {
      await expectGradient(`embedding shift ${shift}`, ([t]) => embedding({ inputs: [ids()], params: [t!], state: [], attrs: { shift } }), [w.t], 1e-3);
    }
  });

  it('rejects a negative or fractional shift and non-int32 ids', () => {
    const w = sample([V, D], 3).t;
    expect(() => embedding({ inputs: [ids()], params: [w], state: [], attrs: { shift: -1 } })).toThrow(/shift/);
    expect(() => embedding({ inputs: [ids()], params: [w], state: [], attrs: { shift: 0.5 } })).toThrow(/shift/);
    expect(() => embedding({ inputs: [tf.cast(ids(), 'float32')], params: [w], state: [], attrs: { shift: 0 } })).toThrow(/int32/);
  });
});

describe('rms_norm', () => {
  it('matches w · x / sqrt(mean(x²) + eps)', async () => {
    const x = sample([B, T, D], 4);
    const w = sample([D], 5);
    const eps = 1e-2; // large enough that a wrong placement of eps would show
    const [y] = rmsNorm({ inputs: [x.t], params: [w.t], state: [], attrs: { eps } });
    const rows = nest(x.a, [B * T, D]) as Mat;
    expectClose(await y!.data(), rows.flatMap((r) => rmsnormRef(r, Array.from(w.a), eps)));
  });

  it('gradient w.r.t. x and w: relative error < 1e-3', async () => {
    const args = (xs: tf.Tensor[]): tf.Tensor[] => rmsNorm({ inputs: [xs[0]!], params: [xs[1]!], state: [], attrs: { eps: 1e-6 } });
    await expectGradient('rms_norm', args, [sample([B, T, D], 6).t, sample([D], 7).t], 1e-3);
  });

  it('rejects eps ≤ 0', () => {
    expect(() => rmsNorm({ inputs: [sample([2, 3], 8).t], params: [sample([3], 9).t], state: [], attrs: { eps: 0 } })).toThrow(/eps/);
  });
});

describe('linear and lm_head', () => {
  for (const [name, kernel] of [['linear', linear], ['lm_head', lmHead]] as const) {
    it(`${name}: y = x · Wᵀ with W [out, in]`, async () => {
      const x = sample([B, T, D], 10);
      const w = sample([V, D], 11);
      const [y] = kernel({ inputs: [x.t], params: [w.t], state: [], attrs: {} });
      expect(y!.shape).toEqual([B, T, V]);
      expectClose(await y!.data(), linearRef(nest(x.a, [B * T, D]) as Mat, nest(w.a, [V, D]) as Mat).flat());
    });

    it(`${name}: gradient w.r.t. x and W: relative error < 1e-3`, async () => {
      await expectGradient(name, ([x, w]) => kernel({ inputs: [x!], params: [w!], state: [], attrs: {} }), [sample([B, T, D], 12).t, sample([V, D], 13).t], 1e-3);
    });
  }

  it('rejects a weight whose input width does not match', () => {
    expect(() => linear({ inputs: [sample([B, T, D], 14).t], params: [sample([V, D + 1], 15).t], state: [], attrs: {} })).toThrow(/width/);
  });
});

describe('concat and add', () => {
  it('concat puts a first along the last axis; add sums', async () => {
    const a = sample([B, T, 2], 16);
    const b = sample([B, T, 3], 17);
    const [c] = concat({ inputs: [a.t, b.t], params: [], state: [], attrs: {} });
    const ra = nest(a.a, [B * T, 2]) as Mat;
    const rb = nest(b.a, [B * T, 3]) as Mat;
    expectClose(await c!.data(), ra.flatMap((r, i) => [...r, ...rb[i]!]));
    const [s] = add({ inputs: [a.t, a.t], params: [], state: [], attrs: {} });
    expectClose(await s!.data(), Array.from(a.a, (v) => 2 * v));
  });

  it('gradient of concat and add w.r.t. both inputs: relative error < 1e-3', async () => {
    await expectGradient('concat', ([a, b]) => concat({ inputs: [a!, b!], params: [], state: [], attrs: {} }), [sample([B, T, 2], 18).t, sample([B, T, 3], 19).t], 1e-3);
    await expectGradient('add', ([a, b]) => add({ inputs: [a!, b!], params: [], state: [], attrs: {} }), [sample([B, T, D], 20).t, sample([B, T, D], 21).t], 1e-3);
  });

  it('add refuses to broadcast', () => {
    expect(() => add({ inputs: [sample([B, T, D], 22).t, sample([D], 23).t], params: [], state: [], attrs: {} })).toThrow(/add of/);
  });
});

describe('ffn.swiglu', () => {
  const F = 5;
  it('matches (silu(x·Gᵀ) ⊙ (x·Uᵀ)) · Dᵀ', async () => {
    const x = sample([B, T, D], 24);
    const [g, u, d] = [sample([F, D], 25), sample([F, D], 26), sample([D, F], 27)];
    const [y] = swiglu({ inputs: [x.t], params: [g.t, u.t, d.t], state: [], attrs: {} });
    const rows = nest(x.a, [B * T, D]) as Mat;
    const gate = linearRef(rows, nest(g.a, [F, D]) as Mat);
    const up = linearRef(rows, nest(u.a, [F, D]) as Mat);
    const hidden = gate.map((r, i) => r.map((z, j) => siluRef(z) * up[i]![j]!));
    expectClose(await y!.data(), linearRef(hidden, nest(d.a, [D, F]) as Mat).flat());
  });

  it('gradient w.r.t. x, gate, up and down: relative error < 1e-3', async () => {
    const xs = [sample([B, T, D], 28).t, sample([F, D], 29, 0.5).t, sample([F, D], 30, 0.5).t, sample([D, F], 31, 0.5).t];
    await expectGradient('ffn.swiglu', ([x, ...p]) => swiglu({ inputs: [x!], params: p, state: [], attrs: {} }), xs, 1e-3);
  });
});

describe('loss.sum', () => {
  it('Σ weights[i] · inputs[i]', async () => {
    const [y] = lossSum({ inputs: [tf.scalar(2), tf.scalar(3), tf.scalar(-1)], params: [], state: [], attrs: { weights: [1, 0.5, 4] } });
    expect((await y!.data())[0]).toBeCloseTo(2 + 1.5 - 4, 6);
  });

  it('gradient w.r.t. every input: relative error < 1e-3', async () => {
    const xs = [sample([], 32).t, sample([], 33).t, sample([], 34).t];
    await expectGradient('loss.sum', (s) => lossSum({ inputs: s, params: [], state: [], attrs: { weights: [1, 0.15, 2] } }), xs, 1e-3);
  });

  it('needs one weight per input', () => {
    expect(() => lossSum({ inputs: [tf.scalar(1)], params: [], state: [], attrs: { weights: [1, 2] } })).toThrow(/one number/);
  });
});

describe('no tensors leak', () => {
  it('each position-wise kernel inside tf.tidy', () => {
    const x = sample([B, T, D], 35).t;
    const w = sample([V, D], 36).t;
    const n = sample([D], 37).t;
    const [g, u, d] = [sample([5, D], 38).t, sample([5, D], 39).t, sample([D, 5], 40).t];
    const i = ids();
    expectNoLeak(() => embedding({ inputs: [i], params: [w], state: [], attrs: { shift: 0 } }));
    expectNoLeak(() => embedding({ inputs: [i], params: [w], state: [], attrs: { shift: 2 } }));
    expectNoLeak(() => embedding({ inputs: [i], params: [w], state: [], attrs: { shift: T } }));
    expectNoLeak(() => rmsNorm({ inputs: [x], params: [n], state: [], attrs: { eps: 1e-6 } }));
    expectNoLeak(() => linear({ inputs: [x], params: [w], state: [], attrs: {} }));
    expectNoLeak(() => lmHead({ inputs: [x], params: [w], state: [], attrs: {} }));
    expectNoLeak(() => concat({ inputs: [x, x], params: [], state: [], attrs: {} }));
    expectNoLeak(() => add({ inputs: [x, x], params: [], state: [], attrs: {} }));
    expectNoLeak(() => swiglu({ inputs: [x], params: [g, u, d], state: [], attrs: {} }));
    expectNoLeak(() => lossSum({ inputs: [tf.scalar(1), tf.scalar(2)], params: [], state: [], attrs: { weights: [1, 1] } }));
  });
});
