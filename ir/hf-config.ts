/**
 * `--emit hf-config`: a HF transformers `config.json` for a model. MLA models export as
 * `deepseek_v3`; GQA models export as `mixtral` when they fit MixtralConfig (every layer MoE, no
 * shared experts, softmax routing renormalised over the top-k, …). Everything else is refused with
 * the reason. The numbers come from the graph document (config, node attributes, parameter shapes).
 */
import type { GraphDocument, ModelGraph } from './types.js';
import { modelStructure, uniformDense, uniformMoe, type GqaAttention, type MlaAttention, type ModelStructure, type MoeFfn, type Rope } from './structure.js';

export type JsonValue = number | string | boolean | null | readonly JsonValue[] | { readonly [k: string]: JsonValue };
export type HfConfig = { readonly [k: string]: JsonValue };
export type HfConfigResult = { readonly ok: true; readonly config: HfConfig } | { readonly ok: false; readonly reason: string };

const fail = (reason: string): HfConfigResult => ({ ok: false, reason });

function ropeScaling(rope: Rope): JsonValue {
  const s = rope.scaling;
  if (s.kind === 'yarn') {
    return {
      type: 'yarn',
      rope_type: 'yarn',
      factor: s.factor,
      original_max_position_embeddings: s.originalContext,
      beta_fast: s.betaFast,
      beta_slow: s.betaSlow,
      mscale: s.mscale,
      mscale_all_dim: s.mscaleAllDim,
    };
  }
  if (s.kind === 'linear') return { type: 'linear', rope_type: 'linear', factor: s.factor };
  return null;
}

function topkMethod(moe: MoeFfn): string {
  if (moe.biasRate !== null) return 'noaux_tc';
  return moe.groups > 1 ? 'group_limited_greedy' : 'greedy';
}

function deepseekV3(s: ModelStructure, attention: MlaAttention): HfConfigResult {
  const firstMoe = s.layers.findIndex((l) => l.ffn.kind === 'moe');
  if (firstMoe < 0) return fail(`deepseek_v3 needs at least one MoE layer (all ${s.layers.length} layers of ${s.graph.name} are dense)`);
  const late = s.layers.find((l) => l.index > firstMoe && l.ffn.kind === 'dense');
  if (late) return fail(`dense layers must be the first k layers for deepseek_v3 (layer ${late.index} is dense after MoE layers)`);
  const moeCheck = uniformMoe(s.layers);
  if (!moeCheck.ok) return fail(moeCheck.reason);
  const denseCheck = uniformDense(s.layers);
  if (!denseCheck.ok) return fail(denseCheck.reason);
  const moe = moeCheck.moe!;
  const attentionDiffers = s.layers.find((l) => JSON.stringify(l.attention) !== JSON.stringify(attention));
  if (attentionDiffers) return fail(`every layer must have the same attention for deepseek_v3 (layer ${attentionDiffers.index} differs)`);
  return {
    ok: true,
    config: {
      architectures: ['DeepseekV3ForCausalLM'],
      model_type: 'deepseek_v3',
      vocab_size: s.vocab,
      hidden_size: s.dim,
      // unused when every layer is MoE; HF still wants a number
      intermediate_size: denseCheck.hidden ?? moe.hidden,
      moe_intermediate_size: moe.hidden,
      num_hidden_layers: s.layers.length,
      num_attention_heads: attention.heads,
      num_key_value_heads: attention.heads,
      n_shared_experts: moe.shared,
      n_routed_experts: moe.experts,
      num_experts_per_tok: moe.topK,
      routed_scaling_factor: moe.scale,
      n_group: moe.groups,
      topk_group: moe.topGroups,
      norm_topk_prob: moe.normalize,
      scoring_func: moe.score,
      topk_method: topkMethod(moe),
      first_k_dense_replace: firstMoe,
      moe_layer_freq: 1,
      aux_loss_alpha: moe.balance?.alpha ?? 0,
      seq_aux: moe.balance?.kind === 'sequence',
      ep_size: 1,
      q_lora_rank: attention.qRank > 0 ? attention.qRank : null,
      kv_lora_rank: attention.kvRank,
      qk_nope_head_dim: attention.nopeDim,
      qk_rope_head_dim: attention.ropeDim,
      v_head_dim: attention.vDim,
      // HF DeepseekV3Config sets head_dim to the rotary part (the rotary embedding's size)
      head_dim: attention.ropeDim,
      rope_interleave: true,
      max_position_embeddings: s.context,
      rms_norm_eps: s.normEps,
      rope_theta: s.rope.theta,
      rope_scaling: ropeScaling(s.rope),
      hidden_act: 'silu',
      attention_bias: false,
      attention_dropout: 0,
      tie_word_embeddings: s.tied,
      num_nextn_predict_layers: s.mtp.length,
      initializer_range: s.initStd,
      torch_dtype: 'bfloat16',
      dtype: 'bfloat16',
    },
  };
}

