/**
 * Issue 20's attention features and the shared-expert gate against plain-JS references written the
 * way HF writes them (test/runtime/ops/reference.ts): q/k/v biases (Qwen2-MoE), q/k norm per head
 * (Qwen3-MoE) and full width (OLMoE), sliding windows (GQA and MLA, and the core), and
 * `moe.shared_gate`; gradients against finite differences on the cpu backend.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import type { AttrValue } from '../../../ir/types.js';
import { causalAttention } from '../../../runtime/ops/attention-core.js';
import { attentionGqa } from '../../../runtime/ops/attention-gqa.js';
import { attentionMla } from '../../../runtime/ops/attention-mla.js';
import { moeSharedGate } from '../../../runtime/ops/moe-shared-gate.js';
import { KERNELS } from '../../../runtime/ops/index.js';
import { tf } from '../../../runtime/tf.js';
import { useCpu } from '../gradcheck.js';
import { causalAttentionRef, expectClose, expectGradient, expectNoLeak, gqaRef, mlaRef, nest, sample, type GqaRefFeatures, type Mat, type RopeRef } from './reference.js';

beforeAll(async () => {
  await useCpu();
});

const B = 2;
const T = 6;
const D = 8;
const d = 4;
const EPS = 1e-5;
const ROPE: RopeRef = { theta: 10000, scaling: { kind: 'none' } };
const ropeAttr = (interleaved: boolean): AttrValue => ({ theta: ROPE.theta, interleaved, scaling: ROPE.scaling });
const rows = (flat: Float32Array, t = T): Mat[] => nest(flat, [B, t, D]) as Mat[];
const mat = (s: { a: Float32Array; t: tf.Tensor }): Mat => nest(s.a, s.t.shape) as Mat;
const vec = (s: { a: Float32Array }): number[] => Array.from(s.a);

type QkNorm = 'none' | 'head' | 'full';
interface Case {
  readonly heads: number;
  readonly kvHeads: number;
  readonly qkNorm: QkNorm;
  readonly bias: boolean;
  readonly window: number | null;
}

/** The node's parameters in the lowering's order: q, k, v, o, [q, k, v biases], [q, k norms]. */
function weights(c: Case, seed: number): { t: tf.Tensor; a: Float32Array }[] {
  const w = [sample([c.heads * d, D], seed, 0.4), sample([c.kvHeads * d, D], seed + 1, 0.4), sample([c.kvHeads * d, D], seed + 2, 0.4), sample([D, c.heads * d], seed + 3, 0.4)];
  if (c.bias) w.push(sample([c.heads * d], seed + 4, 0.5), sample([c.kvHeads * d], seed + 5, 0.5), sample([c.kvHeads * d], seed + 6, 0.5));
  // norm weights away from 1, so that a norm applied without its weight (or not at all) shows
  const norm = (n: number, s: number): { t: tf.Tensor; a: Float32Array } => {
    const x = sample([n], s, 0.3);
    const a = x.a.map((v) => 1 + v);
    return { t: tf.tensor1d(a), a };
  };
  if (c.qkNorm === 'head') w.push(norm(d, seed + 7), norm(d, seed + 8));
  if (c.qkNorm === 'full') w.push(norm(c.heads * d, seed + 7), norm(c.kvHeads * d, seed + 8));
  return w;
}

const attrs = (c: Case): Record<string, AttrValue> => ({
  heads: c.heads,
  kv_heads: c.kvHeads,
  head_dim: d,
  softmax_scale: 1 / Math.sqrt(d),
  rope: ropeAttr(false),
  qk_norm: c.qkNorm,
  qkv_bias: c.bias,
  eps: EPS,
  window: c.window,
});

const gqa = (c: Case, x: tf.Tensor, p: readonly tf.Tensor[]): tf.Tensor => attentionGqa({ inputs: [x], params: p, state: [], attrs: attrs(c) })[0]!;

function features(c: Case, w: { a: Float32Array }[]): GqaRefFeatures {
  const f: GqaRefFeatures = {};
  if (c.bias) f.bias = { q: vec(w[4]!), k: vec(w[5]!), v: vec(w[6]!) };
  const n = c.bias ? 7 : 4;
  if (c.qkNorm !== 'none') f.qkNorm = { kind: c.qkNorm, q: vec(w[n]!), k: vec(w[n + 1]!), eps: EPS };
  if (c.window !== null) f.window = c.window;
  return f;
}

