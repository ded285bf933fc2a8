/**
 * Attention: the causal core (§3.3), attention.gqa (§4.7: grouping, MHA/MQA) and attention.mla
 * (§4.6, q_rank 0 and > 0) against loop references; causality; gradients; no leaks.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import type { AttrValue } from '../../../ir/types.js';
import { causalAttention, permute } from '../../../runtime/ops/attention-core.js';
import { attentionGqa } from '../../../runtime/ops/attention-gqa.js';
import { attentionMla } from '../../../runtime/ops/attention-mla.js';
import type { Kernel } from '../../../runtime/ops/kernel.js';
import { tf } from '../../../runtime/tf.js';
import { useCpu } from '../gradcheck.js';
import {
  causalAttentionRef,
  expectClose,
  expectGradient,
  expectNoLeak,
  gqaRef,
  mlaRef,
  nest,
  sample,
  type Mat,
  type RopeRef,
} from './reference.js';

beforeAll(async () => {
  await useCpu();
});

const B = 2;
const T = 4;
const D = 8;
const NO_SCALING: RopeRef = { theta: 10000, scaling: { kind: 'none' } };
// af = m(4, 1)/m(4, 0.5) ≠ 1, so a missing or doubled attention factor would show
const YARN: RopeRef = {
  theta: 10000,
  scaling: { kind: 'yarn', factor: 4, original_context: 64, beta_fast: 4, beta_slow: 1, mscale: 1, mscale_all_dim: 0.5 },
};
const ropeAttr = (r: RopeRef, interleaved: boolean): AttrValue => ({ theta: r.theta, interleaved, scaling: r.scaling });

/** Runs a kernel on row-independent inputs and returns, per row, the nested [T][D] input. */
const rows = (flat: Float32Array, t = T, d = D): Mat[] => nest(flat, [B, t, d]) as Mat[];
const mat = (s: { a: Float32Array; t: tf.Tensor }): Mat => nest(s.a, s.t.shape) as Mat;

/** Output at positions ≤ t is unchanged when the input at positions > t changes. */
async function expectCausal(run: (x: tf.Tensor) => tf.Tensor, time: number, dim: number): Promise<void> {
  const x = sample([B, time, dim], 100);
  const base = await run(x.t).data();
  for (let t = 0; t < time - 1; t++) {
    const changed = Float32Array.from(x.a);
    for (let b = 0; b < B; b++) for (let u = t + 1; u < time; u++) for (let j = 0; j < dim; j++) changed[(b * time + u) * dim + j] = 10 * Math.sin(7 * (b + u + j)) + 3;
    const out = await run(tf.tensor3d(changed, [B, time, dim])).data();
    for (let b = 0; b < B; b++) {
      const n = (t + 1) * dim;
      const begin = b * time * dim;
      expect(Array.from(out.slice(begin, begin + n))).toEqual(Array.from(base.slice(begin, begin + n)));
      // and the change does reach later positions (the test is not vacuous)
      expect(out[begin + n]).not.toBe(base[begin + n]);
    }
  }
}

describe('permute', () => {
  it('equals tf.transpose, and is a reshape (no kernel) when only size-1 axes move', async () => {
    const cases: [number[], number[], boolean][] = [
      [[1, 1, 4, 3], [0, 2, 1, 3], true], // a decoding step's head split: [B=1, T=1, H, d] → [1, H, 1, d]
      [[2, 1, 4, 3], [1, 0, 2, 3], true],
      [[2, 3, 4, 5], [0, 2, 1, 3], false],
      [[2, 1, 4, 3], [0, 2, 1, 3], true],
      [[2, 3, 1, 3], [0, 3, 1, 2], false],
    ];
    for (const [shape, perm, free] of cases) {
      const x = sample(shape, 7).t;
      const info = await tf.profile(() => permute(x, perm));
      expect(info.kernels.some((k) => k.name === 'Transpose'), `[${shape}] by [${perm}]`).toBe(!free);
      const got = permute(x, perm);
      const want = tf.transpose(x, perm);
      expect(got.shape).toEqual(want.shape);
      expect(Array.from(await got.data())).toEqual(Array.from(await want.data()));
      tf.dispose([x, got, want]);
    }
  });
});

