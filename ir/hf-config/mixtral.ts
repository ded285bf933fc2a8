/** mixtral: GQA without q/k norm, every layer MoE, a renormalising softmax router, no shared experts. */
import type { GqaAttention, ModelStructure, MoeFfn } from '../structure.js';
import { fail, first, mtp } from './common.js';
import { auxCoef, gqaFields, noBias, noShared, notSoftmaxRouter, type Windows } from './gqa.js';
import type { HfConfigResult } from './types.js';

/** Why a GQA MoE model is not a Mixtral, or undefined when it is one. */
export function notMixtral(s: ModelStructure, moe: MoeFfn): string | undefined {
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

export function mixtral(s: ModelStructure, a: GqaAttention, moe: MoeFfn, w: Windows): HfConfigResult {
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
