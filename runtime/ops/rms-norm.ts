/**
 * `rms_norm` (specs/ir.md §3.1, §4.2): w · x / sqrt(mean(x²) + eps) over the last axis, in fp32.
 * `rmsnorm` is shared with the two inner norms of `attention.mla`.
 */
import { readAttrs } from '../../ir/attrs.js';
import { tf } from '../tf.js';
import { fusedOp } from '../backend/registry.js';
import type { Kernel } from './kernel.js';
import { onlyParam } from './linear.js';

/**
 * The order of HF DeepseekV3RMSNorm: normalise with rsqrt, then scale by the weight. A fused op:
 * a backend may run it as its own kernels (webgpu: one shader each way, backend/webgpu-ops.ts).
 */
export const rmsnorm = fusedOp('rms_norm', (x: tf.Tensor, w: tf.Tensor, eps: number): tf.Tensor => {
  const meanSquare = tf.mean(tf.square(x), -1, true);
  return tf.mul(w, tf.mul(x, tf.rsqrt(tf.add(meanSquare, eps))));
});

export const rmsNorm: Kernel = ({ inputs, params, attrs }) => [rmsnorm(inputs[0]!, onlyParam(params, 'rms_norm'), readAttrs('rms_norm', attrs).eps)];
