/**
 * A HF `config.json` read into the architecture a `.moe` spec states, for the seven families
 * `moe import hf` reads (deepseek_v2, deepseek_v3, mixtral, llama, qwen2_moe, qwen3_moe, olmoe).
 * Sizes must be written; the behavioural fields fall back to the defaults of HF's config class,
 * because that is what transformers itself runs when a field is absent. What transformers computes
 * decides, not what a field's name suggests: DeepseekV2 never renormalises the top-k weights, so a
 * `norm_topk_prob: true` it would ignore is refused rather than read. Anything our IR cannot
 * express (another rope type, biases it has no place for, …) is refused with the field that says so.
 */
import { RuntimeError } from '../../runtime/errors.js';

export type HfJson = { readonly [k: string]: unknown };

export type { RopeScaling } from '../../ir/rope.js';
import { MAX_COUNT } from '../../compiler/schema/limits.js';
import { yarnMscale, type RopeScaling } from '../../ir/rope.js';
import type { MlaAttention, RouterSettings } from '../../ir/structure.js';

/** GQA's own features (issue 20): q/k norm and q/k/v biases. */
export interface GqaFeatures {
  readonly qkNorm: 'none' | 'head' | 'full';
  readonly qkvBias: boolean;
}

/** MLA as the IR states it; GQA's head_dim is null where config.json has none (the spec then leaves it out). */
export type HfAttention =
  | MlaAttention
  | ({ readonly kind: 'gqa'; readonly heads: number; readonly kvHeads: number; readonly headDim: number | null } & GqaFeatures);

export interface HfMoe extends RouterSettings {
  readonly shared: number;
  /** Qwen2-MoE's sigmoid gate on the shared expert */
  readonly sharedGate: boolean;
  /** the shared expert's width where it is not `shared` × `hidden` (Qwen2-MoE); absent = that product */
  readonly sharedHidden?: number;
  readonly hidden: number;
  readonly aux: { readonly kind: 'sequence' | 'batch'; readonly alpha: number } | null;
}

/** Sliding-window attention: the window and the layers using it (null: every layer). */
export interface HfWindow {
  readonly size: number;
  readonly layers: readonly number[] | null;
}

export const SUPPORTED_TYPES = ['deepseek_v2', 'deepseek_v3', 'mixtral', 'llama', 'qwen2_moe', 'qwen3_moe', 'olmoe'] as const;
export type HfModelType = (typeof SUPPORTED_TYPES)[number];

export interface HfArchitecture {
  readonly modelType: HfModelType;
  readonly vocab: number;
  readonly dim: number;
  readonly layers: number;
  readonly context: number;
  readonly tied: boolean;
  readonly normEps: number;
  readonly initStd: number;
  readonly ropeTheta: number;
  readonly rope: RopeScaling;
  readonly attention: HfAttention;
  readonly window: HfWindow | null;
  /** the layers that are dense SwiGLU of `denseHidden`; the rest are MoE (all of them when `moe` is null) */
  readonly denseLayers: readonly number[];
  readonly denseHidden: number;
  readonly moe: HfMoe | null;
  /** MTP modules the config announces (DeepSeek's `num_nextn_predict_layers`) */
  readonly mtpLayers: number;
}

/** Typed access to config fields, with HF's class defaults and errors naming the field. */
class ConfigReader {
  constructor(
    private readonly json: HfJson,
    private readonly path: string,
    private readonly defaults: HfJson,
  ) {}

  private raw(key: string): unknown {
    const v = this.json[key];
    return v === undefined ? this.defaults[key] : v;
  }

  private fail(key: string, wanted: string): never {
    const v = this.raw(key);
    throw new RuntimeError(`${this.path}: ${key} must be ${wanted}, found ${v === undefined ? 'nothing' : JSON.stringify(v)}`);
  }

