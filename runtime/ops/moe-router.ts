/**
 * `moe.router` (specs/ir.md §4.9): router logits, unbiased scores, selection (bias and group limit
 * affect it only), top-k indices, weights gathered from the unbiased scores, and per-expert load.
 *
 * Everything stays on the device and in fp32; there is no per-token or per-expert JavaScript loop.
 * The selection (`u`, group mask, top-k) is computed off the gradient tape (`detached`): indices,
 * load and the selection carry no gradient, the bias gets none. Gradients reach x and W through
 * `weights` (the scores at the indices, then the normalisation), `scores` and `router_logits`.
 * Reductions, row scalings and the softmax are matmul-based (see moe-common.ts: tfjs-backend-cpu's
 * size-1-axis broadcasts, which every reduction's gradient uses, are slow).
 *
 * Ties: tf.topk orders equal values by the smaller index on the cpu backend (tfjs-backend-cpu's
 * comparator), which is the spec's tie rule for both the group and the expert selection. The
 * selection, the weights and the load are fused ops: on webgpu each is one shader with the same
 * rules (backend/webgpu-router.ts) instead of ~40 ops.
 */
import { tf } from '../tf.js';
import { fusedOp } from '../backend/registry.js';
import { readAttrs } from '../../ir/attrs.js';
import type { Kernel } from './kernel.js';
import { detached, expectDtype, rowScale, rowSum, sameShape, shapeText, size, softmaxRows } from './moe-common.js';

export const moeRouter: Kernel = ({ inputs, params, state, attrs }) => {
  const { experts: E, top_k: K, score, groups: G, top_groups: Gk, normalize, scale, group_score: groupScore } = readAttrs('moe.router', attrs);
  if (K > E) throw new Error(`top_k ${K} exceeds experts ${E}`);
  if (E % G !== 0) throw new Error(`groups ${G} must divide experts ${E}`);
  if (Gk > G) throw new Error(`top_groups ${Gk} exceeds groups ${G}`);
  const n = E / G;
  if (K > Gk * n) throw new Error(`top_k ${K} exceeds the ${Gk * n} experts of the ${Gk} kept groups`);

  if (inputs.length !== 1 || params.length !== 1 || state.length > 1) throw new Error('moe.router takes one input, one parameter and at most one state tensor');
  const x = inputs[0]!;
  const W = params[0]!;
  const bias = state[0];
  expectDtype(x, 'float32', 'x');
  expectDtype(W, 'float32', 'gate.weight');
  if (x.rank < 1) throw new Error('x must have a feature axis');
  const D = x.shape[x.rank - 1]!;
  if (!sameShape(W.shape, [E, D])) throw new Error(`gate.weight must be ${shapeText([E, D])}, got ${shapeText(W.shape)}`);
  if (bias && (bias.dtype !== 'float32' || !sameShape(bias.shape, [E]))) {
    throw new Error(`e_score_correction_bias must be f32[${E}], got ${bias.dtype}${shapeText(bias.shape)}`);
  }
  const lead = x.shape.slice(0, -1);
  const N = size(lead);

  return tf.tidy(() => {
    const logits = tf.matMul(tf.reshape(x, [N, D]), W, false, true); // [N, E]
    const scores = score === 'sigmoid' ? tf.sigmoid(logits) : softmaxRows(logits);

    // selection, off the tape: u = s + b, group limit, top-k (descending, ties to the smaller index)
    const selection = { experts: E, topK: K, groups: G, topGroups: Gk, groupScore };
    const [indices] = detached(() => [selectExperts(scores as tf.Tensor2D, bias as tf.Tensor1D | undefined, selection)]) as [tf.Tensor2D];

    // weights from the UNBIASED scores: the one-hot selection mask [N, K, E] (a constant) times the
    // scores [N, E, 1], one small matmul per token; exact, with a dense gradient (a gather's would
    // be an UnsortedSegmentSum: slow on cpu, missing on wasm)
    const weights = routerWeights(scores as tf.Tensor2D, indices, normalize, scale);

    const load = expertCounts(tf.reshape(indices, [N * K]) as tf.Tensor1D, E); // [E] f32 counts
    return [
      tf.reshape(weights, [...lead, K]),
      tf.reshape(indices, [...lead, K]),
      tf.reshape(scores, [...lead, E]),
      tf.reshape(logits, [...lead, E]),
      load,
    ];
  });
};

