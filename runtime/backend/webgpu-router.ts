/**
 * The router on webgpu as three shaders: the expert selection (biased scores, the group limit and
 * the top-k, one workgroup per token), the routing weights (with their gradient) and the per-expert
 * load. Written as tfjs ops (runtime/ops/moe-router.ts) the router is about 50 dispatches (TopK
 * alone is a bitonic sort of several passes, twice with a group limit); a decoding step of a 0.5B
 * model spent 350 of its ~1,200 dispatches there, each a fixed cost on the host and the GPU however
 * small its work.
 *
 * The selection follows the rules of the tfjs path, in the same float32 arithmetic: u = s + b; a
 * group's score is the sum of its two best u (or its best, `max`); a group is kept when fewer than
 * `topGroups` groups beat it (a higher score, or an equal score and a smaller index); the top-k
 * experts of the kept groups by u, in descending order, ties to the smaller index.
 */
import { tf } from '../tf.js';
import type { RouterSelection } from '../ops/moe-router.js';
import { flatProgram, registerProgram, runProgram, wgslFloat } from './webgpu-internals.js';


const KERNEL = 'MoeRouterSelect';

/** Threads per workgroup: one workgroup per token, the experts spread over its threads. */
const THREADS = 64;

/**
 * The WGSL for the selection, one workgroup per token: the row of u (scores plus bias) goes into
 * workgroup memory; each group's score, then whether it is kept, one thread per group; then each
 * kept expert's rank among the kept experts (those with a higher u, or an equal u and a smaller
 * index, come first), one thread per expert, and the experts ranked below K write themselves to
 * their rank's slot. Every step is a few reads of workgroup memory per thread: a single thread
 * walking the row in storage (the first version) took ~200 µs a token on the H100.
 */
function selectionSource(s: RouterSelection, biased: boolean): string {
  const { experts: E, topK: K, groups: G, topGroups: Gk } = s;
  const n = E / G;
  const groupScore =
    s.groupScore === 'max' || n === 1
      ? `var best = u[first];
            for (var j = 1; j < ${n}; j++) { best = max(best, u[first + j]); }
            score[g] = best;`
      : `var best1 = u[first];
            var best2 = u[first + 1];
            if (best2 > best1) { let swap = best1; best1 = best2; best2 = swap; }
            for (var j = 2; j < ${n}; j++) {
              let v = u[first + j];
              if (v > best1) { best2 = best1; best1 = v; } else if (v > best2) { best2 = v; }
            }
            score[g] = best1 + best2;`;
  const limit =
    Gk < G
      ? `for (var g = t; g < ${G}; g += ${THREADS}) {
          let first = g * ${n};
          ${groupScore}
        }
        workgroupBarrier();
        for (var g = t; g < ${G}; g += ${THREADS}) {
          var beaten = 0;
          for (var h = 0; h < ${G}; h++) {
            if (score[h] > score[g] || (score[h] == score[g] && h < g)) { beaten++; }
          }
          keep[g] = select(0u, 1u, beaten < ${Gk});
        }`
      : `for (var g = t; g < ${G}; g += ${THREADS}) { keep[g] = 1u; }`;
  return `
      var<workgroup> u : array<f32, ${E}>;
      var<workgroup> score : array<f32, ${G}>;
      var<workgroup> keep : array<u32, ${G}>;
      fn main() {
        let token = i32(workgroupId.y * numWorkgroups.x + workgroupId.x);
        // no early return: the barriers below must be reached by the whole workgroup
        let live = token < uniforms.size / ${K};
        let t = i32(localId.x);
        let base = token * ${E};
        for (var e = t; e < ${E}; e += ${THREADS}) {
          var v = 0.0;
          if (live) { v = ${biased ? 'U[base + e] + B[e]' : 'U[base + e]'}; }
          u[e] = v;
        }
        workgroupBarrier();
        ${limit}
        workgroupBarrier();
        for (var e = t; live && e < ${E}; e += ${THREADS}) {
          if (keep[e / ${n}] == 0u) { continue; }
          let v = u[e];
          var rank = 0;
          for (var f = 0; f < ${E}; f++) {
            if (keep[f / ${n}] == 1u && (u[f] > v || (u[f] == v && f < e))) { rank++; }
          }
          if (rank < ${K}) { result[token * ${K} + rank] = e; }
        }
      }`;
}

