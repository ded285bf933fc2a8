/**
 * Plain-JavaScript references for the kernel tests: the formulas of specs/ir.md written with loops
 * over nested arrays, in float64; the reference functions never call tfjs. Also the shared test
 * plumbing (random inputs for both sides, closeness, gradient and leak checks).
 */
import { expect } from 'vitest';
import { normalArray } from '../../../runtime/random.js';
import { tf } from '../../../runtime/tf.js';
import { gradCheck } from '../gradcheck.js';

export type Vec = number[];
export type Mat = number[][];

/** A random tensor and the same numbers as a flat array, for feeding both sides of a comparison. */
export function sample(shape: number[], seed: number, std = 1): { t: tf.Tensor; a: Float32Array } {
  const a = normalArray(
    shape.reduce((x, y) => x * y, 1),
    std,
    seed,
  );
  return { t: tf.tensor(a, shape, 'float32'), a };
}

/** Flat row-major values → nested arrays of `shape`. */
export function nest(flat: ArrayLike<number>, shape: readonly number[]): unknown {
  if (shape.length === 1) return Array.from(flat).slice(0, shape[0]);
  const inner = shape.slice(1).reduce((x, y) => x * y, 1);
  return Array.from({ length: shape[0]! }, (_, i) => nest(Array.from(flat).slice(i * inner, (i + 1) * inner), shape.slice(1)));
}

export function flatten(x: unknown): number[] {
  return Array.isArray(x) ? x.flatMap((e) => flatten(e)) : [x as number];
}

/** |a − e| ≤ tol · max(1, |e|) elementwise. */
export function expectClose(actual: ArrayLike<number>, expected: ArrayLike<number>, tol = 1e-5): void {
  expect(actual.length).toBe(expected.length);
  let worst = 0;
  for (let i = 0; i < expected.length; i++) {
    worst = Math.max(worst, Math.abs(actual[i]! - expected[i]!) / Math.max(1, Math.abs(expected[i]!)));
  }
  expect(worst).toBeLessThanOrEqual(tol);
}

/** rows · Wᵀ for W [out][in]. */
export function linearRef(rows: Mat, w: Mat): Mat {
  return rows.map((x) => w.map((wo) => wo.reduce((s, wi, i) => s + wi * x[i]!, 0)));
}

export function rmsnormRef(x: Vec, w: Vec, eps: number): Vec {
  const ms = x.reduce((s, v) => s + v * v, 0) / x.length;
  return x.map((v, j) => w[j]! * (v / Math.sqrt(ms + eps)));
}

export const siluRef = (z: number): number => z / (1 + Math.exp(-z));

export interface RopeRef {
  readonly theta: number;
  readonly scaling:
    | { kind: 'none' }
    | { kind: 'linear'; factor: number }
    | { kind: 'yarn'; factor: number; original_context: number; beta_fast: number; beta_slow: number; mscale: number; mscale_all_dim: number };
}

/** A port of HF `_compute_yarn_parameters` (and the default / linear ones): inverse frequencies and af. */
export function invFreqRef(cfg: RopeRef, dim: number): { inv: Vec; af: number } {
  const posFreqs = Array.from({ length: dim / 2 }, (_, k) => Math.pow(cfg.theta, (2 * k) / dim));
  const s = cfg.scaling;
  if (s.kind === 'none') return { inv: posFreqs.map((p) => 1 / p), af: 1 };
  if (s.kind === 'linear') return { inv: posFreqs.map((p) => 1 / p / s.factor), af: 1 };
  const getMscale = (scale: number, mscale = 1): number => (scale <= 1 ? 1 : 0.1 * mscale * Math.log(scale) + 1);
  const af = s.mscale && s.mscale_all_dim ? getMscale(s.factor, s.mscale) / getMscale(s.factor, s.mscale_all_dim) : getMscale(s.factor);
  const findCorrectionDim = (numRotations: number): number =>
    (dim * Math.log(s.original_context / (numRotations * 2 * Math.PI))) / (2 * Math.log(cfg.theta));
  let low = Math.floor(findCorrectionDim(s.beta_fast));
  let high = Math.ceil(findCorrectionDim(s.beta_slow));
  low = Math.max(low, 0);
  high = Math.min(high, dim - 1);
  if (low === high) high += 0.001;
  const linearRamp = Array.from({ length: dim / 2 }, (_, k) => Math.min(1, Math.max(0, (k - low) / (high - low))));
  const inv = posFreqs.map((p, k) => {
    const interpolation = 1 / (s.factor * p);
    const extrapolation = 1 / p;
    const extrapolationFactor = 1 - linearRamp[k]!;
    return interpolation * (1 - extrapolationFactor) + extrapolation * extrapolationFactor;
  });
  return { inv, af };
}

/** The rotation of §3.2 of one vector at position t. */
export function ropeRef(x: Vec, t: number, cfg: RopeRef, interleaved: boolean): Vec {
  const d = x.length;
  const { inv, af } = invFreqRef(cfg, d);
  const out = new Array<number>(d).fill(0);
  for (let i = 0; i < d / 2; i++) {
    const c = af * Math.cos(t * inv[i]!);
    const s = af * Math.sin(t * inv[i]!);
    const [a, b] = interleaved ? [2 * i, 2 * i + 1] : [i, i + d / 2];
    out[a] = x[a]! * c - x[b]! * s;
    out[b] = x[b]! * c + x[a]! * s;
  }
  return out;
}

