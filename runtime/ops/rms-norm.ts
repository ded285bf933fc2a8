/**
 * `rms_norm` (specs/ir.md §3.1, §4.2): w · x / sqrt(mean(x²) + eps) over the last axis, in fp32.
 * `rmsnorm` is shared with the two inner norms of `attention.mla`.
 */
import { readAttrs } from '../../compiler/ir/attrs.js';
import { tf } from '../tf.js';
import { webgpuBackend } from '../backend/webgpu-internals.js';
import { rmsNormInputGrad, rmsNormRows } from '../backend/webgpu-fused.js';
import type { Kernel } from './kernel.js';
import { onlyParam } from './linear.js';

/**
 * The order of HF DeepseekV3RMSNorm: normalise with rsqrt, then scale by the weight. On webgpu one
 * fused shader each way (backend/webgpu-fused.ts); the weight gradient is Σ_rows dy · x̂.
 */
export function rmsnorm(x: tf.Tensor, w: tf.Tensor, eps: number): tf.Tensor {
  if (webgpuBackend() !== null) return fusedRmsnorm(x, w, eps);
  const meanSquare = tf.mean(tf.square(x), -1, true);
  return tf.mul(w, tf.mul(x, tf.rsqrt(tf.add(meanSquare, eps))));
}

function fusedRmsnorm(x: tf.Tensor, w: tf.Tensor, eps: number): tf.Tensor {
  const norm = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const [xx, ww, save] = args as [tf.Tensor, tf.Tensor, tf.GradSaveFunc];
    save([xx, ww]);
    return {
      value: rmsNormRows(xx, ww, eps),
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const [xs, ws] = saved as [tf.Tensor, tf.Tensor];
        const D = xs.shape[xs.rank - 1]!;
        const dw = tf.sum(tf.reshape(tf.mul(dy, rmsNormRows(xs, null, eps)), [-1, D]), 0);
        return [rmsNormInputGrad(xs, ws, dy, eps), dw];
      },
    };
  });
  return norm(x, w);
}

export const rmsNorm: Kernel = ({ inputs, params, attrs }) => [rmsnorm(inputs[0]!, onlyParam(params, 'rms_norm'), readAttrs('rms_norm', attrs).eps)];
