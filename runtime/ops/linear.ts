/**
 * `linear` (specs/ir.md §4.3): y = x · Wᵀ with W stored [out, in] (PyTorch nn.Linear), no bias.
 * `projectT` is shared by every op that applies a weight (heads, FFNs, attention projections).
 */
import { tf } from '../tf.js';
import { fusedOp } from '../backend/registry.js';
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

/**
 * Transposed weights kept across calls while the weights are frozen (cached decoding): a decode
 * step projects one token per row, so transposing W on every call would cost as much as the
 * product itself, and no gradient is taken. Set only for the duration of a synchronous step.
 */
let frozen: Map<tf.Tensor, tf.Tensor> | undefined;

/**
 * Runs `fn` (synchronous) with projections reading Wᵀ from `cache`, filled on first use; the
 * caller owns the cache's tensors (kept, outside any tidy scope) and disposes them.
 */
export function withFrozenWeights<T>(cache: Map<tf.Tensor, tf.Tensor>, fn: () => T): T {
  const previous = frozen;
  frozen = cache;
  try {
    return fn();
  } finally {
    frozen = previous;
  }
}

function frozenTranspose(w: tf.Tensor, cache: Map<tf.Tensor, tf.Tensor>): tf.Tensor {
  let t = cache.get(w);
  if (!t) {
    t = tf.keep(tf.transpose(w));
    cache.set(w, t);
  }
  return t;
}

/**
 * rows [N, in] · Wᵀ, a fused op: generically the untransposed products above (or the frozen Wᵀ).
 * On webgpu W is read as stored (backend/webgpu-ops.ts: a transposed operand costs our matmul
 * kernels nothing, a transposed copy is a dispatch and a buffer per weight and step).
 */
export const productT = fusedOp('linear.product', (rows: tf.Tensor2D, w: tf.Tensor2D): tf.Tensor =>
  frozen ? tf.matMul(rows, frozenTranspose(w, frozen) as tf.Tensor2D) : matMulT(rows, w),
);

/** x[…, in] · Wᵀ for W [out, in]: the lead axes flattened into one 2-D product (productT). */
export function projectT(x: tf.Tensor, w: tf.Tensor): tf.Tensor {
  const inDim = x.shape[x.rank - 1]!;
  if (w.rank !== 2 || w.shape[1] !== inDim) {
    throw new Error(`weight [${w.shape.join(', ')}] does not apply to an input of width ${inDim}`);
  }
  const y = productT(tf.reshape(x, [-1, inDim]) as tf.Tensor2D, w as tf.Tensor2D);
  return tf.reshape(y, [...x.shape.slice(0, -1), w.shape[0]!]);
}

/** The one tensor an op with a single parameter reads (the verifier does not count parameters). */
export function onlyParam(params: readonly tf.Tensor[], what: string): tf.Tensor {
  if (params.length !== 1) throw new Error(`${what} takes 1 parameter, found ${params.length}`);
  return params[0]!;
}

export const linear: Kernel = ({ inputs, params }) => [projectT(inputs[0]!, onlyParam(params, 'linear'))];