  int(key: string, min = 1): number {
    const v = this.raw(key);
    if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < min) this.fail(key, min === 0 ? 'a non-negative integer' : 'a positive integer');
    return v;
  }

  /** An integer that HF also allows as null (q_lora_rank, head_dim). */
  intOrNull(key: string): number | null {
    return this.raw(key) === null ? null : this.int(key);
  }

  num(key: string): number {
    const v = this.raw(key);
    if (typeof v !== 'number' || !Number.isFinite(v)) this.fail(key, 'a number');
    return v;
  }

  bool(key: string): boolean {
    const v = this.raw(key);
    if (typeof v !== 'boolean') this.fail(key, 'true or false');
    return v;
  }

  str(key: string): string {
    const v = this.raw(key);
    if (typeof v !== 'string') this.fail(key, 'a string');
    return v;
  }

  /** A field that must have one value for our IR to express the model. */
  require(key: string, value: unknown, why: string): void {
    const v = this.raw(key);
    if (v !== undefined && v !== null && v !== value) {
      throw new RuntimeError(`${this.path}: ${key} = ${JSON.stringify(v)} is not supported: ${why}`);
    }
  }

  /** A list of layer indices (mlp_only_layers), each below `layers`. */
  layerList(key: string, layers: number): number[] {
    const v = this.raw(key) ?? [];
    if (!Array.isArray(v) || v.some((x) => typeof x !== 'number' || !Number.isSafeInteger(x) || x < 0 || x >= layers)) this.fail(key, `a list of layer indices below ${layers}`);
    return [...new Set(v as number[])].sort((a, b) => a - b);
  }

  /** A list of strings (layer_types). */
  strings(key: string): string[] | null {
    const v = this.raw(key);
    if (v === undefined || v === null) return null;
    if (!Array.isArray(v) || v.some((x) => typeof x !== 'string')) this.fail(key, 'a list of strings');
    return v as string[];
  }

  has(key: string): boolean {
    const v = this.raw(key);
    return v !== undefined && v !== null;
  }

  record(key: string): HfJson | null {
    const v = this.json[key];
    return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as HfJson) : null;
  }
}

const COMMON_DEFAULTS: HfJson = {
  tie_word_embeddings: false,
  initializer_range: 0.02,
  rope_theta: 10000,
  hidden_act: 'silu',
};

const DEEPSEEK_V3_DEFAULTS: HfJson = {
  ...COMMON_DEFAULTS,
  max_position_embeddings: 4096,
  rms_norm_eps: 1e-6,
  n_shared_experts: 1,
  routed_scaling_factor: 2.5,
  n_group: 8,
  topk_group: 4,
  first_k_dense_replace: 3,
  norm_topk_prob: true,
  scoring_func: 'sigmoid',
  aux_loss_alpha: 0,
  seq_aux: true,
  num_nextn_predict_layers: 0,
};

const DEEPSEEK_V2_DEFAULTS: HfJson = {
  ...COMMON_DEFAULTS,
  max_position_embeddings: 2048,
  rms_norm_eps: 1e-6,
  routed_scaling_factor: 1,
  first_k_dense_replace: 0,
  norm_topk_prob: false,
  topk_method: 'greedy',
  aux_loss_alpha: 0,
  seq_aux: true,
};

const MIXTRAL_DEFAULTS: HfJson = {
  ...COMMON_DEFAULTS,
  num_key_value_heads: 8,
  head_dim: null,
  max_position_embeddings: 4096 * 32,
  rms_norm_eps: 1e-5,
  rope_theta: 1e6,
  router_aux_loss_coef: 0.001,
};

const LLAMA_DEFAULTS: HfJson = { ...COMMON_DEFAULTS, max_position_embeddings: 2048, rms_norm_eps: 1e-6, head_dim: null, attention_bias: false, mlp_bias: false };

const QWEN2_MOE_DEFAULTS: HfJson = {
  ...COMMON_DEFAULTS,
  max_position_embeddings: 32768,
  rms_norm_eps: 1e-6,
  num_key_value_heads: 16,
  decoder_sparse_step: 1,
  norm_topk_prob: false,
  router_aux_loss_coef: 0.001,
  mlp_only_layers: [],
  use_sliding_window: false,
  max_window_layers: 28,
  qkv_bias: true,
};

const QWEN3_MOE_DEFAULTS: HfJson = {
  ...COMMON_DEFAULTS,
  max_position_embeddings: 32768,
  rms_norm_eps: 1e-6,
  num_key_value_heads: 4,
  decoder_sparse_step: 1,
  norm_topk_prob: false,
  router_aux_loss_coef: 0.001,
  mlp_only_layers: [],
  attention_bias: false,
  use_sliding_window: false,
  sliding_window: null,
};