function registerSelection(): void {
  registerProgram(KERNEL, ['scores', 'bias'], (inputs, attrs) => {
    const s = attrs as unknown as RouterSelection;
    const biased = 'bias' in inputs;
    const N = inputs['scores']!.shape[0]!;
    const program = {
      variableNames: biased ? ['U', 'B'] : ['U'],
      outputShape: [N, s.topK],
      shaderKey: `moe_router_select_${s.experts}_${s.topK}_${s.groups}_${s.topGroups}_${s.groupScore}_${biased ? 'b' : ''}`,
      // not flat (main() takes no index); the tokens spread over x and y past the 65,535 limit
      dispatchLayout: { x: [1], y: [0] },
      dispatch: [Math.min(N, 32768), Math.ceil(N / 32768), 1],
      workgroupSize: [THREADS, 1, 1],
      size: true,
      getUserCode: () => selectionSource(s, biased),
    };
    return { program, dtype: 'int32' };
  });
}

/**
 * The selected experts [N, K] int32 of scores [N, E] (plus `bias` [E]) on webgpu. No gradient:
 * call it off the tape (moe-common.ts `detached`).
 */
export function selectExperts(scores: tf.Tensor2D, bias: tf.Tensor1D | undefined, selection: RouterSelection): tf.Tensor2D {
  registerSelection();
  return runProgram(KERNEL, bias ? { scores, bias } : { scores }, selection) as tf.Tensor2D;
}

// ---- the routing weights: the selected scores, normalised and scaled ----

const WEIGHTS = 'MoeRouterWeights';
const WEIGHTS_GRAD = 'MoeRouterWeightsGrad';

interface WeightsAttrs {
  readonly topK: number;
  readonly experts: number;
  readonly normalize: boolean;
  readonly scale: number;
}

/**
 * WGSL computing, for token n, `w(k)` = its k-th selected score and (normalised) `r` = 1 / (Σ_k w(k)
 * + 1e-20): the tfjs path's rowSum then reciprocal, the sum in k order.
 */
function selectedScores(a: WeightsAttrs): string {
  const { topK: K, experts: E } = a;
  return `
        let sBase = n * ${E};
        let iBase = n * ${K};
        var total = 0.0;
        for (var j = 0; j < ${K}; j++) { total += f32(S[sBase + I[iBase + j]]); }
        let r = ${a.normalize ? '1.0 / (total + 1e-20)' : '1.0'};`;
}

function registerWeights(): void {
  // out[n, k] = (w(k) · r) · scale: one thread per output
  registerProgram(WEIGHTS, ['scores', 'indices'], (inputs, attrs) => {
    const a = attrs as unknown as WeightsAttrs;
    const [N] = inputs['indices']!.shape as [number, number];
    const body = `let n = index / ${a.topK};${selectedScores(a)}
          result[index] = (f32(S[sBase + I[index]]) * r) * ${wgslFloat(a.scale)};`;
    return { program: flatProgram(`moe_router_weights_${a.topK}_${a.experts}_${a.normalize}_${a.scale}`, [N, a.topK], ['S', 'I'], body) };
  });
  // ds[n, e] = Σ_{j: I[n, j] = e} c · (g_j · r − r² · Σ_k g_k · w(k)) (normalised; else c · g_j): one thread per score
  registerProgram(WEIGHTS_GRAD, ['scores', 'indices', 'dy'], (inputs, attrs) => {
    const a = attrs as unknown as WeightsAttrs;
    const [N] = inputs['indices']!.shape as [number, number];
    const c = wgslFloat(a.scale);
    const body = `let n = index / ${a.experts};
          let e = index % ${a.experts};${selectedScores(a)}
          var dot = 0.0;
          for (var k = 0; k < ${a.topK}; k++) { dot += f32(G[iBase + k]) * f32(S[sBase + I[iBase + k]]); }
          var d = 0.0;
          for (var j = 0; j < ${a.topK}; j++) {
            if (I[iBase + j] == e) { d += ${c} * ${a.normalize ? '(f32(G[iBase + j]) * r - r * r * dot)' : 'f32(G[iBase + j])'}; }
          }
          result[index] = d;`;
    return { program: flatProgram(`moe_router_weights_grad_${a.topK}_${a.experts}_${a.normalize}_${a.scale}`, [N, a.experts], ['S', 'I', 'G'], body) };
  });
}

