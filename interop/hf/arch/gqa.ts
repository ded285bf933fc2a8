/** What the GQA families (Mixtral, Llama, Qwen, OLMoE) read alike: the attention, and the softmax router of the MoE ones. */
import type { ConfigReader } from './reader.js';
import type { GqaFeatures, HfAttention, HfMoe } from './types.js';

/** A GQA attention; `num_key_value_heads` absent means as many as the query heads. */
export function gqa(c: ConfigReader, features: GqaFeatures, headDim: boolean): HfAttention {
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
export function softmaxRouter(c: ConfigReader, experts: number, topK: number, normalize: boolean) {
  return { experts, topK, score: 'softmax', groups: 1, topGroups: 1, normalize, scale: 1, aux: batchAux(c, topK) } as const;
}