const OLMOE_DEFAULTS: HfJson = { ...COMMON_DEFAULTS, max_position_embeddings: 4096, rms_norm_eps: 1e-5, norm_topk_prob: false, router_aux_loss_coef: 0.01, attention_bias: false, clip_qkv: null };

/** transformers 4 writes `rope_theta` + `rope_scaling`; transformers 5 writes `rope_parameters`. */
function readRope(c: ConfigReader, context: number, path: string): { theta: number; scaling: RopeScaling } {
  const parameters = c.record('rope_parameters');
  const scaling = parameters ?? c.record('rope_scaling');
  const sub = new ConfigReader(scaling ?? {}, `${path}: ${parameters ? 'rope_parameters' : 'rope_scaling'}`, {
    beta_fast: 32,
    beta_slow: 1,
    mscale: 1,
    mscale_all_dim: 0,
    original_max_position_embeddings: context,
  });
  const theta = typeof parameters?.rope_theta === 'number' ? parameters.rope_theta : c.num('rope_theta');
  const type = scaling?.rope_type ?? scaling?.type ?? 'default';
  if (type === 'default') return { theta, scaling: { kind: 'none' } };
  if (type === 'linear') return { theta, scaling: { kind: 'linear', factor: sub.num('factor') } };
  if (type === 'yarn') {
    return {
      theta,
      scaling: {
        kind: 'yarn',
        factor: sub.num('factor'),
        originalContext: sub.int('original_max_position_embeddings'),
        betaFast: sub.num('beta_fast'),
        betaSlow: sub.num('beta_slow'),
        mscale: sub.num('mscale'),
        mscaleAllDim: sub.num('mscale_all_dim'),
      },
    };
  }
  throw new RuntimeError(`${path}: rope type ${JSON.stringify(type)} is not supported (default, linear, yarn)`);
}

function readScore(c: ConfigReader, path: string): 'sigmoid' | 'softmax' {
  const score = c.str('scoring_func');
  if (score !== 'sigmoid' && score !== 'softmax') throw new RuntimeError(`${path}: scoring_func ${JSON.stringify(score)} is not supported (sigmoid, softmax)`);
  return score;
}

/** The fields every supported architecture reads the same way. */
function sharedFields(c: ConfigReader, path: string) {
  c.require('hidden_act', 'silu', 'the feed-forward is SwiGLU (silu)');
  const context = c.int('max_position_embeddings');
  const rope = readRope(c, context, path);
  return {
    vocab: c.int('vocab_size'),
    dim: c.int('hidden_size'),
    layers: c.int('num_hidden_layers'),
    context,
    tied: c.bool('tie_word_embeddings'),
    normEps: c.num('rms_norm_eps'),
    initStd: c.num('initializer_range'),
    ropeTheta: rope.theta,
    rope: rope.scaling,
  } as const;
}

function mla(c: ConfigReader): MlaAttention {
  return {
    kind: 'mla',
    heads: c.int('num_attention_heads'),
    qRank: c.intOrNull('q_lora_rank') ?? 0,
    kvRank: c.int('kv_lora_rank'),
    nopeDim: c.int('qk_nope_head_dim'),
    ropeDim: c.int('qk_rope_head_dim'),
    vDim: c.int('v_head_dim'),
  };
}

/** The first `k` of `layers` (DeepSeek's first_k_dense_replace). */
function firstLayers(k: number, layers: number): number[] {
  return Array.from({ length: Math.min(k, layers) }, (_, i) => i);
}

