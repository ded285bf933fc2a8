/**
 * Rotary position embeddings (specs/ir.md §3.2): the `rope` attribute, inverse frequencies for no,
 * linear and YaRN scaling (HF modeling_rope_utils), cos/sin tables with YaRN's attention factor
 * folded in, and the rotation in both layouts.
 *
 * Tables are cached as plain Float32Arrays and turned into tensors per call: a cached tensor would
 * be disposed by (or leak out of) whichever tf.tidy scope created it.
 */
import { tf } from '../tf.js';
import { fusedOp } from '../backend/registry.js';

export { parseRope, yarnMscale, type RopeConfig, type RopeScaling } from '../../ir/rope.js';
import { yarnMscale, type RopeConfig } from '../../ir/rope.js';

export interface Frequencies {
  /** inv[i], i = 0 … d/2 − 1, rounded to fp32 as HF holds them */
  readonly inv: Float32Array;
  /** af, multiplies cos and sin (1 except under YaRN) */
  readonly attentionFactor: number;
}

/** Inverse frequencies of a rotary width d (even) and the attention factor: HF `_compute_*_parameters`. */
export function ropeFrequencies(config: RopeConfig, d: number): Frequencies {
  if (!Number.isInteger(d) || d < 2 || d % 2 !== 0) throw new Error(`the rotary width must be even, found ${d}`);
  const half = d / 2;
  const { theta, scaling } = config;
  const base = Array.from({ length: half }, (_, i) => 1 / Math.pow(theta, (2 * i) / d));
  const inv = new Float32Array(half);
  let attentionFactor = 1;
  if (scaling.kind === 'none') base.forEach((b, i) => (inv[i] = b));
  else if (scaling.kind === 'linear') base.forEach((b, i) => (inv[i] = b / scaling.factor));
  else {
    const { factor, originalContext, betaFast, betaSlow, mscale, mscaleAllDim } = scaling;
    // the dimension whose wavelength turns r times over the original context (HF find_correction_dim)
    const corr = (r: number): number => (d * Math.log(originalContext / (2 * Math.PI * r))) / (2 * Math.log(theta));
    const lo = Math.max(Math.floor(corr(betaFast)), 0);
    let hi = Math.min(Math.ceil(corr(betaSlow)), d - 1);
    if (lo === hi) hi += 0.001; // HF: prevent a zero-width ramp
    base.forEach((b, i) => {
      const ramp = Math.min(Math.max((i - lo) / (hi - lo), 0), 1);
      const extrapolation = 1 - ramp;
      // fast dimensions (below lo) keep their frequency; slow ones (above hi) are interpolated by 1/factor
      inv[i] = (b / factor) * (1 - extrapolation) + b * extrapolation;
    });
    attentionFactor = mscale && mscaleAllDim ? yarnMscale(factor, mscale) / yarnMscale(factor, mscaleAllDim) : yarnMscale(factor, 1);
  }
  return { inv, attentionFactor };
}

export interface Tables {
  readonly positions: number;
  /** [positions, d/2] row-major, af included */
  readonly cos: Float32Array;
  readonly sin: Float32Array;
}

/** Keyed by the rotary width and everything that changes frequencies; grows by doubling. */
const cache = new Map<string, Tables>();

export function tablesFor(config: RopeConfig, d: number, positions: number): Tables {
  const key = JSON.stringify([d, config.theta, config.scaling]);
  const cached = cache.get(key);
  if (cached && cached.positions >= positions) return cached;
  // doubling keeps token-by-token growth (decoding) linear in total work
  const n = Math.max(positions, 2 * (cached?.positions ?? 0));
  const { inv, attentionFactor } = ropeFrequencies(config, d);
  const half = d / 2;
  const cos = new Float32Array(n * half);
  const sin = new Float32Array(n * half);
  for (let t = 0; t < n; t++) {
    for (let i = 0; i < half; i++) {
      // the angle is an fp32 product, as HF's fp32 `inv_freq @ position_ids`
      const angle = Math.fround(t * inv[i]!);
      cos[t * half + i] = attentionFactor * Math.cos(angle);
      sin[t * half + i] = attentionFactor * Math.sin(angle);
    }
  }
  const tables = { positions: n, cos, sin };
  cache.set(key, tables);
  return tables;
}

