/**
 * The router bias update between optimizer steps (specs/ir.md §5, DeepSeek-V3 §2.1.2):
 *
 *   b[e] ← b[e] + γ · sign(mean_j c[j] − c[e]),   sign(0) = 0
 *
 * where c is the node's `load` output summed over every evaluation of the step (the trainer sums
 * micro-batches and replicas before calling this). Not a gradient step: no optimizer state, no
 * decay, no clipping. Computed on the device as sign(Σ_j c[j] − E·c[e]) (the same sign, without a
 * division), which is exact while the loads are integers below 2^24.
 */
import { tf } from '../tf.js';

/** Returns the new bias (a fresh tensor; the inputs are not disposed). `rate` may be a scalar tensor (a captured step graph's input). */
export function updateRouterBias(bias: tf.Tensor, load: tf.Tensor, rate: number | tf.Scalar): tf.Tensor {
  if (bias.rank !== 1 || load.rank !== 1 || bias.shape[0] !== load.shape[0]) {
    throw new Error(`bias and load must both be [experts], got [${bias.shape.join(', ')}] and [${load.shape.join(', ')}]`);
  }
  if (typeof rate === 'number' && !Number.isFinite(rate)) throw new Error(`bias_rate must be a finite number, got ${rate}`);
  const experts = bias.shape[0]!;
  return tf.tidy(() => {
    const c = tf.cast(load, 'float32');
    const direction = tf.sign(tf.sub(tf.sum(c), tf.mul(c, experts)));
    return tf.add(bias, tf.mul(direction, rate));
  });
}
