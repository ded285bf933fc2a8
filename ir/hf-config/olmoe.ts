/** olmoe: GQA with a full-width q/k norm, every layer MoE, no shared experts. */
import type { GqaAttention, ModelStructure, MoeFfn } from '../structure.js';
import { fail, first, mtp, noWindow } from './common.js';
import { auxCoef, gqaFields, headDimIsDefault, noBias, noShared, notSoftmaxRouter } from './gqa.js';
import type { HfConfigResult } from './types.js';

export function olmoe(s: ModelStructure, a: GqaAttention, moe: MoeFfn): HfConfigResult {
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