describe('the causal core with a sliding window', () => {
  it('matches the §3.3 reference: query t sees keys t − W < u ≤ t', async () => {
    const [H, G] = [4, 2];
    const q = sample([B, H, T, 3], 1);
    const k = sample([B, G, T, 3], 2);
    const v = sample([B, G, T, 5], 3);
    for (const window of [1, 2, 4]) {
      const o = await causalAttention([[q.t, k.t]], v.t, 0.7, window).data();
      const [qs, ks, vs] = [nest(q.a, [B, H, T, 3]), nest(k.a, [B, G, T, 3]), nest(v.a, [B, G, T, 5])] as [Mat[][], Mat[][], Mat[][]];
      const expected: number[] = [];
      for (let b = 0; b < B; b++) for (let h = 0; h < H; h++) expected.push(...causalAttentionRef(qs[b]![h]!, ks[b]![h >> 1]!, vs[b]![h >> 1]!, 0.7, window).flat());
      expectClose(o, expected);
      // and the window changes the result (the reference is not the full causal one)
      const full: number[] = [];
      for (let b = 0; b < B; b++) for (let h = 0; h < H; h++) full.push(...causalAttentionRef(qs[b]![h]!, ks[b]![h >> 1]!, vs[b]![h >> 1]!, 0.7).flat());
      expect(Math.max(...Array.from(o).map((x, i) => Math.abs(x - full[i]!)))).toBeGreaterThan(1e-3);
    }
  });

  it('gradient w.r.t. q, k and v under a window of 2: relative error < 1e-3', async () => {
    const xs = [sample([B, 4, T, 3], 4).t, sample([B, 2, T, 3], 5).t, sample([B, 2, T, 2], 6).t];
    await expectGradient('windowed core', ([q, k, v]) => [causalAttention([[q!, k!]], v!, 0.6, 2)], xs, 1e-3);
  });
});

describe('attention.gqa features', () => {
  const cases: [string, Case][] = [
    ['q/k/v biases (Qwen2-MoE)', { heads: 4, kvHeads: 4, qkNorm: 'none', bias: true, window: null }],
    ['q/k norm per head (Qwen3-MoE), G < H', { heads: 4, kvHeads: 2, qkNorm: 'head', bias: false, window: null }],
    ['q/k norm full width (OLMoE), G < H', { heads: 4, kvHeads: 2, qkNorm: 'full', bias: false, window: null }],
    ['a sliding window of 3', { heads: 4, kvHeads: 2, qkNorm: 'none', bias: false, window: 3 }],
    ['all of them', { heads: 4, kvHeads: 1, qkNorm: 'head', bias: true, window: 2 }],
  ];
  for (const [name, c] of cases) {
    it(`${name} matches the §4.7 reference`, async () => {
      const x = sample([B, T, D], 10);
      const w = weights(c, 11);
      const y = await gqa(c, x.t, w.map((s) => s.t)).data();
      const [q, k, v, o] = w.slice(0, 4).map(mat) as [Mat, Mat, Mat, Mat];
      const a = { heads: c.heads, kvHeads: c.kvHeads, d, scale: 1 / Math.sqrt(d), rope: ROPE };
      expectClose(y, rows(x.a).flatMap((r) => gqaRef(r, { q, k, v, o }, a, features(c, w)).flat()));
      // the feature matters: without it the reference differs
      const plain = rows(x.a).flatMap((r) => gqaRef(r, { q, k, v, o }, a).flat());
      expect(Math.max(...Array.from(y).map((value, i) => Math.abs(value - plain[i]!)))).toBeGreaterThan(1e-3);
    });

    it(`${name}: gradient w.r.t. x and every parameter, relative error < 2e-3`, async () => {
      const xs = [sample([B, T, D], 40).t, ...weights(c, 41).map((s) => s.t)];
      await expectGradient(`attention.gqa ${name}`, ([x, ...p]) => [gqa(c, x!, p)], xs, 2e-3);
    });
  }

  it('a windowed output depends only on the last W inputs', async () => {
    const c: Case = { heads: 2, kvHeads: 2, qkNorm: 'none', bias: false, window: 2 };
    const p = weights(c, 50).map((s) => s.t);
    const x = sample([B, T, D], 51);
    const base = await gqa(c, x.t, p).data();
    // change position 0: only positions 0 and 1 (t − 2 < 0) may move
    const changed = Float32Array.from(x.a);
    for (let b = 0; b < B; b++) for (let j = 0; j < D; j++) changed[b * T * D + j] = 5;
    const out = await gqa(c, tf.tensor3d(changed, [B, T, D]), p).data();
    for (let b = 0; b < B; b++) {
      for (let t = 0; t < T; t++) {
        const at = (b * T + t) * D;
        const moved = Array.from(out.slice(at, at + D)).some((v, j) => v !== base[at + j]);
        expect(moved, `row ${b} position ${t}`).toBe(t < 2);
      }
    }
  });

  it('refuses parameters that do not fit qkv_bias and qk_norm', () => {
    const x = sample([B, T, D], 60).t;
    const c: Case = { heads: 2, kvHeads: 2, qkNorm: 'head', bias: true, window: null };
    const four = weights({ ...c, qkNorm: 'none', bias: false }, 61).map((s) => s.t);
    expect(() => gqa(c, x, four)).toThrow(/takes 9 parameters, found 4/);
  });

  it('reads a graph written before these attributes as none of them', async () => {
    const c: Case = { heads: 2, kvHeads: 2, qkNorm: 'none', bias: false, window: null };
    const x = sample([B, T, D], 70).t;
    const p = weights(c, 71).map((s) => s.t);
    const { qk_norm: _n, qkv_bias: _b, eps: _e, window: _w, ...old } = attrs(c);
    const a = await attentionGqa({ inputs: [x], params: p, state: [], attrs: old })[0]!.data();
    expect(Array.from(a)).toEqual(Array.from(await gqa(c, x, p).data()));
  });
});

