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
 * by u, in descending order, ties to the smaller index. The k-th pick is the best expert ordered
 * after the (k−1)-th, so no per-thread list of picked experts is needed.
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
const WORKGROUP = 64;

/** The WGSL for one token's selection (its scores from `U`, the bias from `B` when `biased`). */
function selectionSource(s: RouterSelection, biased: boolean): string {
  const { experts: E, topK: K, groups: G, topGroups: Gk } = s;
  const n = E / G;
  const u = (e: string): string => (biased ? `(U[base + ${e}] + B[${e}])` : `U[base + ${e}]`);
  const groupScore =
    s.groupScore === 'max' || n === 1
      ? `var best = ${u('first')};
            for (var j = 1; j < ${n}; j++) { best = max(best, ${u('first + j')}); }
            score[g] = best;`
      : `var best1 = ${u('first')};
            var best2 = ${u('first + 1')};
            if (best2 > best1) { let t = best1; best1 = best2; best2 = t; }
            for (var j = 2; j < ${n}; j++) {
              let v = ${u('first + j')};
              if (v > best1) { best2 = best1; best1 = v; } else if (v > best2) { best2 = v; }
            }
            score[g] = best1 + best2;`;
  const limit =
    Gk < G
      ? `var score : array<f32, ${G}>;
          for (var g = 0; g < ${G}; g++) {
            let first = g * ${n};
            ${groupScore}
          }
          for (var g = 0; g < ${G}; g++) {
            var beaten = 0;
            for (var h = 0; h < ${G}; h++) {
              if (score[h] > score[g] || (score[h] == score[g] && h < g)) { beaten++; }
            }
            keep[g] = beaten < ${Gk};
          }`
      : `for (var g = 0; g < ${G}; g++) { keep[g] = true; }`;
  return `
      fn main(index : i32) {
        let token = index;
        if (token >= uniforms.size / ${K}) { return; }
        let base = token * ${E};
        var keep : array<bool, ${G}>;
        ${limit}
        var lastValue = 0.0;
        var lastExpert = -1;
        for (var k = 0; k < ${K}; k++) {
          var bestValue = 0.0;
          var bestExpert = -1;
          for (var e = 0; e < ${E}; e++) {
            if (!keep[e / ${n}]) { continue; }
            let v = ${u('e')};
            let after = lastExpert < 0 || v < lastValue || (v == lastValue && e > lastExpert);
            if (after && (bestExpert < 0 || v > bestValue)) { bestValue = v; bestExpert = e; }
          }
          result[token * ${K} + k] = bestExpert;
          lastValue = bestValue;
          lastExpert = bestExpert;
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
        dispatchLayout: { x: [0, 1] },
        dispatch: [Math.ceil(N / WORKGROUP), 1, 1],
        workgroupSize: [WORKGROUP, 1, 1],
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
