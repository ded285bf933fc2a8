/**
 * A HF `config.json` read into the architecture a `.moe` spec states. Sizes must be written; the
 * behavioural fields fall back to the defaults of HF's config class (DeepseekV3Config,
 * MixtralConfig), because that is what transformers itself runs when a field is absent. Anything
 * our IR cannot express (another rope type, attention biases, non-interleaved MLA rotary rows, …)
 * is refused with the field that says so.
 */
import { RuntimeError } from '../../runtime/errors.js';

export type HfJson = { readonly [k: string]: unknown };

export type { RopeScaling } from '../../ir/rope.js';
import type { RopeScaling } from '../../ir/rope.js';
import type { MlaAttention, RouterSettings } from '../../ir/structure.js';

/** MLA as the IR states it; GQA's head_dim is null where config.json has none (the spec then leaves it out). */
export type HfAttention =
  | MlaAttention
  | { readonly kind: 'gqa'; readonly heads: number; readonly kvHeads: number; readonly headDim: number | null };

export interface HfMoe extends RouterSettings {
  readonly shared: number;
  readonly hidden: number;
  readonly aux: { readonly kind: 'sequence' | 'batch'; readonly alpha: number } | null;
}

export interface HfArchitecture {
  readonly modelType: 'deepseek_v3' | 'mixtral';
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
  /** the first `denseLayers` layers are dense SwiGLU of `denseHidden`; the rest are MoE */
  readonly denseLayers: number;
  readonly denseHidden: number;
  readonly moe: HfMoe;
  /** MTP modules the config announces (DeepSeek's `num_nextn_predict_layers`) */
  readonly mtpLayers: number;
}

export const SUPPORTED_TYPES = ['deepseek_v3', 'mixtral'] as const;

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

  record(key: string): HfJson | null {
    const v = this.json[key];
    return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as HfJson) : null;
  }
}

const DEEPSEEK_DEFAULTS: HfJson = {
  max_position_embeddings: 4096,
  rms_norm_eps: 1e-6,
  tie_word_embeddings: false,
  initializer_range: 0.02,
  rope_theta: 10000,
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

const MIXTRAL_DEFAULTS: HfJson = {
  num_key_value_heads: 8,
  head_dim: null,
  max_position_embeddings: 4096 * 32,
  rms_norm_eps: 1e-5,
  rope_theta: 1e6,
  router_aux_loss_coef: 0.001,
  tie_word_embeddings: false,
  initializer_range: 0.02,
};

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

function deepseekV3(c: ConfigReader, path: string): HfArchitecture {
  c.require('hidden_act', 'silu', 'the feed-forward is SwiGLU (silu)');
  c.require('attention_bias', false, 'the attention projections have no biases');
  c.require('rope_interleave', true, 'MLA rotary rows are read in DeepSeek\'s interleaved order (specs/ir.md §7)');
  const experts = c.int('n_routed_experts');
  const groups = c.int('n_group');
  const alpha = c.num('aux_loss_alpha');
  const shared = sharedFields(c, path);
  return {
    modelType: 'deepseek_v3',
    ...shared,
    attention: {
      kind: 'mla',
      heads: c.int('num_attention_heads'),
      qRank: c.intOrNull('q_lora_rank') ?? 0,
      kvRank: c.int('kv_lora_rank'),
      nopeDim: c.int('qk_nope_head_dim'),
      ropeDim: c.int('qk_rope_head_dim'),
      vDim: c.int('v_head_dim'),
    },
    denseLayers: Math.min(c.int('first_k_dense_replace', 0), shared.layers),
    denseHidden: c.int('intermediate_size'),
    moe: {
      experts,
      shared: c.int('n_shared_experts', 0),
      hidden: c.int('moe_intermediate_size'),
      topK: c.int('num_experts_per_tok'),
      score: readScore(c, path),
      groups,
      topGroups: c.int('topk_group'),
      normalize: c.bool('norm_topk_prob'),
      scale: c.num('routed_scaling_factor'),
      aux: alpha > 0 ? { kind: c.bool('seq_aux') ? 'sequence' : 'batch', alpha } : null,
    },
    mtpLayers: c.int('num_nextn_predict_layers', 0),
  };
}

function mixtral(c: ConfigReader, path: string): HfArchitecture {
  c.require('hidden_act', 'silu', 'the feed-forward is SwiGLU (silu)');
  c.require('sliding_window', null, 'attention spans the whole context (no sliding window)');
  const topK = c.int('num_experts_per_tok');
  // our exporter writes router_aux_loss_coef = alpha / top_k (HF's loss is top_k times the IR's)
  const coef = c.num('router_aux_loss_coef');
  const shared = sharedFields(c, path);
  return {
    modelType: 'mixtral',
    ...shared,
    attention: { kind: 'gqa', heads: c.int('num_attention_heads'), kvHeads: c.int('num_key_value_heads'), headDim: c.intOrNull('head_dim') },
    denseLayers: 0,
    denseHidden: 0,
    moe: {
      experts: c.int('num_local_experts'),
      shared: 0,
      hidden: c.int('intermediate_size'),
      topK,
      score: 'softmax',
      groups: 1,
      topGroups: 1,
      normalize: true,
      scale: 1,
      aux: coef > 0 ? { kind: 'batch', alpha: coef * topK } : null,
    },
    mtpLayers: 0,
  };
}

/** The architecture of a parsed config.json, or a RuntimeError naming what cannot be expressed. */
export function readHfArchitecture(json: HfJson, path: string): HfArchitecture {
  const type = json.model_type;
  if (type === 'deepseek_v3') return deepseekV3(new ConfigReader(json, path, DEEPSEEK_DEFAULTS), path);
  if (type === 'mixtral') return mixtral(new ConfigReader(json, path, MIXTRAL_DEFAULTS), path);
  throw new RuntimeError(
    `${path}: model_type ${JSON.stringify(type)} is not supported`,
    `moe import hf reads ${SUPPORTED_TYPES.join(' and ')} checkpoints`,
  );
}