describe('attention.mla with a sliding window', () => {
  const [H, kvRank, dn, dr, dv] = [2, 5, 3, 4, 3];
  const w = (seed: number): { t: tf.Tensor; a: Float32Array }[] => [
    sample([H * (dn + dr), D], seed, 0.4),
    sample([kvRank + dr, D], seed + 1, 0.4),
    sample([kvRank], seed + 2, 0.3),
    sample([H * (dn + dv), kvRank], seed + 3, 0.4),
    sample([D, H * dv], seed + 4, 0.4),
  ];
  const mlaAttrs = (window: number | null): Record<string, AttrValue> => ({
    heads: H,
    q_rank: 0,
    kv_rank: kvRank,
    nope_dim: dn,
    rope_dim: dr,
    v_dim: dv,
    eps: 1e-6,
    softmax_scale: 0.45,
    rope: ropeAttr(true),
    window,
  });

  it('matches the §4.6 reference with the §3.3 window', async () => {
    const x = sample([B, T, D], 80);
    const p = w(81);
    const y = await attentionMla({ inputs: [x.t], params: p.map((s) => s.t), state: [], attrs: mlaAttrs(3) })[0]!.data();
    const ref = { q: mat(p[0]!), kvA: mat(p[1]!), kvNorm: vec(p[2]!), kvB: mat(p[3]!), o: mat(p[4]!) };
    const a = { heads: H, kvRank, dn, dr, dv, eps: 1e-6, scale: 0.45, rope: ROPE };
    expectClose(y, rows(x.a).flatMap((r) => mlaRef(r, ref, { ...a, window: 3 }).flat()));
    const full = rows(x.a).flatMap((r) => mlaRef(r, ref, a).flat());
    expect(Math.max(...Array.from(y).map((v, i) => Math.abs(v - full[i]!)))).toBeGreaterThan(1e-3);
  });

  it('gradient w.r.t. x and the parameters: relative error < 2e-3', async () => {
    const xs = [sample([B, T, D], 90).t, ...w(91).map((s) => s.t)];
    await expectGradient('attention.mla window 2', ([x, ...p]) => attentionMla({ inputs: [x!], params: p, state: [], attrs: mlaAttrs(2) }), xs, 2e-3);
  });
});

describe('moe.shared_gate', () => {
  it('is y · σ(x · wᵀ), one gate per token (HF Qwen2-MoE), and the registered kernel', async () => {
    const x = sample([B, T, D], 100);
    const y = sample([B, T, D], 101);
    const g = sample([1, D], 102, 0.5);
    expect(KERNELS['moe.shared_gate']).toBe(moeSharedGate);
    const out = await moeSharedGate({ inputs: [x.t, y.t], params: [g.t], state: [], attrs: {} })[0]!.data();
    const expected: number[] = [];
    for (let r = 0; r < B * T; r++) {
      const logit = Array.from({ length: D }, (_, j) => x.a[r * D + j]! * g.a[j]!).reduce((s, v) => s + v, 0);
      const gate = 1 / (1 + Math.exp(-logit));
      for (let j = 0; j < D; j++) expected.push(gate * y.a[r * D + j]!);
    }
    expectClose(out, expected);
  });

  it('gradient w.r.t. x, y and the gate weight: relative error < 1e-3', async () => {
    const xs = [sample([B, T, D], 110).t, sample([B, T, D], 111).t, sample([1, D], 112, 0.5).t];
    await expectGradient('moe.shared_gate', ([x, y, g]) => moeSharedGate({ inputs: [x!, y!], params: [g!], state: [], attrs: {} }), xs, 1e-3);
  });
});

describe('no tensors leak', () => {
  it('the featured kernels inside tf.tidy', () => {
    const c: Case = { heads: 4, kvHeads: 2, qkNorm: 'full', bias: true, window: 2 };
    const x = sample([B, T, D], 120).t;
    const p = weights(c, 121).map((s) => s.t);
    expectNoLeak(() => [gqa(c, x, p), gqa({ ...c, qkNorm: 'head' }, x, weights({ ...c, qkNorm: 'head' }, 122).map((s) => s.t))]);
    expectNoLeak(() => moeSharedGate({ inputs: [x, x], params: [sample([1, D], 123).t], state: [], attrs: {} }));
  });
});
