/** The olmoe family (transformers' OlmoeConfig). */
import { COMMON_DEFAULTS, sharedFields } from './common.js';
import { gqa, softmaxRouter } from './gqa.js';
import type { ConfigReader, FamilyReader } from './reader.js';
import type { HfArchitecture, HfJson } from './types.js';

const OLMOE_DEFAULTS: HfJson = { ...COMMON_DEFAULTS, max_position_embeddings: 4096, rms_norm_eps: 1e-5, norm_topk_prob: false, router_aux_loss_coef: 0.01, attention_bias: false, clip_qkv: null };

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

export const OLMOE: FamilyReader = { read: olmoe, defaults: OLMOE_DEFAULTS };