/**
 * The routing weights on webgpu, one shader each way instead of ~8 ops: w[n, k] = s[n, I[n, k]],
 * normalised over k (w / (Σ_k w + 1e-20)) when asked, times `scale`; the gradient flows to the
 * scores (the indices are constants).
 */
export function routerWeights(scores: tf.Tensor2D, indices: tf.Tensor2D, normalize: boolean, scale: number): tf.Tensor2D {
  registerWeights();
  const attrs: WeightsAttrs = { topK: indices.shape[1], experts: scores.shape[1], normalize, scale };
  const weights = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const [s, save] = args as [tf.Tensor, tf.GradSaveFunc];
    save([s]);
    return {
      value: runProgram(WEIGHTS, { scores: s, indices }, attrs),
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => runProgram(WEIGHTS_GRAD, { scores: saved[0]!, indices, dy }, attrs),
    };
  });
  return weights(scores) as tf.Tensor2D;
}

// ---- the load: how many selections each expert got ----

const COUNTS = 'MoeExpertCounts';
const COUNT_THREADS = 256;

function registerCounts(): void {
  registerProgram(COUNTS, ['indices'], (inputs, attrs) => {
    const E = (attrs as { experts: number }).experts;
    const A = inputs['indices']!.shape[0]!;
    // one workgroup per expert: its threads stride the indices, then a workgroup tree (exact: integers in f32 below 2^24)
    const program = {
      variableNames: ['I'],
      // [1, E] and a layout over both axes: not flat, so tfjs calls main() without a global index
      outputShape: [1, E],
      shaderKey: 'moe_expert_counts',
      dispatchLayout: { x: [1], y: [0] },
      dispatch: [E, 1, 1],
      workgroupSize: [COUNT_THREADS, 1, 1],
      uniforms: 'assignments : i32,',
      getUserCode: () => `
      var<workgroup> partial : array<f32, ${COUNT_THREADS}>;
      fn main() {
        let e = i32(workgroupId.x);
        let t = i32(localId.x);
        var c = 0.0;
        for (var a = t; a < uniforms.assignments; a += ${COUNT_THREADS}) { c += select(0.0, 1.0, I[a] == e); }
        partial[t] = c;
        workgroupBarrier();
        for (var stride = ${COUNT_THREADS / 2}; stride > 0; stride >>= 1) {
          if (t < stride) { partial[t] += partial[t + stride]; }
          workgroupBarrier();
        }
        if (t == 0) { result[e] = partial[0]; }
      }`,
    };
    return { program, uniforms: [A] };
  });
}

/**
 * How many of the int32 `indices` [A] name each of E experts, as float32 [E], in one shader (a
 * one-hot summed over A was three dispatches and an [A, E] buffer; tfjs's Bincount serializes on
 * atomics when routed tokens crowd onto a few experts).
 */
export function countExperts(indices: tf.Tensor1D, experts: number): tf.Tensor1D {
  registerCounts();
  return tf.reshape(runProgram(COUNTS, { indices }, { experts }), [experts]);
}
