/**
 * Helpers shared by the MoE kernels (moe.router, moe.experts, loss.balance, loss.z): `detached`
 * (integer routing off the gradient tape), `gatherRows` (a row gather with a gather backward) and
 * matmul-based row reductions (`rowSum`, `rowScale`, `softmaxRows`, `logSumExpRows`).
 *
 * The routing decisions (top-k indices, expert slots, selection counts) are integer functions of
 * differentiable values. tfjs has no `stopGradient`, TopK and ScatterNd have no registered
 * gradient, and GatherV2 returns an int32 "gradient" for its indices; so if those integer tensors
 * sat on the gradient tape as functions of the inputs, `tf.grads` would throw. `detached` computes
 * them off the tape instead: its result is a constant to autograd, which is exactly the spec's
 * "the selection carries no gradient" (specs/ir.md §4.9).
 */
import { fusedOp } from '../backend/registry.js';
import { tf } from '../tf.js';

/**
 * Evaluates `f` off the gradient tape and returns its tensors as constants (same shapes and dtype).
 * It is a custom-gradient function with no inputs: its forward pass runs at kernel depth (tfjs
 * records nothing inside), and a tape node without inputs is never on a path from a
 * differentiated tensor. All outputs must share one dtype (they travel packed in one tensor).
 */
export function detached(f: () => tf.Tensor[]): tf.Tensor[] {
  let shapes: number[][] = [];
  const packed = tf.customGrad(() => {
    const outs = f();
    if (outs.length === 0) throw new Error('detached: nothing to compute');
    const dtype = outs[0]!.dtype;
    if (outs.some((o) => o.dtype !== dtype)) throw new Error('detached: outputs must share one dtype');
    shapes = outs.map((o) => o.shape);
    return { value: tf.concat(outs.map((o) => tf.reshape(o, [-1]))), gradFunc: () => [] };
  })();
  if (shapes.length === 1) return [tf.reshape(packed, shapes[0]!)];
  const parts = tf.split(packed, shapes.map(size));
  return parts.map((p, i) => tf.reshape(p, shapes[i]!));
}

/**
 * Σ_j a[r, j, :] for a [R, J, D] → [R, D], a fused op: webgpu reduces a middle axis by transposing
 * it last, then one workgroup per J-element row (4.7 ms for [4096, 6, 1024] on the H100), so there
 * the J slices are added instead (backend/webgpu-ops.ts), a few memory-bound passes.
 */
export const sumMiddle = fusedOp('sum.middle', (a: tf.Tensor3D): tf.Tensor => tf.sum(a, 1));

/**
 * y[i] = table[index[i]] for a table [R, D] and int32 index [M] with values in [0, R] (R reads a
 * zero row): a row gather whose gradient is again a gather, given the inverse map `inverse`
 * [R, J] (values in [0, M], M = none): d table[r] = Σ_j dy[inverse[r, j]]. The caller guarantees
 * that row r's non-pad entries of `inverse` are exactly the i with index[i] = r.
 *
 * tf.gather's own gradient is an UnsortedSegmentSum, which tfjs-backend-cpu runs as one masked
 * sum per segment (O(R · M · D), R tensor allocations) and tfjs-backend-wasm does not implement;
 * for the MoE dispatch and combine the inverse map is known, so both directions stay O(size).
 */
export function gatherRows(table: tf.Tensor, index: tf.Tensor, inverse: tf.Tensor): tf.Tensor {
  const [R, D] = table.shape as [number, number];
  const J = inverse.shape[1]!;
  const gather = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const [t, save] = args as [tf.Tensor, tf.GradSaveFunc];
    save([inverse]);
    const value = tf.gather(tf.concat([t, tf.zeros([1, D])], 0), index);
    return {
      value,
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const rows = tf.gather(tf.concat([dy, tf.zeros([1, D])], 0), tf.reshape(saved[0]!, [R * J]));
        if (J === 1) return rows;
        return sumMiddle(tf.reshape(rows, [R, J, D]) as tf.Tensor3D);
      },
    };
  });
  return gather(table);
}

/*
 * Row reductions and row scalings as (batched) matmuls. On tfjs-backend-cpu a binary op whose
 * operand has a size-1 axis to broadcast ([N, M] · [N, 1]) takes a slow per-element index path
 * (about 10× a same-shape op), and the gradient of every reduction is such a broadcast; matmuls
 * avoid both in the forward and the backward pass. Broadcasting over missing leading axes
 * ([N, M] + [M]) is fast and used freely.
 */

/** Σ_j a[n, j] for a [N, M] → [N]. */
export function rowSum(a: tf.Tensor): tf.Tensor {
  const [N, M] = a.shape as [number, number];
  return tf.reshape(tf.matMul(a as tf.Tensor2D, tf.ones([M, 1])), [N]);
}

/** a[n, j] · r[n] for a [N, M] and r [N] → [N, M]. */
export function rowScale(a: tf.Tensor, r: tf.Tensor): tf.Tensor {
  const [N, M] = a.shape as [number, number];
  return tf.reshape(tf.matMul(tf.reshape(a, [N, M, 1]) as tf.Tensor3D, tf.reshape(r, [N, 1, 1]) as tf.Tensor3D), [N, M]);
}

/** z − m[n] for z [N, M] and the row max m held constant (spread by an outer product). */
function shiftedByRowMax(z: tf.Tensor): { shifted: tf.Tensor; max: tf.Tensor } {
  const [N, M] = z.shape as [number, number];
  const [max] = detached(() => [tf.max(z, -1)]);
  return { shifted: tf.sub(z, tf.matMul(tf.reshape(max!, [N, 1]) as tf.Tensor2D, tf.ones([1, M]))), max: max! };
}

/**
 * softmax over the last axis of z [N, M], stable. The row max is held constant: it cancels in the
 * value and in the gradient. About twice as fast as tf.softmax forward and backward on
 * tfjs-backend-cpu; equal to fp32 rounding.
 */
export function softmaxRows(z: tf.Tensor): tf.Tensor {
  const e = tf.exp(shiftedByRowMax(z).shifted);
  return rowScale(e, tf.reciprocal(rowSum(e)));
}

/** lse(z[n, :]) = m + log Σ_j exp(z[n, j] − m) for z [N, M] → [N], stable (m = the row max, constant). */
export function logSumExpRows(z: tf.Tensor): tf.Tensor {
  const { shifted, max } = shiftedByRowMax(z);
  return tf.add(tf.log(rowSum(tf.exp(shifted))), max);
}

export function size(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

export function expectDtype(t: tf.Tensor, dtype: tf.DataType, what: string): void {
  if (t.dtype !== dtype) throw new Error(`${what} must be ${dtype}, got ${t.dtype}`);
}

export function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

export function shapeText(shape: readonly number[]): string {
  return `[${shape.join(', ')}]`;
}
