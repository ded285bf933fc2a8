/**
 * The routers' expert selection on webgpu as one shader: biased scores, the group limit and the
 * top-k, one thread per token. Written as tfjs ops (runtime/ops/moe-router.ts) the selection is
 * about 40 dispatches a router (TopK alone is a bitonic sort of several passes, twice with a group
 * limit); a decoding step of a 0.5B model spent a third of its ~1,200 dispatches there, each a
 * fixed cost on the host and the GPU however small its work.
 *
 * The same rules as the tfjs path, in the same float32 arithmetic: u = s + b; a group's score is the
 * sum of its two best u (or its best, `max`); a group is kept when fewer than `topGroups` groups beat
 * it (a higher score, or an equal score and a smaller index); the top-k experts of the kept groups
 * by u, in descending order, ties to the smaller index.
 */
import { tf } from '../tf.js';

export interface RouterSelection {
  readonly experts: number;
  readonly topK: number;
  readonly groups: number;
  readonly topGroups: number;
  readonly groupScore: 'top2_sum' | 'max';
}

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
  if (tf.getKernel(KERNEL, 'webgpu')) return;
  tf.registerKernel({
    kernelName: KERNEL,
    backendName: 'webgpu',
    kernelFunc: ({ inputs, backend, attrs }) => {
      const s = attrs as unknown as RouterSelection;
      const scores = inputs['scores']!;
      const bias = inputs['bias'];
      const N = scores.shape[0]!;
      const program = {
        variableNames: bias ? ['U', 'B'] : ['U'],
        outputShape: [N, s.topK],
        shaderKey: `moe_router_select_${s.experts}_${s.topK}_${s.groups}_${s.topGroups}_${s.groupScore}_${bias ? 'b' : ''}`,
        // not flat (main() takes no index); the tokens spread over x and y past the 65,535 limit
        dispatchLayout: { x: [1], y: [0] },
        dispatch: [Math.min(N, 32768), Math.ceil(N / 32768), 1],
        workgroupSize: [THREADS, 1, 1],
        size: true,
        getUserCode: () => selectionSource(s, bias !== undefined),
      };
      const runner = backend as unknown as { runWebGPUProgram(p: object, inputs: tf.TensorInfo[], dtype: 'int32'): tf.TensorInfo };
      return runner.runWebGPUProgram(program, bias ? [scores, bias] : [scores], 'int32');
    },
  });
}

/**
 * The selected experts [N, K] int32 of scores [N, E] (plus `bias` [E]) on webgpu. No gradient:
 * call it off the tape (moe-common.ts `detached`).
 */
export function selectExperts(scores: tf.Tensor2D, bias: tf.Tensor1D | undefined, selection: RouterSelection): tf.Tensor2D {
  registerSelection();
  const inputs: Record<string, tf.Tensor> = { scores };
  if (bias) inputs['bias'] = bias;
  // tfjs's attribute map holds plain values; RouterSelection is one
  return tf.engine().runKernel(KERNEL, inputs, selection as unknown as tf.NamedAttrMap) as tf.Tensor2D;
}
