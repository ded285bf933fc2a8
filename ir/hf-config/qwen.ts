/**
 * qwen2_moe (GQA, q/k/v biases, a gated shared expert, sliding windows by layer) and qwen3_moe
 * (GQA with a per-head q/k norm, no shared expert): dense layers are `mlp_only_layers`.
 */
import { uniformDense, type GqaAttention, type ModelStructure, type MoeFfn } from '../structure.js';
import { fail, first, mtp, noWindow } from './common.js';
import { auxCoef, gqaFields, headDimIsDefault, noBias, noShared, notSoftmaxRouter, type Windows } from './gqa.js';
import type { HfConfigResult, JsonValue } from './types.js';

/** The dense layers a Qwen config names, and the one hidden size they share. */
export type QwenDense = { only: number[]; hidden: number | null };

/** Qwen's dense layers (mlp_only_layers) and their one hidden size. */
export function qwenDense(s: ModelStructure): QwenDense | string {
  const dense = uniformDense(s.layers);
  if (!dense.ok) return dense.reason;
  return { only: s.layers.filter((l) => l.ffn.kind === 'dense').map((l) => l.index), hidden: dense.hidden };
}

function qwenMoeFields(moe: MoeFfn, dense: QwenDense): { [k: string]: JsonValue } {
  return {
    intermediate_size: dense.hidden ?? moe.hidden,
    moe_intermediate_size: moe.hidden,
    num_experts_per_tok: moe.topK,
    norm_topk_prob: moe.normalize,
    decoder_sparse_step: 1,
    mlp_only_layers: dense.only,
    router_aux_loss_coef: auxCoef(moe),
    output_router_logits: false,
  };
}

export function notQwen2(s: ModelStructure, a: GqaAttention, moe: MoeFfn): string | undefined {
  return first(
    notSoftmaxRouter(moe),
    mtp(s, 'qwen2_moe'),
    headDimIsDefault(s, a, 'qwen2_moe'),
    moe.shared === 0 ? '`shared = 0`: HF\'s qwen2_moe always has a gated shared expert' : undefined,
    moe.sharedGate ? undefined : `\`shared = ${moe.shared}\` without \`shared_gate = true\`: HF's qwen2_moe gates its shared expert by σ(x·w)`,
  );
}

export function qwen2Moe(s: ModelStructure, a: GqaAttention, moe: MoeFfn, dense: QwenDense, w: Windows): HfConfigResult {
  const sliding = w.sizes.flatMap((x, i) => (x === null ? [] : [i]));
  return {
    ok: true,
    config: {
      architectures: ['Qwen2MoeForCausalLM'],
      model_type: 'qwen2_moe',
      ...gqaFields(s, a),
      ...qwenMoeFields(moe, dense),
      num_experts: moe.experts,
      shared_expert_intermediate_size: moe.sharedHidden,
      // always on: a model without biases is exported with zero ones (interop/hf/export.ts)
      qkv_bias: true,
      use_sliding_window: w.size !== null,
      sliding_window: w.size,
      max_window_layers: sliding[0] ?? s.layers.length,
      layer_types: w.sizes.map((x) => (x === null ? 'full_attention' : 'sliding_attention')),
    },
  };
}

export function qwen3Moe(s: ModelStructure, a: GqaAttention, moe: MoeFfn, dense: QwenDense): HfConfigResult {
  const why = first(noWindow(s, 'qwen3_moe'), noBias(s.layers[0]!.features, 'qwen3_moe'), noShared(moe, 'qwen3_moe'), notSoftmaxRouter(moe), mtp(s, 'qwen3_moe'));
  if (why) return fail(why);
  return {
    ok: true,
    config: {
      architectures: ['Qwen3MoeForCausalLM'],
      model_type: 'qwen3_moe',
      ...gqaFields(s, a),
      ...qwenMoeFields(moe, dense),
      head_dim: a.headDim,
      // transformers 5 names it num_local_experts, earlier versions num_experts: both, equal
      num_experts: moe.experts,
      num_local_experts: moe.experts,
      attention_bias: false,
      use_sliding_window: false,
      sliding_window: null,
    },
  };
}