/** Why a GQA model is not a Mixtral, or undefined when it is one. */
function notMixtral(s: ModelStructure, moe: MoeFfn | null): string | undefined {
  const dense = s.layers.find((l) => l.ffn.kind === 'dense');
  if (dense) return `layer ${dense.index} is dense`;
  if (!moe) return 'the model has no MoE layers';
  if (moe.shared > 0) return `the MoE layers have ${moe.shared} shared expert${moe.shared === 1 ? '' : 's'}`;
  if (moe.score !== 'softmax') return `the router scores with ${moe.score}`;
  if (!moe.normalize) return 'the router does not renormalise the top-k weights';
  if (moe.groups > 1) return `the router uses group-limited routing (${moe.groups} groups)`;
  if (moe.biasRate !== null) return 'the router uses bias balancing';
  if (moe.scale !== 1) return `the routed output is scaled by ${moe.scale}`;
  if (moe.balance?.kind === 'sequence') return 'the balance loss is sequence-wise (mixtral\'s router_aux_loss_coef is batch-wise)';
  if (s.mtp.length > 0) return `the model has ${s.mtp.length} MTP module${s.mtp.length === 1 ? '' : 's'}`;
  if (s.rope.scaling.kind !== 'none') return `the rotary embedding uses ${s.rope.scaling.kind} scaling`;
  return undefined;
}

function mixtral(s: ModelStructure, attention: GqaAttention): HfConfigResult {
  const moeCheck = uniformMoe(s.layers);
  if (!moeCheck.ok) return fail(moeCheck.reason);
  const why = notMixtral(s, moeCheck.moe);
  if (why) {
    return fail(
      'deepseek_v3 requires MLA attention; GQA models export as mixtral only when every layer is MoE with no shared experts ' +
        'and softmax routing renormalised over the top-k, without expert groups, selection bias, output scaling, ' +
        `a sequence-wise balance loss, MTP or rope scaling (here ${why})`,
    );
  }
  const moe = moeCheck.moe!;
  return {
    ok: true,
    config: {
      architectures: ['MixtralForCausalLM'],
      model_type: 'mixtral',
      vocab_size: s.vocab,
      hidden_size: s.dim,
      intermediate_size: moe.hidden,
      num_hidden_layers: s.layers.length,
      num_attention_heads: attention.heads,
      num_key_value_heads: attention.kvHeads,
      head_dim: attention.headDim,
      num_local_experts: moe.experts,
      num_experts_per_tok: moe.topK,
      // HF's load_balancing_loss_func is top_k times the IR's batch balance loss (specs/ir.md §4.11)
      router_aux_loss_coef: (moe.balance?.alpha ?? 0) / moe.topK,
      output_router_logits: false,
      router_jitter_noise: 0,
      hidden_act: 'silu',
      max_position_embeddings: s.context,
      rms_norm_eps: s.normEps,
      rope_theta: s.rope.theta,
      sliding_window: null,
      attention_dropout: 0,
      tie_word_embeddings: s.tied,
      initializer_range: s.initStd,
      torch_dtype: 'bfloat16',
      dtype: 'bfloat16',
    },
  };
}

/** The `config.json` of one model, or why it cannot be written. */
export function hfConfig(model: ModelGraph): HfConfigResult {
  const s = modelStructure(model);
  const attention = s.layers[0]?.attention;
  if (!attention) return fail(`${model.name} has no layers`);
  return attention.kind === 'mla' ? deepseekV3(s, attention) : mixtral(s, attention);
}

/** One `MODEL.config.json` per model; the first model that cannot be exported fails the lot. */
export function emitHfConfigs(doc: GraphDocument): { ok: true; files: { name: string; text: string }[] } | { ok: false; reason: string } {
  const files: { name: string; text: string }[] = [];
  for (const model of doc.models) {
    const result = hfConfig(model);
    if (!result.ok) return { ok: false, reason: `${model.name}: ${result.reason}` };
    files.push({ name: `${model.name}.config.json`, text: hfConfigText(result.config) });
  }
  if (files.length === 0) return { ok: false, reason: `${doc.source} declares no model` };
  return { ok: true, files };
}

/**
 * Fields HF types as floats. transformers 5 validates config fields strictly and rejects an int
 * where a float is declared ("expected float, got int"), but JSON.stringify writes 1.0 as `1`.
 */
const FLOAT_FIELDS = new Set([
  'routed_scaling_factor',
  'rms_norm_eps',
  'rope_theta',
  'initializer_range',
  'attention_dropout',
  'aux_loss_alpha',
  'router_aux_loss_coef',
  'router_jitter_noise',
  'factor',
  'beta_fast',
  'beta_slow',
  'mscale',
  'mscale_all_dim',
]);

/** A config as config.json text, float fields with a decimal point even when integral (`1.0`). */
export function hfConfigText(config: object): string {
  const marker = '\u0000float:';
  const text = JSON.stringify(config, (key, value: unknown) => (FLOAT_FIELDS.has(key) && typeof value === 'number' && Number.isInteger(value) ? `${marker}${value}` : value), 2);
  return `${text.replace(/"\\u0000float:(-?\d+)"/g, '$1.0')}\n`;
}
