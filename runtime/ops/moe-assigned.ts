/**
 * The per-assignment layout of dropless `moe.experts`, for a handful of tokens (decoding): every
 * assignment (token n, its k-th expert e) is its own one-row batch, multiplied by expert e's
 * weights where they are stored. No dispatch plan (expert ranks, slots, inverse maps), no gather of
 * the tokens into expert rows and none back: a token's K rows are its own K copies and its output
 * the router-weighted sum of them. A batch-1 decoding step of a 64-expert top-6 model reads 6
 * experts' weights, not 64, in ~8 dispatches a layer, not ~45.
 *
 * The products are a fused op: on webgpu `gemm` with an expert index per batch, which runs one-row
 * products as a GEMV (backend/webgpu-ops.ts); generically the weights are gathered per assignment.
 * Either way the weight gradient of expert e is
 * the sum of its assignments' outer products dy·xᵀ, as a one-hot matmul: A·Out·In floats of
 * scratch, which is why moe-experts.ts takes this layout only while A ≤ E (at most the size of the
 * stacked weights themselves).
 */
import { tf } from '../tf.js';
import { fusedOp } from '../backend/registry.js';

/** Σ over assignments of their per-assignment gradients g [A, ...] into [E, ...] by expert (a one-hot matmul). */
function sumByExpert(g: tf.Tensor, expertOf: tf.Tensor1D, E: number): tf.Tensor {
  const A = expertOf.shape[0];
  // int32 then cast: tfjs-backend-wasm's float32 oneHot writes integer bit patterns
  const owner = tf.cast(tf.oneHot(expertOf, E), 'float32') as tf.Tensor2D;
  const flat = tf.matMul(owner, tf.reshape(g, [A, -1]) as tf.Tensor2D, true, false);
  return tf.reshape(flat, [E, ...g.shape.slice(1)]);
}

/**
 * a [A, 1, k] times its assignment's expert weights w[expertOf[a]] (transposed with `transB`), for
 * w [E, r, c]: [A, 1, r] (transB) or [A, 1, c].
 */
export const assignedProduct = fusedOp('moe.assigned.product', (a: tf.Tensor, w: tf.Tensor, expertOf: tf.Tensor1D, transB: boolean): tf.Tensor =>
  tf.matMul(a as tf.Tensor3D, tf.gather(w, expertOf) as tf.Tensor3D, false, transB),
);

/**
 * v [A, 1, In] times its assignment's expert weights transposed, w [E, Out, In] → [A, 1, Out], with
 * `expertOf` [A] int32 the expert of each assignment (off the gradient tape).
 */
export function assignedMatMul(v: tf.Tensor, w: tf.Tensor, expertOf: tf.Tensor1D): tf.Tensor {
  const E = w.shape[0]!;
  const product = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const [vv, ww, save] = args as [tf.Tensor, tf.Tensor, tf.GradSaveFunc];
    save([vv, ww, expertOf]);
    const y = assignedProduct(vv, ww, expertOf, true);
    return {
      value: y,
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const [xs, ws, experts] = saved as [tf.Tensor3D, tf.Tensor3D, tf.Tensor1D];
        // dv[a] = dy[a] · W[e(a)]: [1, Out] × [Out, In]
        const dv = assignedProduct(dy, ws, experts, false);
        // dW[e] = Σ_{a: e(a) = e} dy[a]ᵀ · v[a]: the outer products [A, Out, In], summed by expert
        const outer = tf.matMul(dy as tf.Tensor3D, xs, true, false);
        return [dv, sumByExpert(outer, experts, E)];
      },
    };
  });
  return product(v, w);
}
