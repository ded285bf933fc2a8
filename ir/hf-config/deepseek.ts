/**
 * MLA: deepseek_v3 (sigmoid routing) and deepseek_v2 (softmax routing, never renormalises; a
 * group's score is its best expert). Both want dense layers first, then uniform MoE layers.
 */
import { yarnMscale } from '../rope.js';
import { uniformDense, uniformMoe, type MlaAttention, type ModelStructure, type MoeFfn } from '../structure.js';
import { common, dropless, fail, first, mtp, noWindow } from './common.js';
import type { HfConfigResult, HfFamily, JsonValue } from './types.js';

function mlaLayers(s: ModelStructure, family: HfFamily): { firstMoe: number; moe: MoeFfn; denseHidden: number | null } | string {
  const firstMoe = s.layers.findIndex((l) => l.ffn.kind === 'moe');
  if (firstMoe < 0) return `${family} needs at least one MoE layer (all ${s.layers.length} layers of ${s.graph.name} are dense)`;
  const late = s.layers.find((l) => l.index > firstMoe && l.ffn.kind === 'dense');
  if (late) return `dense layers must be the first k layers for ${family} (layer ${late.index} is dense after MoE layers)`;
  const moeCheck = uniformMoe(s.layers);
  if (!moeCheck.ok) return moeCheck.reason;
  const denseCheck = uniformDense(s.layers);
  if (!denseCheck.ok) return denseCheck.reason;
  return { firstMoe, moe: moeCheck.moe!, denseHidden: denseCheck.hidden };
}

/** DeepSeek sizes its shared experts as n_shared_experts × moe_intermediate_size: a width between multiples has no config. */
function sharedMultiple(moe: MoeFfn, family: HfFamily): string | undefined {
  return moe.sharedHidden !== moe.shared * moe.hidden
    ? `\`shared_hidden = ${moe.sharedHidden}\`: HF's ${family} sizes its shared experts as n_shared_experts × moe_intermediate_size, and ${moe.sharedHidden} is not a multiple of ${moe.hidden}`
    : undefined;
}

function mlaFields(s: ModelStructure, attention: MlaAttention, layers: { firstMoe: number; moe: MoeFfn; denseHidden: number | null }): { [k: string]: JsonValue } {
  const { moe } = layers;
  return {
    ...common(s),
    // unused when every layer is MoE; HF still wants a number
    intermediate_size: layers.denseHidden ?? moe.hidden,
    moe_intermediate_size: moe.hidden,
    num_attention_heads: attention.heads,
    num_key_value_heads: attention.heads,
    n_shared_experts: moe.shared,
    n_routed_experts: moe.experts,
    num_experts_per_tok: moe.topK,
    routed_scaling_factor: moe.scale,
    n_group: moe.groups,
    topk_group: moe.topGroups,
    norm_topk_prob: moe.normalize,
    first_k_dense_replace: layers.firstMoe,
    aux_loss_alpha: moe.balance?.alpha ?? 0,
    seq_aux: moe.balance?.kind === 'sequence',
    q_lora_rank: attention.qRank > 0 ? attention.qRank : null,
    kv_lora_rank: attention.kvRank,
    qk_nope_head_dim: attention.nopeDim,
    qk_rope_head_dim: attention.ropeDim,
    v_head_dim: attention.vDim,
    // HF sets head_dim to the rotary part (the rotary embedding's size)
    head_dim: attention.ropeDim,
    attention_bias: false,
  };
}

function deepseekV3(s: ModelStructure, attention: MlaAttention): HfConfigResult {
  const layers = mlaLayers(s, 'deepseek_v3');
  if (typeof layers === 'string') return fail(layers);
  const { moe } = layers;
  const why = first(
    noWindow(s, 'deepseek_v3'),
    dropless(moe),
    moe.sharedGate ? '`shared_gate = true`: HF\'s DeepseekV3 has no gate on its shared experts' : undefined,
    sharedMultiple(moe, 'deepseek_v3'),
    // HF's DeepseekV3 scores a group by the sum of its top-2 (bias-corrected) scores, always
    moe.groups > 1 && moe.topGroups < moe.groups && moe.groupScore !== 'top2_sum'
      ? `\`groups = ${moe.groups}\` without \`balance = bias\`: a group is scored by its best expert here, by the sum of its top 2 in HF's DeepseekV3`
      : undefined,
  );
  if (why) return fail(why);
  return {
    ok: true,
    config: {
      architectures: ['DeepseekV3ForCausalLM'],
      model_type: 'deepseek_v3',
      ...mlaFields(s, attention, layers),
      scoring_func: 'sigmoid',
      topk_method: moe.biasRate !== null ? 'noaux_tc' : moe.groups > 1 ? 'group_limited_greedy' : 'greedy',
      moe_layer_freq: 1,
      ep_size: 1,
      rope_interleave: true,
      num_nextn_predict_layers: s.mtp.length,
    },
  };
}

function deepseekV2(s: ModelStructure, attention: MlaAttention): HfConfigResult {
  const layers = mlaLayers(s, 'deepseek_v2');
  if (typeof layers === 'string') return fail(layers);
  const { moe } = layers;
  const yarn = s.rope.scaling.kind === 'yarn' ? s.rope.scaling : null;
  const why = first(
    noWindow(s, 'deepseek_v2'),
    mtp(s, 'deepseek_v2'),
    dropless(moe),
    moe.normalize ? '`normalize = true` with `score = softmax`: HF\'s DeepseekV2 (the softmax MLA family) never renormalises the top-k weights, and its DeepseekV3 always routes by sigmoid' : undefined,
    moe.biasRate !== null ? '`balance = bias` with `score = softmax`: HF\'s DeepseekV2 has no selection bias' : undefined,
    moe.shared === 0 ? '`shared = 0`: HF\'s DeepseekV2 always adds its shared experts' : undefined,
    moe.sharedGate ? '`shared_gate = true`: HF\'s DeepseekV2 has no gate on its shared experts' : undefined,
    sharedMultiple(moe, 'deepseek_v2'),
    yarn && yarnMscale(yarn.factor, yarn.mscaleAllDim) !== 1
      ? `\`mscale_all_dim = ${yarn.mscaleAllDim}\`: HF's DeepseekV2 leaves YaRN's mscale² out of the attention scale, which a .moe MLA model applies`
      : undefined,
  );
  if (why) return fail(why);
  return {
    ok: true,
    config: {
      architectures: ['DeepseekV2ForCausalLM'],
      model_type: 'deepseek_v2',
      ...mlaFields(s, attention, layers),
      topk_method: moe.groups > 1 ? 'group_limited_greedy' : 'greedy',
      mlp_bias: false,
    },
  };
}

/** An MLA model's config: deepseek_v2 where it routes by softmax, else deepseek_v3. */
export function mlaConfig(s: ModelStructure, attention: MlaAttention): HfConfigResult {
  const moe = s.layers.find((l) => l.ffn.kind === 'moe')?.ffn;
  return moe?.kind === 'moe' && moe.score === 'softmax' ? deepseekV2(s, attention) : deepseekV3(s, attention);
}
