/**
 * DeepSeek's MLA families. deepseek_v3 routes by sigmoid (or softmax) with its own defaults;
 * deepseek_v2 is read for what HF's DeepseekV2 computes, not what its fields suggest.
 */
import { RuntimeError } from '../../../runtime/errors.js';
import { yarnMscale } from '../../../ir/rope.js';
import type { MlaAttention } from '../../../ir/structure.js';
import { COMMON_DEFAULTS, sharedFields } from './common.js';
import type { ConfigReader, FamilyReader } from './reader.js';
import type { HfArchitecture, HfJson, HfMoe } from './types.js';

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

function readScore(c: ConfigReader, path: string): 'sigmoid' | 'softmax' {
  const score = c.str('scoring_func');
  if (score !== 'sigmoid' && score !== 'softmax') throw new RuntimeError(`${path}: scoring_func ${JSON.stringify(score)} is not supported (sigmoid, softmax)`);
  return score;
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

/** The routing settings, which the two DeepSeek families read differently. */
type DeepseekRouting = Pick<HfMoe, 'score' | 'groups' | 'topGroups' | 'normalize'>;

/**
 * An MLA architecture as both DeepSeek families read it, around each family's own `routing`. The
 * fields are read in the order of the object (the first field found wrong is the one reported);
 * DeepseekV2 always adds its shared experts, so there `n_shared_experts` must be positive.
 */
function deepseekMla(c: ConfigReader, shared: ReturnType<typeof sharedFields>, alpha: number, minShared: number, routing: () => DeepseekRouting): Omit<HfArchitecture, 'modelType' | 'mtpLayers'> {
  return {
    ...shared,
    attention: mla(c),
    window: null,
    denseLayers: firstLayers(c.int('first_k_dense_replace', 0), shared.layers),
    denseHidden: c.int('intermediate_size'),
    moe: {
      experts: c.int('n_routed_experts'),
      shared: c.int('n_shared_experts', minShared),
      sharedGate: false,
      hidden: c.int('moe_intermediate_size'),
      topK: c.int('num_experts_per_tok'),
      ...routing(),
      scale: c.num('routed_scaling_factor'),
      aux: alpha > 0 ? { kind: c.bool('seq_aux') ? 'sequence' : 'batch', alpha } : null,
    },
  };
}

function deepseekV3(c: ConfigReader, path: string): HfArchitecture {
  c.require('attention_bias', false, 'the attention projections have no biases');
  c.require('rope_interleave', true, 'MLA rotary rows are read in DeepSeek\'s interleaved order (specs/ir.md §7)');
  const alpha = c.num('aux_loss_alpha');
  const shared = sharedFields(c, path);
  const routing = (): DeepseekRouting => ({ score: readScore(c, path), groups: c.int('n_group'), topGroups: c.int('topk_group'), normalize: c.bool('norm_topk_prob') });
  return {
    modelType: 'deepseek_v3',
    ...deepseekMla(c, shared, alpha, 0, routing),
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
  const routing = (): DeepseekRouting => ({ score: 'softmax', groups: grouped ? c.int('n_group') : 1, topGroups: grouped ? c.int('topk_group') : 1, normalize: false });
  return { modelType: 'deepseek_v2', ...deepseekMla(c, shared, alpha, 1, routing), mtpLayers: 0 };
}

export const DEEPSEEK_V3: FamilyReader = { read: deepseekV3, defaults: DEEPSEEK_V3_DEFAULTS };
export const DEEPSEEK_V2: FamilyReader = { read: deepseekV2, defaults: DEEPSEEK_V2_DEFAULTS };