/** What the selection of moe.router needs besides the scores and the bias. */
export interface RouterSelection {
  readonly experts: number;
  readonly topK: number;
  readonly groups: number;
  readonly topGroups: number;
  readonly groupScore: 'top2_sum' | 'max';
}

/** The top-k experts of u = scores + bias within the top groups, descending, ties to the smaller index: [N, K] int32. */
export const selectExperts = fusedOp('moe.router.select', (scores: tf.Tensor2D, bias: tf.Tensor1D | undefined, selection: RouterSelection): tf.Tensor2D => {
  const { experts: E, topK: K, groups: G, topGroups: Gk, groupScore } = selection;
  const N = scores.shape[0];
  const n = E / G;
  let u: tf.Tensor = bias ? tf.add(scores, bias) : scores;
  if (Gk < G) {
    const grouped = tf.reshape(u, [N, G, n]);
    const groupScores = groupScore === 'max' ? tf.max(grouped, -1) : tf.sum(tf.topk(grouped, Math.min(2, n)).values, -1); // [N, G]
    // a group is kept when fewer than G' groups beat it (a higher score, or an equal score and
    // a smaller index): the top-G' groups with ties to the smaller index, computed with float
    // comparisons and a last-axis sum (a one-hot of topk indices summed over its middle axis
    // makes tfjs-backend-webgpu emit an invalid int32 transpose shader)
    const own = tf.expandDims(groupScores, 2); // [N, G, 1]: group g
    const other = tf.expandDims(groupScores, 1); // [N, 1, G]: group g'
    const index = tf.range(0, G, 1, 'int32');
    const earlier = tf.expandDims(tf.greater(tf.expandDims(index, 1), tf.expandDims(index, 0)), 0); // [1, G, G]: g' < g
    const beats = tf.logicalOr(tf.greater(other, own), tf.logicalAnd(tf.equal(other, own), earlier));
    const keep = tf.less(tf.sum(tf.cast(beats, 'float32'), 2), Gk); // [N, G]
    const keepExperts = tf.reshape(tf.tile(tf.expandDims(tf.cast(keep, 'float32'), 2), [1, 1, n]), [N, E]);
    u = tf.where(tf.greater(keepExperts, 0), u, tf.fill([N, E], -Infinity));
  }
  return tf.topk(u, K).indices as tf.Tensor2D; // [N, K] int32
});

/** The routing weights [N, K]: the unbiased scores at the indices, normalised and scaled. */
export const routerWeights = fusedOp('moe.router.weights', (scores: tf.Tensor2D, indices: tf.Tensor2D, normalize: boolean, scale: number): tf.Tensor2D => {
  const [N, E] = scores.shape;
  const K = indices.shape[1];
  const mask = tf.cast(tf.oneHot(indices, E), 'float32'); // (tfjs-backend-wasm's float32 oneHot writes int bits)
  let weights = tf.reshape(tf.matMul(mask, tf.expandDims(scores, 2)), [N, K]);
  if (normalize) weights = rowScale(weights, tf.reciprocal(tf.add(rowSum(weights), 1e-20)));
  if (scale !== 1) weights = tf.mul(weights, scale);
  return weights as tf.Tensor2D;
});

/** How many of the indices name each of E experts, as float32. */
export const expertCounts = fusedOp('moe.router.count', (indices: tf.Tensor1D, E: number): tf.Tensor1D => tf.bincount(indices, tf.tensor1d([], 'float32'), E));
