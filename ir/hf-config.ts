/**
 * `--emit hf-config` and `moe export hf`: the HF transformers `config.json` of a model, in the
 * family whose transformers code computes the SAME model, or the reason none does. The families:
 *
 *   MLA, sigmoid routing                       deepseek_v3
 *   MLA, softmax routing                       deepseek_v2 (never renormalises; a group's score is its best expert)
 *   GQA, every layer dense                     llama
 *   GQA, per-head q/k norm                     qwen3_moe
 *   GQA, full-width q/k norm                   olmoe
 *   GQA, no q/k norm                           mixtral (renormalised, no shared experts), else
 *                                              qwen2_moe (q/k/v biases, a gated shared expert)
 *
 * A setting no transformers class computes (a softmax MLA router that renormalises, a shared expert
 * without Qwen's gate, a window on a family without one, …) is refused naming the spec setting,
 * never written as a config transformers would load and compute differently. The numbers come from
 * the graph document (config, node attributes, parameter shapes).
 */
import type { GraphDocument, ModelGraph } from './types.js';
import { yarnMscale } from './rope.js';
import { modelStructure, uniformDense, uniformMoe, type Block, type GqaAttention, type MlaAttention, type ModelStructure, type MoeFfn, type Rope } from './structure.js';

export type JsonValue = number | string | boolean | null | readonly JsonValue[] | { readonly [k: string]: JsonValue };
export type HfConfig = { readonly [k: string]: JsonValue };
export type HfConfigResult = { readonly ok: true; readonly config: HfConfig } | { readonly ok: false; readonly reason: string };

/** The families `moe export hf` writes. */
export type HfFamily = 'deepseek_v2' | 'deepseek_v3' | 'mixtral' | 'llama' | 'qwen2_moe' | 'qwen3_moe' | 'olmoe';

/** Families whose HF tensor names are the IR's, so a checkpoint folder with their config.json is one HF loads. */
export const SAME_NAMES: ReadonlySet<string> = new Set<HfFamily>(['deepseek_v2', 'deepseek_v3', 'llama', 'qwen3_moe', 'olmoe']);

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

/** The fields every family writes the same way. */
function common(s: ModelStructure): { [k: string]: JsonValue } {
  return {
    vocab_size: s.vocab,
    hidden_size: s.dim,
    num_hidden_layers: s.layers.length,
    max_position_embeddings: s.context,
    rms_norm_eps: s.normEps,
    rope_theta: s.rope.theta,
    rope_scaling: ropeScaling(s.rope),
    hidden_act: 'silu',
    attention_dropout: 0,
    tie_word_embeddings: s.tied,
    initializer_range: s.initStd,
    torch_dtype: 'bfloat16',
    dtype: 'bfloat16',
  };
}

/** The sliding window of each layer, or why the windows differ in size. */
function windows(s: ModelStructure): { sizes: (number | null)[]; size: number | null } | string {
  const sizes = s.layers.map((l) => l.features.window);
  const distinct = [...new Set(sizes.filter((w): w is number => w !== null))];
  if (distinct.length > 1) return `the layers' windows differ in size (${distinct.join(', ')}); HF gives one \`sliding_window\``;
  return { sizes, size: distinct[0] ?? null };
}

function noWindow(s: ModelStructure, family: HfFamily): string | undefined {
  const windowed = s.layers.find((l) => l.features.window !== null);
  return windowed ? `\`window\` (layer ${windowed.index} attends over ${windowed.features.window} tokens): HF's ${family} has no sliding-window attention` : undefined;
}

/** Why a MoE layer's router and experts are not what a softmax family computes (Mixtral, Qwen, OLMoE). */
function notSoftmaxRouter(moe: MoeFfn): string | undefined {
  if (moe.score !== 'softmax') return `\`score = ${moe.score}\`: it routes by softmax`;
  if (moe.groups > 1 && moe.topGroups < moe.groups) return `\`groups = ${moe.groups}\`: it has no group-limited routing`;
  if (moe.biasRate !== null) return '`balance = bias`: it has no selection bias';
  if (moe.scale !== 1) return `\`scale = ${moe.scale}\`: it does not scale the routed output`;
  if (moe.balance?.kind === 'sequence') return '`aux_loss = sequence`: its router_aux_loss_coef is batch-wise';
  return undefined;
}

function dropless(moe: MoeFfn | null): string | undefined {
  return moe && moe.capacity !== null ? `\`capacity = ${moe.capacity}\`: HF's MoE layers drop no tokens` : undefined;
}