/** §3.3 for one head: q [T][dk], k [T][dk], v [T][dv] → o [T][dv]; a window W keeps keys t − W < u ≤ t. */
export function causalAttentionRef(q: Mat, k: Mat, v: Mat, scale: number, window: number | null = null): Mat {
  return q.map((qt, t) => {
    const from = window === null ? 0 : Math.max(0, t - window + 1);
    const scores = k.slice(from, t + 1).map((ku) => scale * ku.reduce((s, kj, j) => s + kj * qt[j]!, 0));
    const m = Math.max(...scores);
    const e = scores.map((s) => Math.exp(s - m));
    const z = e.reduce((a, b) => a + b, 0);
    return v[0]!.map((_, j) => e.reduce((s, p, u) => s + (p / z) * v[from + u]![j]!, 0));
  });
}

const cols = (m: Mat, from: number, to: number): Mat => m.map((r) => r.slice(from, to));

/** The optional parts of §4.7: q/k/v biases, q/k norm (per head or full width), a sliding window. */
export interface GqaRefFeatures {
  bias?: { q: Vec; k: Vec; v: Vec };
  qkNorm?: { kind: 'head' | 'full'; q: Vec; k: Vec; eps: number };
  window?: number;
}

/** §4.7 for one row x [T][D], written the way HF Qwen2-MoE / Qwen3-MoE / OLMoE write it. */
export function gqaRef(
  x: Mat,
  w: { q: Mat; k: Mat; v: Mat; o: Mat },
  a: { heads: number; kvHeads: number; d: number; scale: number; rope: RopeRef },
  f: GqaRefFeatures = {},
): Mat {
  const addBias = (m: Mat, b: Vec | undefined): Mat => (b ? m.map((r) => r.map((v, j) => v + b[j]!)) : m);
  let [Q, K] = [addBias(linearRef(x, w.q), f.bias?.q), addBias(linearRef(x, w.k), f.bias?.k)];
  const V = addBias(linearRef(x, w.v), f.bias?.v);
  const norm = f.qkNorm;
  if (norm?.kind === 'full') {
    Q = Q.map((r) => rmsnormRef(r, norm.q, norm.eps));
    K = K.map((r) => rmsnormRef(r, norm.k, norm.eps));
  }
  const headNorm = (m: Mat, weight: Vec | undefined): Mat => (norm?.kind === 'head' ? m.map((r) => rmsnormRef(r, weight!, norm.eps)) : m);
  const rot = (m: Mat): Mat => m.map((r, t) => ropeRef(r, t, a.rope, false));
  const outs: Mat[] = [];
  for (let h = 0; h < a.heads; h++) {
    const g = Math.floor(h / (a.heads / a.kvHeads));
    const q = rot(headNorm(cols(Q, h * a.d, (h + 1) * a.d), norm?.q));
    const k = rot(headNorm(cols(K, g * a.d, (g + 1) * a.d), norm?.k));
    outs.push(causalAttentionRef(q, k, cols(V, g * a.d, (g + 1) * a.d), a.scale, f.window ?? null));
  }
  return linearRef(x.map((_, t) => outs.flatMap((o) => o[t]!)), w.o);
}

export interface MlaRefWeights {
  qA?: Mat;
  qNorm?: Vec;
  qB?: Mat;
  q?: Mat;
  kvA: Mat;
  kvNorm: Vec;
  kvB: Mat;
  o: Mat;
}

/** §4.6 for one row x [T][D], rope interleaved (pairs). */
export function mlaRef(
  x: Mat,
  w: MlaRefWeights,
  a: { heads: number; kvRank: number; dn: number; dr: number; dv: number; eps: number; scale: number; rope: RopeRef; window?: number },
): Mat {
  const Q = w.q ? linearRef(x, w.q) : linearRef(linearRef(x, w.qA!).map((r) => rmsnormRef(r, w.qNorm!, a.eps)), w.qB!);
  const KVa = linearRef(x, w.kvA);
  const kPe = KVa.map((r, t) => ropeRef(r.slice(a.kvRank, a.kvRank + a.dr), t, a.rope, true));
  const KV = linearRef(KVa.map((r) => rmsnormRef(r.slice(0, a.kvRank), w.kvNorm, a.eps)), w.kvB);
  const outs: Mat[] = [];
  for (let h = 0; h < a.heads; h++) {
    const qh = Q.map((r, t) => {
      const head = r.slice(h * (a.dn + a.dr), (h + 1) * (a.dn + a.dr));
      return [...head.slice(0, a.dn), ...ropeRef(head.slice(a.dn), t, a.rope, true)];
    });
    const base = h * (a.dn + a.dv);
    const kh = KV.map((r, t) => [...r.slice(base, base + a.dn), ...kPe[t]!]);
    const vh = KV.map((r) => r.slice(base + a.dn, base + a.dn + a.dv));
    outs.push(causalAttentionRef(qh, kh, vh, a.scale, a.window ?? null));
  }
  return linearRef(x.map((_, t) => outs.flatMap((o) => o[t]!)), w.o);
}

/** tf.memory().numTensors is unchanged by running `f` inside tf.tidy. */
export function expectNoLeak(f: () => tf.Tensor[]): void {
  const before = tf.memory().numTensors;
  tf.tidy(() => {
    f();
  });
  expect(tf.memory().numTensors).toBe(before);
}

/** Runs gradCheck and asserts its bound; GRADCHECK_LOG=1 prints the achieved error. */
export async function expectGradient(name: string, f: (xs: tf.Tensor[]) => tf.Tensor[], xs: tf.Tensor[], bound: number): Promise<void> {
  const { maxRelativeError, checked } = await gradCheck(f, xs);
  if (process.env.GRADCHECK_LOG) console.log(`${name}: max relative error ${maxRelativeError.toExponential(2)} over ${checked} coordinates`);
  expect(checked).toBeGreaterThan(0);
  expect(maxRelativeError).toBeLessThan(bound);
}