describe('causal attention core', () => {
  it('matches the §3.3 reference, with G < H kv heads (query head h reads kv head floor(h / (H/G)))', async () => {
    const [H, G, dk, dv] = [4, 2, 3, 5];
    const q = sample([B, H, T, dk], 1);
    const k = sample([B, G, T, dk], 2);
    const v = sample([B, G, T, dv], 3);
    const scale = 0.7;
    const o = await causalAttention([[q.t, k.t]], v.t, scale).data();
    const qs = nest(q.a, [B, H, T, dk]) as Mat[][];
    const ks = nest(k.a, [B, G, T, dk]) as Mat[][];
    const vs = nest(v.a, [B, G, T, dv]) as Mat[][];
    const expected: number[] = [];
    for (let b = 0; b < B; b++) {
      for (let h = 0; h < H; h++) expected.push(...causalAttentionRef(qs[b]![h]!, ks[b]![Math.floor(h / 2)]!, vs[b]![Math.floor(h / 2)]!, scale).flat());
    }
    expectClose(o, expected);
  });

  it('gradient w.r.t. q, k and v: relative error < 1e-3', async () => {
    const xs = [sample([B, 4, T, 3], 4).t, sample([B, 2, T, 3], 5).t, sample([B, 2, T, 2], 6).t];
    await expectGradient('attention core', ([q, k, v]) => [causalAttention([[q!, k!]], v!, 0.6)], xs, 1e-3);
  });
});

describe('attention.gqa', () => {
  const d = 4;
  const gqa = (x: tf.Tensor, p: tf.Tensor[], heads: number, kvHeads: number, rope: RopeRef = NO_SCALING): tf.Tensor =>
    attentionGqa({ inputs: [x], params: p, state: [], attrs: { heads, kv_heads: kvHeads, head_dim: d, softmax_scale: 1 / Math.sqrt(d), rope: ropeAttr(rope, false) } })[0]!;
  const weights = (heads: number, kvHeads: number, seed: number): { t: tf.Tensor; a: Float32Array }[] => [
    sample([heads * d, D], seed, 0.4),
    sample([kvHeads * d, D], seed + 1, 0.4),
    sample([kvHeads * d, D], seed + 2, 0.4),
    sample([D, heads * d], seed + 3, 0.4),
  ];

  for (const [heads, kvHeads, rope] of [[4, 2, NO_SCALING], [2, 2, YARN], [4, 1, NO_SCALING]] as const) {
    it(`H ${heads}, G ${kvHeads} (${rope.scaling.kind} rope) matches the §4.7 reference`, async () => {
      const x = sample([B, T, D], 10);
      const w = weights(heads, kvHeads, 11);
      const y = await gqa(x.t, w.map((s) => s.t), heads, kvHeads, rope).data();
      const [q, k, v, o] = w.map(mat) as [Mat, Mat, Mat, Mat];
      const a = { heads, kvHeads, d, scale: 1 / Math.sqrt(d), rope };
      expectClose(y, rows(x.a).flatMap((r) => gqaRef(r, { q, k, v, o }, a).flat()));
    });
  }

  it('MQA and GQA equal MHA with each kv head’s weights repeated for its query heads', async () => {
    const x = sample([B, T, D], 20).t;
    for (const kvHeads of [1, 2]) {
      const [wq, wk, wv, wo] = weights(4, kvHeads, 21).map((s) => s.t) as [tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor];
      // MHA head h gets kv head floor(h / (4 / G)): repeat each kv head's d rows 4/G times in place
      const repeat = (w: tf.Tensor): tf.Tensor => tf.reshape(tf.tile(tf.reshape(w, [kvHeads, 1, d, D]), [1, 4 / kvHeads, 1, 1]), [4 * d, D]);
      const grouped = await gqa(x, [wq, wk, wv, wo], 4, kvHeads).data();
      const mha = await gqa(x, [wq, repeat(wk), repeat(wv), wo], 4, 4).data();
      expectClose(grouped, mha, 1e-6);
    }
  });

  it('is causal', async () => {
    const p = weights(4, 2, 30).map((s) => s.t);
    await expectCausal((x) => gqa(x, p, 4, 2), T + 1, D);
  });

  it('gradient w.r.t. x, q, k, v and o weights (H 4, G 2): relative error < 1e-3', async () => {
    const xs = [sample([B, T, D], 40).t, ...weights(4, 2, 41).map((s) => s.t)];
    await expectGradient('attention.gqa', ([x, ...p]) => [gqa(x!, p, 4, 2, YARN)], xs, 1e-3);
  });

  it('rejects kv_heads that do not divide heads and a missing rope', () => {
    const x = sample([B, T, D], 50).t;
    expect(() => gqa(x, weights(3, 2, 51).map((s) => s.t), 3, 2)).toThrow(/divide/);
    const attrs = { heads: 2, kv_heads: 2, head_dim: d, softmax_scale: 0.5 };
    expect(() => attentionGqa({ inputs: [x], params: weights(2, 2, 52).map((s) => s.t), state: [], attrs })).toThrow(/rope/);
  });
});

