/** What the GQA families (llama, mixtral, qwen2_moe, qwen3_moe, olmoe) write alike and refuse alike. */
import type { Block, GqaAttention, MoeFfn, ModelStructure } from '../structure.js';
import { common } from './common.js';
import type { HfFamily, JsonValue } from './types.js';

/** Each layer's sliding window (null: full attention) and their one size. */
export type Windows = { sizes: (number | null)[]; size: number | null };

/** The sliding window of each layer, or why the windows differ in size. */
export function windows(s: ModelStructure): Windows | string {
  const sizes = s.layers.map((l) => l.features.window);
  const distinct = [...new Set(sizes.filter((w): w is number => w !== null))];
  if (distinct.length > 1) return `the layers' windows differ in size (${distinct.join(', ')}); HF gives one \`sliding_window\``;
  return { sizes, size: distinct[0] ?? null };
}

/** Why a MoE layer's router and experts are not what a softmax family computes (Mixtral, Qwen, OLMoE). */
export function notSoftmaxRouter(moe: MoeFfn): string | undefined {
  if (moe.score !== 'softmax') return `\`score = ${moe.score}\`: it routes by softmax`;
  if (moe.groups > 1 && moe.topGroups < moe.groups) return `\`groups = ${moe.groups}\`: it has no group-limited routing`;
  if (moe.biasRate !== null) return '`balance = bias`: it has no selection bias';
  if (moe.scale !== 1) return `\`scale = ${moe.scale}\`: it does not scale the routed output`;
  if (moe.balance?.kind === 'sequence') return '`aux_loss = sequence`: its router_aux_loss_coef is batch-wise';
  return undefined;
}

/** HF's batch-wise load_balancing_loss_func is top_k times the IR's batch balance loss (specs/ir.md §4.11). */
export function auxCoef(moe: MoeFfn): number {
  return (moe.balance?.alpha ?? 0) / moe.topK;
}

export function gqaFields(s: ModelStructure, a: GqaAttention): { [k: string]: JsonValue } {
  return { ...common(s), num_attention_heads: a.heads, num_key_value_heads: a.kvHeads };
}

export function headDimIsDefault(s: ModelStructure, a: GqaAttention, family: HfFamily): string | undefined {
  return a.headDim * a.heads !== s.dim ? `\`head_dim = ${a.headDim}\`: HF's ${family} has no head_dim, its heads are hidden_size / heads = ${s.dim / a.heads} wide` : undefined;
}

export function noBias(features: Block['features'], family: HfFamily): string | undefined {
  return features.qkvBias ? `\`qkv_bias = true\`: HF's ${family} has no q/k/v biases (qwen2_moe has)` : undefined;
}

export function noShared(moe: MoeFfn, family: HfFamily): string | undefined {
  return moe.shared > 0 ? `\`shared = ${moe.shared}\`: HF's ${family} has no shared experts` : undefined;
}