export interface RotaryTables {
  /** [T, d]: cos and sin of each channel's angle (af included), laid out like the rotated vector */
  readonly cos: tf.Tensor2D;
  readonly sin: tf.Tensor2D;
  /** [d, d]: x · rot gives each channel's rotation partner with its sign (−x[i + d/2] for x[i], …) */
  readonly rot: tf.Tensor2D;
  /** the partner layout rot encodes (pairs (2i, 2i + 1), else halves (i, i + d/2)) */
  readonly interleaved: boolean;
}

/** Signed permutation matrices, by width and layout (constant; arrays only, see the file comment). */
const rotations = new Map<string, Float32Array>();

export function rotation(d: number, interleaved: boolean): Float32Array {
  const key = `${d}${interleaved ? 'p' : 'h'}`;
  let r = rotations.get(key);
  if (!r) {
    r = new Float32Array(d * d);
    for (let i = 0; i < d / 2; i++) {
      // partners (a, b) rotate together: y[a] = x[a]·c − x[b]·s and y[b] = x[b]·c + x[a]·s
      const [a, b] = interleaved ? [2 * i, 2 * i + 1] : [i, i + d / 2];
      r[b * d + a] = -1; // (x·rot)[a] = −x[b]
      r[a * d + b] = 1; // (x·rot)[b] = x[a]
    }
    rotations.set(key, r);
  }
  return r;
}

/**
 * Tables for positions offset … offset + T − 1 of a rotary width d, as tensors owned by the caller's
 * scope. cos/sin are expanded to [T, d] so the rotation is two elementwise products and one matmul.
 */
export function ropeTables(config: RopeConfig, d: number, time: number, offset = 0): RotaryTables {
  const tables = tablesFor(config, d, offset + time);
  const half = d / 2;
  const cos = new Float32Array(time * d);
  const sin = new Float32Array(time * d);
  for (let t = 0; t < time; t++) {
    for (let i = 0; i < half; i++) {
      const [a, b] = config.interleaved ? [2 * i, 2 * i + 1] : [i, i + half];
      const src = (offset + t) * half + i;
      cos[t * d + a] = cos[t * d + b] = tables.cos[src]!;
      sin[t * d + a] = sin[t * d + b] = tables.sin[src]!;
    }
  }
  return { cos: tf.tensor2d(cos, [time, d]), sin: tf.tensor2d(sin, [time, d]), rot: tf.tensor2d(rotation(d, config.interleaved), [d, d]), interleaved: config.interleaved };
}

/**
 * Rotates x [..., T, d] by position (axis −2): y = x ⊙ cos + (x · rot) ⊙ sin, which is §3.2's
 * formula for the layout the tables were built for. Halves: (x[i], x[i + d/2]) rotate by angle i.
 * Interleaved: (x[2i], x[2i+1]) rotate by angle i, output in the same pair layout — HF de-interleaves
 * first and returns the halves layout; the two differ by one fixed permutation of both q and k, which
 * leaves every q·k unchanged.
 *
 * The partner swap is a 2-D matmul with a constant signed permutation rather than slices and a concat:
 * exact (one ±1 product per output), and tfjs-backend-cpu's non-contiguous slice is a slow generic
 * loop. The gradient is written out (dx = dy ⊙ cos − ((dy ⊙ sin) · rot), as rotᵀ = −rot) so that it
 * too is an untransposed 2-D product, the form tfjs-backend-wasm runs fast. A fused op: on webgpu
 * both directions are one shader each (backend/webgpu-ops.ts), which swaps partners by index.
 */
export const applyRotary = fusedOp('rotary', (x: tf.Tensor, tables: RotaryTables): tf.Tensor => {
  const d = x.shape[x.rank - 1]!;
  const swap = (t: tf.Tensor, rot: tf.Tensor): tf.Tensor => tf.reshape(tf.matMul(tf.reshape(t, [-1, d]), rot as tf.Tensor2D), t.shape);
  const rotate = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const [input, save] = args as [tf.Tensor, tf.GradSaveFunc];
    save([tables.cos, tables.sin, tables.rot]);
    return {
      value: tf.add(tf.mul(input, tables.cos), tf.mul(swap(input, tables.rot), tables.sin)),
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const [cos, sin, rot] = saved as [tf.Tensor, tf.Tensor, tf.Tensor];
        return tf.sub(tf.mul(dy, cos), swap(tf.mul(dy, sin), rot));
      },
    };
  });
  return rotate(x);
});

/** rope(x) for x [..., T, d] at positions offset … offset + T − 1 (§3.2). */
export function rope(x: tf.Tensor, config: RopeConfig, offset = 0): tf.Tensor {
  return applyRotary(x, ropeTables(config, x.shape[x.rank - 1]!, x.shape[x.rank - 2]!, offset));
}
