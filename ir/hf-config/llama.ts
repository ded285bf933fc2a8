/** llama: GQA, every layer dense. */
import { uniformDense, type GqaAttention, type ModelStructure } from '../structure.js';
import { fail, first, mtp, noWindow } from './common.js';
import { gqaFields, noBias } from './gqa.js';
import type { HfConfigResult } from './types.js';

export function llama(s: ModelStructure, a: GqaAttention): HfConfigResult {
  const dense = uniformDense(s.layers);
  if (!dense.ok) return fail(dense.reason);
  const why = first(noWindow(s, 'llama'), mtp(s, 'llama'), noBias(s.layers[0]!.features, 'llama'));
  if (why) return fail(why);
  return {
    ok: true,
    config: {
      architectures: ['LlamaForCausalLM'],
      model_type: 'llama',
      ...gqaFields(s, a),
      intermediate_size: dense.hidden!,
      head_dim: a.headDim,
      attention_bias: false,
      mlp_bias: false,
      pretraining_tp: 1,
    },
  };
}