function deepseekV3(c: ConfigReader, path: string): HfArchitecture {
  c.require('attention_bias', false, 'the attention projections have no biases');
  c.require('rope_interleave', true, 'MLA rotary rows are read in DeepSeek\'s interleaved order (specs/ir.md §7)');
  const alpha = c.num('aux_loss_alpha');
  const shared = sharedFields(c, path);
  return {
    modelType: 'deepseek_v3',
    ...shared,
    attention: mla(c),
    window: null,
    denseLayers: firstLayers(c.int('first_k_dense_replace', 0), shared.layers),
    denseHidden: c.int('intermediate_size'),
    moe: {
      experts: c.int('n_routed_experts'),
      shared: c.int('n_shared_experts', 0),
      sharedGate: false,
      hidden: c.int('moe_intermediate_size'),
      topK: c.int('num_experts_per_tok'),
      score: readScore(c, path),
      groups: c.int('n_group'),
      topGroups: c.int('topk_group'),
      normalize: c.bool('norm_topk_prob'),
      scale: c.num('routed_scaling_factor'),
      aux: alpha > 0 ? { kind: c.bool('seq_aux') ? 'sequence' : 'batch', alpha } : null,
    },
    mtpLayers: c.int('num_nextn_predict_layers', 0),
  };
}

/**
 * HF's DeepseekV2 (transformers 5) routes by softmax, never renormalises the top-k weights (it
 * reads no `norm_topk_prob`), scores a group by its best expert and always adds its shared experts.
 */
function deepseekV2(c: ConfigReader, path: string): HfArchitecture {
  c.require('attention_bias', false, 'the attention projections have no biases');
  c.require('mlp_bias', false, 'the feed-forward projections have no biases');
  c.require('scoring_func', 'softmax', 'HF\'s DeepseekV2 always routes by softmax');
  c.require('norm_topk_prob', false, 'HF\'s DeepseekV2 never renormalises the top-k weights, whatever this field says');
  const method = c.str('topk_method');
  if (method !== 'greedy' && method !== 'group_limited_greedy') {
    throw new RuntimeError(`${path}: topk_method ${JSON.stringify(method)} is not supported: HF's DeepseekV2 computes greedy and group_limited_greedy`);
  }
  const shared = sharedFields(c, path);
  if (shared.rope.kind === 'yarn' && yarnMscale(shared.rope.factor, shared.rope.mscaleAllDim) !== 1) {
    throw new RuntimeError(
      `${path}: rope_scaling.mscale_all_dim = ${shared.rope.mscaleAllDim} is not supported for deepseek_v2: HF's DeepseekV2 leaves YaRN's mscale² out of the attention scale, which a .moe MLA model always applies (as DeepSeek's own code and HF's DeepseekV3 do)`,
      'the .moe language has no setting for HF DeepseekV2\'s attention scale under YaRN',
    );
  }
  const alpha = c.num('aux_loss_alpha');
  const grouped = method === 'group_limited_greedy';
  return {
    modelType: 'deepseek_v2',
    ...shared,
    attention: mla(c),
    window: null,
    denseLayers: firstLayers(c.int('first_k_dense_replace', 0), shared.layers),
    denseHidden: c.int('intermediate_size'),
    moe: {
      experts: c.int('n_routed_experts'),
      shared: c.int('n_shared_experts'),
      sharedGate: false,
      hidden: c.int('moe_intermediate_size'),
      topK: c.int('num_experts_per_tok'),
      score: 'softmax',
      groups: grouped ? c.int('n_group') : 1,
      topGroups: grouped ? c.int('topk_group') : 1,
      normalize: false,
      scale: c.num('routed_scaling_factor'),
      aux: alpha > 0 ? { kind: c.bool('seq_aux') ? 'sequence' : 'batch', alpha } : null,
    },
    mtpLayers: 0,
  };
}

/** A GQA attention; `num_key_value_heads` absent means as many as the query heads. */
function gqa(c: ConfigReader, features: GqaFeatures, headDim: boolean): HfAttention {
  const heads = c.int('num_attention_heads');
  return {
    kind: 'gqa',
    heads,
    kvHeads: c.has('num_key_value_heads') ? c.int('num_key_value_heads') : heads,
    headDim: headDim ? c.intOrNull('head_dim') : null,
    ...features,
  };
}

/** HF's load_balancing_loss_func is top_k times the IR's batch balance loss (specs/ir.md §4.11). */
function batchAux(c: ConfigReader, topK: number): HfMoe['aux'] {
  const coef = c.num('router_aux_loss_coef');
  return coef > 0 ? { kind: 'batch', alpha: coef * topK } : null;
}

/** A softmax router without groups, bias or scale: Mixtral's, Qwen's and OLMoE's. */
function softmaxRouter(c: ConfigReader, experts: number, topK: number, normalize: boolean) {
  return { experts, topK, score: 'softmax', groups: 1, topGroups: 1, normalize, scale: 1, aux: batchAux(c, topK) } as const;
}

