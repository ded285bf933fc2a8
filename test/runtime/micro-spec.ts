/**
 * A micro spec with every model feature (MLA with q compression and YaRN, a dense layer, MoE with a
 * shared expert, sigmoid routing with groups and bias, balance and z losses, MTP) and a fixed batch
 * of token ids, shared by the whole-model and training-step tests.
 */
import type { ModelGraph } from '../../ir/types.js';
import { lowerSpec } from '../../compiler/lower/index.js';
import { checkText } from '../helpers.js';

export const MICRO = `model Micro {
  vocab = 40, dim = 16, layers = 2, context = 64
  init { std = 0.2 }
  rope { theta = 10000, scaling yarn { factor = 2, original_context = 32, mscale_all_dim = 1 } }
  attention mla { heads = 2, q_rank = 8, kv_rank = 8, nope_dim = 4, rope_dim = 4, v_dim = 4 }
  layers 0..0 { ffn swiglu { hidden = 24 } }
  layers 1..1 {
    moe {
      experts = 4, shared = 1, hidden = 8, top_k = 2
      router {
        score = sigmoid, groups = 2, top_groups = 1, scale = 1.5
        balance = bias { rate = 1e-3 }, aux_loss = sequence { alpha = 1e-2 }, z_loss = 1e-3
      }
    }
  }
  mtp { depth = 1, weight = 0.3 }
}`;

export const IDS = [
  [1, 5, 9, 2, 33, 7, 7, 12],
  [3, 3, 18, 26, 0, 39, 4, 11],
];

/** A byte-vocabulary GQA + MoE model small enough to train in seconds: the CLI training and run tests. */
export const MINI_MODEL = `model Mini {
  vocab = 260, dim = 16, layers = 2, context = 64
  init { std = 0.05 }
  attention gqa { heads = 2, kv_heads = 1 }
  layers 0..0 { ffn swiglu { hidden = 32 } }
  layers 1..1 { moe { experts = 4, hidden = 8, top_k = 2, router { balance = bias { rate = 1e-3 } } } }
}`;

/** The micro spec's model graph, lowered (its check must be clean). */
export function microModel(): ModelGraph {
  const checked = checkText(MICRO);
  if (checked.diagnostics.length > 0) throw new Error(`the micro spec does not check clean: ${checked.diagnostics.map((d) => d.code).join(', ')}`);
  return lowerSpec(checked, '/mem').models[0]!;
}
