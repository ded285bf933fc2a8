/** Llama: GQA, every layer dense SwiGLU, no biases. */
import { COMMON_DEFAULTS, sharedFields } from './common.js';
import { gqa } from './gqa.js';
import type { ConfigReader, FamilyReader } from './reader.js';
import type { HfArchitecture, HfJson } from './types.js';

const LLAMA_DEFAULTS: HfJson = { ...COMMON_DEFAULTS, max_position_embeddings: 2048, rms_norm_eps: 1e-6, head_dim: null, attention_bias: false, mlp_bias: false };

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

export const LLAMA: FamilyReader = { read: llama, defaults: LLAMA_DEFAULTS };