/** Qwen's dense layers: those of `mlp_only_layers`, and those `decoder_sparse_step` skips. */
function qwenDenseLayers(c: ConfigReader, layers: number): number[] {
  const only = new Set(c.layerList('mlp_only_layers', layers));
  const step = c.int('decoder_sparse_step');
  return Array.from({ length: layers }, (_, i) => i).filter((i) => only.has(i) || (i + 1) % step !== 0);
}

/** Qwen2's sliding window: the `sliding_attention` layers of `layer_types`, or HF's rule from `max_window_layers`. */
function qwenWindow(c: ConfigReader, path: string, layers: number): HfWindow | null {
  const types = c.strings('layer_types');
  if (types) {
    if (types.length !== layers) throw new RuntimeError(`${path}: layer_types has ${types.length} entries for ${layers} layers`);
    const odd = types.find((t) => t !== 'full_attention' && t !== 'sliding_attention');
    if (odd !== undefined) throw new RuntimeError(`${path}: layer_types entry ${JSON.stringify(odd)} is not supported (full_attention, sliding_attention)`);
  }
  const sliding = types ? types.flatMap((t, i) => (t === 'sliding_attention' ? [i] : [])) : null;
  if (!c.bool('use_sliding_window')) {
    if (sliding && sliding.length > 0) {
      throw new RuntimeError(`${path}: layer_types names sliding layers but use_sliding_window is false`, 'set use_sliding_window, or make those layers full_attention');
    }
    return null;
  }
  const size = c.int('sliding_window');
  const windowed = sliding ?? Array.from({ length: layers }, (_, i) => i).filter((i) => i >= c.int('max_window_layers', 0));
  if (windowed.length === 0) return null;
  return { size, layers: windowed.length === layers ? null : windowed };
}

function mixtral(c: ConfigReader, path: string): HfArchitecture {
  const topK = c.int('num_experts_per_tok');
  const shared = sharedFields(c, path);
  // Mixtral's sliding_window applies to every layer
  const window = c.has('sliding_window') ? { size: c.int('sliding_window'), layers: null } : null;
  return {
    modelType: 'mixtral',
    ...shared,
    attention: gqa(c, { qkNorm: 'none', qkvBias: false }, true),
    window,
    denseLayers: [],
    denseHidden: 0,
    // our exporter writes router_aux_loss_coef = alpha / top_k (HF's loss is top_k times the IR's)
    moe: { ...softmaxRouter(c, c.int('num_local_experts'), topK, true), shared: 0, sharedGate: false, hidden: c.int('intermediate_size') },
    mtpLayers: 0,
  };
}

function llama(c: ConfigReader, path: string): HfArchitecture {
  c.require('attention_bias', false, 'the attention projections have no biases (q/k/v biases alone are qwen2_moe\'s; llama\'s include o_proj)');
  c.require('mlp_bias', false, 'the feed-forward projections have no biases');
  const shared = sharedFields(c, path);
  return {
    modelType: 'llama',
    ...shared,
    attention: gqa(c, { qkNorm: 'none', qkvBias: false }, true),
    window: null,
    denseLayers: Array.from({ length: shared.layers }, (_, i) => i),
    denseHidden: c.int('intermediate_size'),
    moe: null,
    mtpLayers: 0,
  };
}

/**
 * Qwen2-MoE's one gated shared expert, as a spec states it: `shared` whole expert widths where its
 * width is a multiple of moe_intermediate_size (the spec then reads as DeepSeek's do), else one shared
 * expert with `shared_hidden` its own width.
 */
function qwenShared(width: number, hidden: number): Pick<HfMoe, 'shared' | 'sharedGate' | 'sharedHidden'> {
  if (width === 0) return { shared: 0, sharedGate: false };
  const whole = width % hidden === 0 && width / hidden <= MAX_COUNT;
  return whole ? { shared: width / hidden, sharedGate: true } : { shared: 1, sharedGate: true, sharedHidden: width };
}