describe('attention.mla', () => {
  const [H, qRank, kvRank, dn, dr, dv] = [2, 6, 5, 3, 4, 3];
  const attrs = (q: number, rope: RopeRef): KernelAttrs => ({
    heads: H,
    q_rank: q,
    kv_rank: kvRank,
    nope_dim: dn,
    rope_dim: dr,
    v_dim: dv,
    eps: 1e-6,
    softmax_scale: 0.45, // as given: the kernel must not fold anything into it
    rope: ropeAttr(rope, true),
  });
  type KernelAttrs = Parameters<Kernel>[0]['attrs'];
  /** Parameters in the order of compiler/lower/model.ts. */
  const weights = (q: number, seed: number): { t: tf.Tensor; a: Float32Array }[] => [
    ...(q > 0
      ? [sample([q, D], seed, 0.4), sample([q], seed + 1, 0.3), sample([H * (dn + dr), q], seed + 2, 0.4)]
      : [sample([H * (dn + dr), D], seed, 0.4)]),
    sample([kvRank + dr, D], seed + 3, 0.4),
    sample([kvRank], seed + 4, 0.3),
    sample([H * (dn + dv), kvRank], seed + 5, 0.4),
    sample([D, H * dv], seed + 6, 0.4),
  ];
  const mla = (x: tf.Tensor, p: tf.Tensor[], q: number, rope: RopeRef = NO_SCALING): tf.Tensor =>
    attentionMla({ inputs: [x], params: p, state: [], attrs: attrs(q, rope) })[0]!;

  for (const [q, rope] of [[0, NO_SCALING], [qRank, NO_SCALING], [qRank, YARN], [0, YARN]] as const) {
    it(`q_rank ${q} (${rope.scaling.kind} rope) matches the §4.6 reference`, async () => {
      const x = sample([B, T, D], 60);
      const w = weights(q, 61);
      const y = await mla(x.t, w.map((s) => s.t), q, rope).data();
      const m = w.map(mat);
      const [kvA, kvNorm, kvB, o] = [mat(w.at(-4)!), Array.from(w.at(-3)!.a), mat(w.at(-2)!), mat(w.at(-1)!)];
      const ref = q > 0 ? { qA: m[0]!, qNorm: Array.from(w[1]!.a), qB: m[2]!, kvA, kvNorm, kvB, o } : { q: m[0]!, kvA, kvNorm, kvB, o };
      const a = { heads: H, kvRank, dn, dr, dv, eps: 1e-6, scale: 0.45, rope };
      expectClose(y, rows(x.a).flatMap((r) => mlaRef(r, ref, a).flat()));
    });
  }

  it('is causal (q_rank 0 and > 0)', async () => {
    for (const q of [0, qRank]) {
      const p = weights(q, 70).map((s) => s.t);
      await expectCausal((x) => mla(x, p, q, YARN), T + 1, D);
    }
  });

  for (const q of [0, qRank]) {
    it(`gradient w.r.t. x and all ${q > 0 ? 7 : 5} parameters (q_rank ${q}): relative error < 2e-3`, async () => {
      const xs = [sample([B, T, D], 80).t, ...weights(q, 81).map((s) => s.t)];
      await expectGradient(`attention.mla q_rank ${q}`, ([x, ...p]) => [mla(x!, p, q, YARN)], xs, 2e-3);
    });
  }

  it('rejects a parameter count that does not fit q_rank', () => {
    const x = sample([B, T, D], 90).t;
    expect(() => mla(x, weights(0, 91).map((s) => s.t), qRank)).toThrow(/takes 7 parameters/);
  });
});

describe('no tensors leak', () => {
  it('attention kernels inside tf.tidy', () => {
    const x = sample([B, T, D], 95).t;
    const d = 4;
    const g = [sample([4 * d, D], 96).t, sample([2 * d, D], 97).t, sample([2 * d, D], 98).t, sample([D, 4 * d], 99).t];
    const gqaAttrs = { heads: 4, kv_heads: 2, head_dim: d, softmax_scale: 0.5, rope: ropeAttr(YARN, false) };
    expectNoLeak(() => attentionGqa({ inputs: [x], params: g, state: [], attrs: gqaAttrs }));
    const m = [sample([6, D], 1).t, sample([6], 2).t, sample([2 * 7, 6], 3).t, sample([5 + 4, D], 4).t, sample([5], 5).t, sample([2 * 6, 5], 6).t, sample([D, 6], 7).t];
    const mlaAttrs = { heads: 2, q_rank: 6, kv_rank: 5, nope_dim: 3, rope_dim: 4, v_dim: 3, eps: 1e-6, softmax_scale: 0.4, rope: ropeAttr(YARN, true) };
    expectNoLeak(() => attentionMla({ inputs: [x], params: m, state: [], attrs: mlaAttrs }));
    expectNoLeak(() => attentionMla({ inputs: [x], params: [sample([2 * 7, D], 8).t, ...m.slice(3)], state: [], attrs: { ...mlaAttrs, q_rank: 0 } }));
    expectNoLeak(() => [causalAttention([[sample([B, 2, T, 3], 9).t, sample([B, 1, T, 3], 10).t]], sample([B, 1, T, 2], 11).t, 0.5)]);
  });
});
