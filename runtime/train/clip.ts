/**
 * Global gradient-norm clipping as PyTorch's `clip_grad_norm_` (norm_type 2): the L2 norm over
 * every gradient element together, and one factor for all of them,
 *
 *   scale = min(1, max_norm / (norm + 1e-6)),      max_norm = 0 turns clipping off (scale 1).
 *
 * The norm is returned before clipping, for the metrics. The pieces are split so a training step
 * can put the squared norm into its single device-to-host read and hand the factor to AdamW as a
 * gradient multiplier (no clipped copies of the gradients); `clipGradients` is the whole thing in
 * one call for code that wants clipped tensors.
 */
import { tf } from '../tf.js';

/**
 * t as [rows, cols] with many rows, for reductions in two stages: tfjs-backend-webgpu reduces each
 * output element in one workgroup, so a whole-tensor reduction of a 67M-element expert gradient ran
 * on one of the H100's 132 SMs (15 ms per Sum; the gradient norm and finiteness checks of a 0.5B
 * step took longer than its forward and backward pass). Rows first, then the row results.
 */
export function asRows(t: tf.Tensor): tf.Tensor2D {
  const n = t.size;
  const cols = n % 1024 === 0 ? 1024 : t.rank >= 2 ? t.shape[t.rank - 1]! : n;
  return tf.reshape(t, [n / cols, cols]);
}

/** Σ g² over every element of every gradient, as a device scalar (call inside a tidy). */
export function gradNormSquared(grads: Iterable<tf.Tensor>): tf.Scalar {
  // per-tensor sums first (rows, then the tensor), then a sum of n scalars
  const parts = [...grads].map((g) => tf.sum(tf.sum(tf.square(asRows(g)), 1)));
  return parts.length === 0 ? tf.scalar(0) : (tf.addN(parts) as tf.Scalar);
}

/** The factor every gradient is multiplied by; 1 when clipping is off or the norm is within bounds. */
export function clipScale(norm: number, maxNorm: number): number {
  if (!(maxNorm >= 0)) throw new RangeError(`max_norm must be ≥ 0, got ${maxNorm}`);
  if (maxNorm === 0) return 1;
  return Math.min(1, maxNorm / (norm + 1e-6));
}

/** Clipped copies of `grads` (the caller disposes them; the inputs are untouched) and the pre-clip norm. */
export async function clipGradients(grads: ReadonlyMap<string, tf.Tensor>, maxNorm: number): Promise<{ norm: number; grads: Map<string, tf.Tensor> }> {
  const sq = tf.tidy(() => gradNormSquared(grads.values()));
  const norm = Math.sqrt((await sq.data())[0]!);
  sq.dispose();
  const scale = clipScale(norm, maxNorm);
  const out = new Map<string, tf.Tensor>();
  for (const [name, g] of grads) out.set(name, tf.tidy(() => (scale === 1 ? tf.clone(g) : tf.mul(g, scale))));
  return { norm, grads: out };
}
