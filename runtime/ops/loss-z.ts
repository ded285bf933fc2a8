/**
 * `loss.z` (specs/ir.md §4.12), the ST-MoE router z-loss:
 * L = coef · mean over positions of lse(router_logits[p, :])², with a stable logsumexp (fp32).
 * Logits [..., E]; every position counts. Differentiable w.r.t. the logits (the row max inside
 * the logsumexp is held constant, which leaves value and gradient unchanged; see moe-common.ts).
 */
import { tf } from '../tf.js';
import { readAttrs } from '../../ir/attrs.js';
import type { Kernel } from './kernel.js';
import { expectDtype, logSumExpRows } from './moe-common.js';

export const lossZ: Kernel = ({ inputs, attrs }) => {
  const { coef } = readAttrs('loss.z', attrs);
  if (inputs.length !== 1) throw new Error('loss.z takes the router logits');
  const logits = inputs[0]!;
  expectDtype(logits, 'float32', 'router_logits');
  if (logits.rank < 1) throw new Error('router_logits must have an expert axis');
  const E = logits.shape[logits.rank - 1]!;
  const N = logits.size / E;
  return [
    tf.tidy(() => {
      const lse = logSumExpRows(tf.reshape(logits, [N, E]));
      return tf.mul(tf.mean(tf.square(lse)), coef);
    }),
  ];
};
