/**
 * `linear` (specs/ir.md §4.3): y = x · Wᵀ with W stored [out, in] (PyTorch nn.Linear), no bias.
 * `projectT` is shared by every op that applies a weight (heads, FFNs, attention projections).
 */
import { tf } from '../tf.js';
import type { Kernel } from './kernel.js';

/**
 * a [N, in] · Wᵀ for W [out, in], forward and backward as plain 2-D products of untransposed
 * operands: tfjs-backend-wasm sends only those to XNNPACK (x·Wᵀ via transposeB, and the transposed
 * products of tf.matMul's own gradient, run 10–20× slower there). The explicit transposes are O(size),
 * small next to the O(N·in·out) products.
 */
const matMulT = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
  const [a, w, save] = args as [tf.Tensor2D, tf.Tensor2D, tf.GradSaveFunc];
  save([a, w]);
  return {
    value: tf.matMul(a, tf.transpose(w)),
    gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
      const [sa, sw] = saved as [tf.Tensor2D, tf.Tensor2D];
      // d/da = dy · W;  d/dW = dyᵀ · a
      return [tf.matMul(dy as tf.Tensor2D, sw), tf.matMul(tf.transpose(dy as tf.Tensor2D), sa)];
    },
  };
});

/** x[…, in] · Wᵀ for W [out, in]: the lead axes flattened into one 2-D product. */
export function projectT(x: tf.Tensor, w: tf.Tensor): tf.Tensor {
  const inDim = x.shape[x.rank - 1]!;
  if (w.rank !== 2 || w.shape[1] !== inDim) {
    throw new Error(`weight [${w.shape.join(', ')}] does not apply to an input of width ${inDim}`);
  }
  const y = matMulT(tf.reshape(x, [-1, inDim]), w);
  return tf.reshape(y, [...x.shape.slice(0, -1), w.shape[0]!]);
}

/** The one tensor an op with a single parameter reads (the verifier does not count parameters). */
export function onlyParam(params: readonly tf.Tensor[], what: string): tf.Tensor {
  if (params.length !== 1) throw new Error(`${what} takes 1 parameter, found ${params.length}`);
  return params[0]!;
}

export const linear: Kernel = ({ inputs, params }) => [projectT(inputs[0]!, onlyParam(params, 'linear'))];
