/**
 * The GRPO objective (objective.ts) on per-token log-probabilities that were computed elsewhere —
 * the cuda update (runtime/cuda/grpo.ts) takes them on the device and reads back [N, T] floats —
 * with its gradient by those log-probabilities: c_t = ∂L/∂logp_t. The device then turns c_t into
 * the logits' gradient, c_t/τ · (onehot(target) − softmax(logits/τ)). Running objective.ts itself
 * (tf.grad on the host, over small [N, T] tensors) makes the cuda update optimise exactly what the
 * tfjs update does: clipping, the KL to the reference, every `loss` normalisation, micro-batches.
 */
import { tf } from '../tf.js';
import { grpoObjective, type BatchTotals, type ObjectiveSettings } from './objective.js';

export interface TokenRows {
  /** [N, T] */
  readonly mask: tf.Tensor2D;
  /** [N, 1] */
  readonly advantages: tf.Tensor2D;
  /** [N, T] */
  readonly oldLogp: tf.Tensor2D;
  /** [N, T]; absent when β = 0 */
  readonly refLogp?: tf.Tensor2D;
}

export interface TokenObjective {
  readonly loss: number;
  readonly kl: number;
  readonly clipped: number;
  /** ∂loss/∂logp [N·T], row-major */
  readonly coefficients: Float32Array;
}

/** The objective of rows `part` (a part of `whole` under micro-batches) at log-probabilities `logp` [N·T], and its gradient by them. */
export async function tokenObjective(logp: Float32Array, part: TokenRows, whole: BatchTotals, settings: ObjectiveSettings): Promise<TokenObjective> {
  const [N, T] = part.mask.shape;
  const kept: tf.Tensor[] = [];
  const packed = tf.tidy(() => {
    const logpTensor = tf.tensor2d(logp, [N, T]);
    const { value, grad } = tf.valueAndGrad((x: tf.Tensor) => {
      const values = grpoObjective(x as tf.Tensor2D, { ...part, whole }, settings);
      kept.push(tf.keep(values.kl), tf.keep(values.clipped));
      return values.loss;
    })(logpTensor);
    return tf.concat([tf.reshape(value, [1]), ...kept.map((t) => tf.reshape(t, [1])), tf.reshape(grad, [-1])]);
  });
  try {
    const host = (await packed.data()) as Float32Array;
    return { loss: host[0]!, kl: host[1]!, clipped: host[2]!, coefficients: host.slice(3) };
  } finally {
    packed.dispose();
    tf.dispose(kept);
  }
}
