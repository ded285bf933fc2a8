/**
 * `loss.balance` (specs/ir.md §4.11): the auxiliary load-balance loss, sequence-wise (DeepSeek-V3
 * eqs. 17–20, one term per row, averaged over rows) or batch-wise (DeepSeek-V2 / Switch, one term
 * over the whole evaluation), times alpha.
 *
 *   s'[p, e] = s[p, e] / Σ_j s[p, j]   for sigmoid scores; s' = s for softmax scores (no division,
 *                                      so the gradient is the identity's, as the spec's definition)
 *   f_e(S)   = E / (K·|S|) · #{(p, k) : p ∈ S, indices[p, k] = e}     (constant: no gradient)
 *   P_e(S)   = mean_{p∈S} s'[p, e]
 *   ℓ(S)     = Σ_e f_e(S) · P_e(S)
 *
 * Shapes: scores [..., T, E] and indices [..., T, K] with equal leading shapes. A "row" of the
 * sequence loss is every index of the axes before T (for [B, T, E], the B rows); scores of rank 2
 * are one row. Differentiable w.r.t. scores; the counts are computed off the tape.
 */
import { tf } from '../tf.js';
import { readAttrs } from '../../ir/attrs.js';
import type { Kernel } from './kernel.js';
import { detached, expectDtype, rowSum, sameShape, shapeText, size } from './moe-common.js';

export const lossBalance: Kernel = ({ inputs, attrs }) => {
  const { kind, alpha, experts: E, top_k: K, score } = readAttrs('loss.balance', attrs);
  if (inputs.length !== 2) throw new Error('loss.balance takes scores and indices');
  const [scores, indices] = inputs as [tf.Tensor, tf.Tensor];
  expectDtype(scores, 'float32', 'scores');
  expectDtype(indices, 'int32', 'indices');
  if (scores.rank < 2) throw new Error(`scores must be [..., T, ${E}], got ${shapeText(scores.shape)}`);
  const lead = scores.shape.slice(0, -1);
  if (!sameShape(scores.shape, [...lead, E])) throw new Error(`scores must be ${shapeText([...lead, E])}, got ${shapeText(scores.shape)}`);
  if (!sameShape(indices.shape, [...lead, K])) throw new Error(`indices must be ${shapeText([...lead, K])}, got ${shapeText(indices.shape)}`);

  // the sets S: one per row (sequence) or one over everything (batch)
  const T = kind === 'sequence' ? lead[lead.length - 1]! : size(lead);
  const rows = size(lead) / T;

  const loss = tf.tidy(() => {
    const s = tf.reshape(scores, [rows, T, E]);
    // P[r, e] = 1/T · Σ_t c[r, t] · s[r, t, e] with c = 1/Σ_j s (sigmoid) or 1 (softmax): a batched matmul
    const c = score === 'sigmoid' ? tf.reciprocal(rowSum(tf.reshape(s, [rows * T, E]))) : tf.ones([rows * T]);
    const P = tf.reshape(tf.matMul(tf.reshape(tf.mul(c, 1 / T), [rows, 1, T]) as tf.Tensor3D, s as tf.Tensor3D), [rows, E]);
    // counts[r, e]: one 1-D bincount over rows·E bins, row r's indices offset by r·E. (A 2-D
    // denseBincount is the same count, but tfjs-backend-webgpu 4.22 indexes its 2-D input by the
    // output's shape and drops or misplaces selections: bench/NOTES.md, "webgpu correctness".)
    const [counts] = detached(() => {
      const binned = tf.add(tf.reshape(indices, [rows * T * K]), tf.tensor1d(rowOffsets(rows, T * K, E), 'int32')) as tf.Tensor1D;
      return [tf.reshape(tf.bincount(binned, tf.tensor1d([], 'float32'), rows * E), [rows, E])];
    }); // [rows, E]
    const f = tf.mul(counts!, E / (K * T));
    const perSet = rowSum(tf.mul(f, P)); // ℓ(S) for each set
    return tf.mul(tf.mean(perSet), alpha);
  });
  return [loss];
};

/** Offsets cached by shape (arrays only: a tensor would belong to whichever tidy scope made it). */
const offsets = new Map<string, Int32Array>();

/**
 * r·E for each of the `length` entries of row r, flat. Built on the host and added shape to shape:
 * an int32 [rows, length] + [rows, 1] broadcast is about 0.8 ms on tfjs-backend-cpu and -wasm at
 * [4, 1536], ten times the whole count.
 */
function rowOffsets(rows: number, length: number, experts: number): Int32Array {
  const key = `${rows}×${length}×${experts}`;
  let values = offsets.get(key);
  if (!values) {
    values = new Int32Array(rows * length);
    for (let r = 0; r < rows; r++) values.fill(r * experts, r * length, (r + 1) * length);
    // one shape per training run, a few while decoding: keep the most recent few
    if (offsets.size >= 16) offsets.delete(offsets.keys().next().value!);
    offsets.set(key, values);
  }
  return values;
}