/** Qwen2-MoE: q/k/v biases, a shared expert of its own width behind a sigmoid gate. */
function qwen2Moe(c: ConfigReader, path: string): HfArchitecture {
  const shared = sharedFields(c, path);
  const hidden = c.int('moe_intermediate_size');
  const sharedHidden = c.int('shared_expert_intermediate_size', 0);
  const topK = c.int('num_experts_per_tok');
  return {
    modelType: 'qwen2_moe',
    ...shared,
    attention: gqa(c, { qkNorm: 'none', qkvBias: c.bool('qkv_bias') }, false),
    window: qwenWindow(c, path, shared.layers),
    denseLayers: qwenDenseLayers(c, shared.layers),
    denseHidden: c.int('intermediate_size'),
    moe: { ...softmaxRouter(c, c.int('num_experts'), topK, c.bool('norm_topk_prob')), ...qwenShared(sharedHidden, hidden), hidden },
    mtpLayers: 0,
  };
}

/** Qwen3-MoE: a per-head RMSNorm on queries and keys, no shared expert. */
function qwen3Moe(c: ConfigReader, path: string): HfArchitecture {
  c.require('attention_bias', false, 'the attention projections have no biases');
  c.require('sliding_window', null, 'attention spans the whole context (no sliding window)');
  const shared = sharedFields(c, path);
  const topK = c.int('num_experts_per_tok');
  // transformers 5 writes num_local_experts, earlier versions num_experts
  const experts = c.has('num_local_experts') ? c.int('num_local_experts') : c.int('num_experts');
  return {
    modelType: 'qwen3_moe',
    ...shared,
    attention: gqa(c, { qkNorm: 'head', qkvBias: false }, true),
    window: null,
    denseLayers: qwenDenseLayers(c, shared.layers),
    denseHidden: c.int('intermediate_size'),
    moe: { ...softmaxRouter(c, experts, topK, c.bool('norm_topk_prob')), shared: 0, sharedGate: false, hidden: c.int('moe_intermediate_size') },
    mtpLayers: 0,
  };
}

/** OLMoE: a full-width RMSNorm on the query and key projections, every layer MoE. */
function olmoe(c: ConfigReader, path: string): HfArchitecture {
  c.require('attention_bias', false, 'the attention projections have no biases');
  c.require('clip_qkv', null, 'queries, keys and values are not clipped');
  const shared = sharedFields(c, path);
  const topK = c.int('num_experts_per_tok');
  return {
    modelType: 'olmoe',
    ...shared,
    attention: gqa(c, { qkNorm: 'full', qkvBias: false }, false),
    window: null,
    denseLayers: [],
    denseHidden: 0,
    moe: { ...softmaxRouter(c, c.int('num_experts'), topK, c.bool('norm_topk_prob')), shared: 0, sharedGate: false, hidden: c.int('intermediate_size') },
    mtpLayers: 0,
  };
}

const READERS: Readonly<Record<HfModelType, { read: (c: ConfigReader, path: string) => HfArchitecture; defaults: HfJson }>> = {
  deepseek_v2: { read: deepseekV2, defaults: DEEPSEEK_V2_DEFAULTS },
  deepseek_v3: { read: deepseekV3, defaults: DEEPSEEK_V3_DEFAULTS },
  mixtral: { read: mixtral, defaults: MIXTRAL_DEFAULTS },
  llama: { read: llama, defaults: LLAMA_DEFAULTS },
  qwen2_moe: { read: qwen2Moe, defaults: QWEN2_MOE_DEFAULTS },
  qwen3_moe: { read: qwen3Moe, defaults: QWEN3_MOE_DEFAULTS },
  olmoe: { read: olmoe, defaults: OLMOE_DEFAULTS },
};

/** The architecture of a parsed config.json, or a RuntimeError naming what cannot be expressed. */
export function readHfArchitecture(json: HfJson, path: string): HfArchitecture {
  const type = json.model_type;
  const reader = typeof type === 'string' && Object.hasOwn(READERS, type) ? READERS[type as HfModelType] : undefined;
  if (!reader) {
    throw new RuntimeError(`${path}: model_type ${JSON.stringify(type)} is not supported`, `moe import hf reads ${SUPPORTED_TYPES.join(', ')} checkpoints`);
  }
  return reader.read(new ConfigReader(json, path, reader.defaults), path);
}
