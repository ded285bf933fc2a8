/**
 * `moe.shared_gate` (specs/ir.md §4.16): y · σ(x · wᵀ), w [1, D] — Qwen2-MoE's gate on the shared
 * experts' output, one scalar per token from the MoE layer's input.
 */
import { tf } from '../tf.js';
import type { Kernel } from './kernel.js';
import { onlyParam, projectT } from './linear.js';

export const moeSharedGate: Kernel = ({ inputs, params }) => {
  const [x, y] = inputs as [tf.Tensor, tf.Tensor];
  return [tf.mul(y, tf.sigmoid(projectT(x, onlyParam(params, 'moe.shared_gate'))))];
};
