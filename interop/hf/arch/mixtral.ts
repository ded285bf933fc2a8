/** Mixtral: GQA, every layer MoE with a renormalising softmax router, no shared experts. */
import { COMMON_DEFAULTS, sharedFields } from './common.js';
import { gqa, softmaxRouter } from './gqa.js';
import type { ConfigReader, FamilyReader } from './reader.js';
import type { HfArchitecture, HfJson } from './types.js';

const MIXTRAL_DEFAULTS: HfJson = {
  ...COMMON_DEFAULTS,
  num_key_value_heads: 8,
  head_dim: null,
  max_position_embeddings: 4096 * 32,
  rms_norm_eps: 1e-5,
  rope_theta: 1e6,
  router_aux_loss_coef: 0.001,
};

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

export const MIXTRAL: FamilyReader = { read: mixtral, defaults: MIXTRAL_DEFAULTS };
