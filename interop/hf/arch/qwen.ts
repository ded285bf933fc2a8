/**
 * The Qwen MoE families: GQA, softmax routing, dense layers by `mlp_only_layers` and
 * `decoder_sparse_step`. qwen2_moe adds q/k/v biases, a sliding window and a gated shared expert;
 * qwen3_moe a per-head q/k norm.
 */
import { RuntimeError } from '../../../runtime/errors.js';
import { MAX_COUNT } from '../../../compiler/schema/limits.js';
import { COMMON_DEFAULTS, sharedFields } from './common.js';
import { gqa, softmaxRouter } from './gqa.js';
import type { ConfigReader, FamilyReader } from './reader.js';
import type { HfArchitecture, HfJson, HfMoe, HfWindow } from './types.js';

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

export const QWEN2_MOE: FamilyReader = { read: qwen2Moe, defaults: QWEN2_MOE_DEFAULTS };
export const QWEN3_MOE: FamilyReader = { read: qwen3Moe, defaults: QWEN3_MOE_DEFAULTS };
