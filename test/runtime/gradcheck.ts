/**
 * Gradient checking for kernels: autograd gradients of a scalar projection of the kernel's outputs
 * against central finite differences, on a few coordinates of every differentiable input. tfjs
 * computes in float32, so differences use a step of about 1e-2 and the bound is a relative error
 * stated per op (typically 1e-2).
 */
import { tf } from '../../runtime/tf.js';
import { normalArray } from '../../runtime/random.js';

export async function useCpu(): Promise<void> {
  await tf.setBackend('cpu');
  await tf.ready();
}

/** A deterministic random tensor. */
export function randn(shape: number[], seed: number, std = 1): tf.Tensor {
  const n = shape.reduce((a, b) => a * b, 1);
  return tf.tensor(normalArray(n, std, seed), shape, 'float32');
}

export interface GradCheckResult {
  /** largest relative error over the checked coordinates */
  readonly maxRelativeError: number;
  readonly checked: number;
}

/**
 * `f` maps the differentiable tensors to outputs; the loss is Σ_outputs Σ (output · R) with fixed
 * random R. Checks `coordinates` entries of each input (spread over the tensor).
 */
export async function gradCheck(
  f: (xs: tf.Tensor[]) => tf.Tensor[],
  xs: tf.Tensor[],
  options: { step?: number; coordinates?: number; seed?: number } = {},
): Promise<GradCheckResult> {
  const step = options.step ?? 1e-2;
  const coordinates = options.coordinates ?? 6;
  const outputs = tf.tidy(() => f(xs));
  const projections = outputs.map((o, i) => randn(o.shape, (options.seed ?? 7) + i));
  outputs.forEach((o) => o.dispose());
  const loss = (inputs: tf.Tensor[]): tf.Scalar =>
    tf.tidy(() => {
      const outs = f(inputs);
      return outs.map((o, i) => tf.sum(tf.mul(o, projections[i]!))).reduce((a, b) => tf.add(a, b)) as tf.Scalar;
    });
  const grads = tf.grads((...inputs: tf.Tensor[]) => loss(inputs))(xs);
  let maxRelativeError = 0;
  let checked = 0;
  for (let k = 0; k < xs.length; k++) {
    const x = xs[k]!;
    const base = await x.data();
    const g = await grads[k]!.data();
    const picks = Array.from({ length: Math.min(coordinates, base.length) }, (_, i) => Math.floor(((i + 0.5) * base.length) / Math.min(coordinates, base.length)));
    for (const idx of picks) {
      const plus = Float32Array.from(base);
      const minus = Float32Array.from(base);
      plus[idx] = base[idx]! + step;
      minus[idx] = base[idx]! - step;
      const swap = (values: Float32Array): tf.Tensor[] => xs.map((t, j) => (j === k ? tf.tensor(values, t.shape, t.dtype) : t));
      const lp = loss(swap(plus));
      const lm = loss(swap(minus));
      const numeric = ((await lp.data())[0]! - (await lm.data())[0]!) / (2 * step);
      lp.dispose();
      lm.dispose();
      const analytic = g[idx]!;
      const scale = Math.max(1, Math.abs(numeric), Math.abs(analytic));
      maxRelativeError = Math.max(maxRelativeError, Math.abs(numeric - analytic) / scale);
      checked++;
    }
  }
  grads.forEach((g) => g.dispose());
  projections.forEach((p) => p.dispose());
  return { maxRelativeError, checked };
}