function mtp(s: ModelStructure, family: HfFamily): string | undefined {
  return s.mtp.length > 0 ? `\`mtp\` (${s.mtp.length} module${s.mtp.length === 1 ? '' : 's'}): only deepseek_v3 has MTP layers, not ${family}` : undefined;
}

/** HF's batch-wise load_balancing_loss_func is top_k times the IR's batch balance loss (specs/ir.md §4.11). */
function auxCoef(moe: MoeFfn): number {
  return (moe.balance?.alpha ?? 0) / moe.topK;
}

/** The first reason, or undefined. */
function first(...reasons: (string | undefined)[]): string | undefined {
  return reasons.find((r) => r !== undefined);
}

/** Every layer's attention sizes and features (the window aside) must be the first layer's. */
function sameAttention(s: ModelStructure): string | undefined {
  const [a] = s.layers;
  const key = (l: Block): string => JSON.stringify([l.attention, l.features.qkNorm, l.features.qkvBias]);
  const differs = s.layers.find((l) => key(l) !== key(a!));
  return differs ? `every layer must have the same attention (layer ${differs.index} differs from layer ${a!.index})` : undefined;
}

// ── MLA: deepseek_v3 and deepseek_v2 ─────────────────────────────────────────────────────────────

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

// ── GQA: llama, mixtral, qwen2_moe, qwen3_moe, olmoe ────────────────────────────────────────────

function gqaFields(s: ModelStructure, a: GqaAttention): { [k: string]: JsonValue } {
  return { ...common(s), num_attention_heads: a.heads, num_key_value_heads: a.kvHeads };
}

function headDimIsDefault(s: ModelStructure, a: GqaAttention, family: HfFamily): string | undefined {
  return a.headDim * a.heads !== s.dim ? `\`head_dim = ${a.headDim}\`: HF's ${family} has no head_dim, its heads are hidden_size / heads = ${s.dim / a.heads} wide` : undefined;
}

function noBias(features: Block['features'], family: HfFamily): string | undefined {
  return features.qkvBias ? `\`qkv_bias = true\`: HF's ${family} has no q/k/v biases (qwen2_moe has)` : undefined;
}

function noShared(moe: MoeFfn, family: HfFamily): string | undefined {
  return moe.shared > 0 ? `\`shared = ${moe.shared}\`: HF's ${family} has no shared experts` : undefined;
}

function llama(s: ModelStructure, a: GqaAttention): HfConfigResult {
  const dense = uniformDense(s.layers);
  if (!dense.ok) return fail(dense.reason);
  const why = first(noWindow(s, 'llama'), mtp(s, 'llama'), noBias(s.layers[0]!.features, 'llama'));
  if (why) return fail(why);
  return {
    ok: true,
    config: {
      architectures: ['LlamaForCausalLM'],
      model_type: 'llama',
      ...gqaFields(s, a),
      intermediate_size: dense.hidden!,
      head_dim: a.headDim,
      attention_bias: false,
      mlp_bias: false,
      pretraining_tp: 1,
    },
  };
}

/** Why a GQA MoE model is not a Mixtral, or undefined when it is one. */
function notMixtral(s: ModelStructure, moe: MoeFfn): string | undefined {
  const dense = s.layers.find((l) => l.ffn.kind === 'dense');
  return first(
    dense ? `layer ${dense.index} is dense` : undefined,
    noBias(s.layers[0]!.features, 'mixtral'),
    noShared(moe, 'mixtral'),
    notSoftmaxRouter(moe),
    moe.normalize ? undefined : '`normalize = false`: Mixtral renormalises the top-k weights',
    mtp(s, 'mixtral'),
    s.rope.scaling.kind !== 'none' ? `the rotary embedding uses ${s.rope.scaling.kind} scaling` : undefined,
  );
}

function mixtral(s: ModelStructure, a: GqaAttention, moe: MoeFfn, w: { sizes: (number | null)[]; size: number | null }): HfConfigResult {
  if (w.sizes.some((x) => x === null) && w.size !== null) return fail('`window_layers`: Mixtral\'s sliding_window applies to every layer');
  return {
    ok: true,
    config: {
      architectures: ['MixtralForCausalLM'],
      model_type: 'mixtral',
      ...gqaFields(s, a),
      intermediate_size: moe.hidden,
      head_dim: a.headDim,
      num_local_experts: moe.experts,
      num_experts_per_tok: moe.topK,
      router_aux_loss_coef: auxCoef(moe),
      output_router_logits: false,
      router_jitter_noise: 0,
      sliding_window: w.size,
    },
  };
}

