/**
 * `loss.cross_entropy` (specs/ir.md §4.14). Position t (t < T − shift) predicts ids[t + shift] with
 * weight mask[t + shift]; L = Σ w·ℓ / Σ w over those positions, and 0 when Σ w = 0.
 * ℓ = −log_softmax(logits)[target], from tf.logSoftmax (max-shifted, with its own stable gradient).
 */
import { tf } from '../tf.js';
import { readAttrs } from '../../ir/attrs.js';
import type { Kernel } from './kernel.js';

export const crossEntropy: Kernel = ({ inputs, attrs }) => {
  const [logits, ids, mask] = inputs as [tf.Tensor, tf.Tensor, tf.Tensor];
  const { shift } = readAttrs('loss.cross_entropy', attrs);
  if (logits.rank !== 3) throw new Error(`logits must be [B, T, V], found [${logits.shape.join(', ')}]`);
  if (ids.dtype !== 'int32') throw new Error(`ids must be int32, found ${ids.dtype}`);
  const [batch, time, vocab] = logits.shape as [number, number, number];
  // no counted position: the spec's L = 0 (empty denominator)
  if (shift >= time) return [tf.scalar(0)];
  const counted = time - shift;
  // targets and weights aligned with the predicting position (small [B, T] tensors); the last `shift`
  // positions get weight 0, so the logits are used whole, never sliced
  const targets = tf.concat([tf.slice(ids, [0, shift], [batch, counted]), tf.zeros([batch, shift], 'int32')], 1);
  const weights = tf.reshape(tf.concat([tf.slice(mask, [0, shift], [batch, counted]), tf.zeros([batch, shift])], 1), [batch * time]);
  const logProbs = tf.logSoftmax(tf.reshape(logits, [batch * time, vocab]));
  // picking log p[target] with a one-hot product rather than a gather: gather's gradient
  // (UnsortedSegmentSum) is O(segments × size) on tfjs-backend-cpu and missing on wasm. The one-hot
  // is made int32 and cast: tfjs-backend-wasm 4.22 fills a float32 oneHot with int bit patterns
  const oneHot = tf.cast(tf.oneHot(tf.reshape(targets, [batch * time]), vocab), 'float32');
  const losses = tf.neg(tf.sum(tf.mul(logProbs, oneHot), -1));
  const total = tf.sum(tf.mul(weights, losses));
  const denominator = tf.sum(weights);
  // divide by 1 instead of 0 when nothing counts (the numerator is then 0): no NaN in the value or the
  // gradient. step(·) rather than where(greater(·)): comparisons have no gradient and the mask may be differentiated
  const safe = tf.add(denominator, tf.sub(1, tf.step(denominator)));
  return [tf.div(total, safe)];
};