/** Qwen's dense layers (mlp_only_layers) and their one hidden size. */
function qwenDense(s: ModelStructure): { only: number[]; hidden: number | null } | string {
  const dense = uniformDense(s.layers);
  if (!dense.ok) return dense.reason;
  return { only: s.layers.filter((l) => l.ffn.kind === 'dense').map((l) => l.index), hidden: dense.hidden };
}

function qwenMoeFields(moe: MoeFfn, dense: { only: number[]; hidden: number | null }): { [k: string]: JsonValue } {
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

function notQwen2(s: ModelStructure, a: GqaAttention, moe: MoeFfn): string | undefined {
  return first(
    notSoftmaxRouter(moe),
    mtp(s, 'qwen2_moe'),
    headDimIsDefault(s, a, 'qwen2_moe'),
    moe.shared === 0 ? '`shared = 0`: HF\'s qwen2_moe always has a gated shared expert' : undefined,
    moe.sharedGate ? undefined : `\`shared = ${moe.shared}\` without \`shared_gate = true\`: HF's qwen2_moe gates its shared expert by σ(x·w)`,
  );
}

function qwen2Moe(s: ModelStructure, a: GqaAttention, moe: MoeFfn, dense: { only: number[]; hidden: number | null }, w: { sizes: (number | null)[]; size: number | null }): HfConfigResult {
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

function qwen3Moe(s: ModelStructure, a: GqaAttention, moe: MoeFfn, dense: { only: number[]; hidden: number | null }): HfConfigResult {
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

function olmoe(s: ModelStructure, a: GqaAttention, moe: MoeFfn): HfConfigResult {
  const dense = s.layers.find((l) => l.ffn.kind === 'dense');
  const why = first(
    dense ? `layer ${dense.index} is dense: every OLMoE layer is MoE` : undefined,
    noWindow(s, 'olmoe'),
    noBias(s.layers[0]!.features, 'olmoe'),
    noShared(moe, 'olmoe'),
    notSoftmaxRouter(moe),
    mtp(s, 'olmoe'),
    headDimIsDefault(s, a, 'olmoe'),
  );
  if (why) return fail(why);
  return {
    ok: true,
    config: {
      architectures: ['OlmoeForCausalLM'],
      model_type: 'olmoe',
      ...gqaFields(s, a),
      intermediate_size: moe.hidden,
      num_experts: moe.experts,
      num_experts_per_tok: moe.topK,
      norm_topk_prob: moe.normalize,
      router_aux_loss_coef: auxCoef(moe),
      output_router_logits: false,
      attention_bias: false,
      clip_qkv: null,
    },
  };
}

function gqaConfig(s: ModelStructure, a: GqaAttention): HfConfigResult {
  const moeCheck = uniformMoe(s.layers);
  if (!moeCheck.ok) return fail(moeCheck.reason);
  const moe = moeCheck.moe;
  if (!moe) return llama(s, a);
  const capacity = dropless(moe);
  if (capacity) return fail(capacity);
  const dense = qwenDense(s);
  if (typeof dense === 'string') return fail(dense);
  const w = windows(s);
  if (typeof w === 'string') return fail(w);
  const { qkNorm } = s.layers[0]!.features;
  if (qkNorm === 'head') return qwen3Moe(s, a, moe, dense);
  if (qkNorm === 'full') return olmoe(s, a, moe);
  const mixtralWhy = notMixtral(s, moe);
  if (!mixtralWhy) return mixtral(s, a, moe, w);
  const qwenWhy = notQwen2(s, a, moe);
  if (!qwenWhy) return qwen2Moe(s, a, moe, dense, w);
  return fail(`not mixtral (${mixtralWhy}), not qwen2_moe (${qwenWhy})`);
}

/** The `config.json` of one model, or why no HF architecture computes it. */
export function hfConfig(model: ModelGraph): HfConfigResult {
  const s = modelStructure(model);
  const attention = s.layers[0]?.attention;
  if (!attention) return fail(`${model.name} has no layers`);
  const same = sameAttention(s);
  if (same) return fail(same);
  if (attention.kind === 'gqa') return gqaConfig(s, attention);
  const moe = s.layers.find((l) => l.ffn.kind === 'moe')?.ffn;
  return moe?.kind === 'moe' && moe.score === 'softmax' ? deepseekV2(s, attention) : deepseekV3(s, attention);
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
