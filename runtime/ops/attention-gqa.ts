/**
 * `attention.gqa` (specs/ir.md §4.7): grouped-query attention with rotary q and k over the whole
 * head (layout from the rope attribute; the lowering writes halves), causal. MHA is kv_heads = heads,
 * MQA kv_heads = 1; the core pairs query head h with kv head floor(h / (heads / kv_heads)).
 */
import type { tf } from '../tf.js';
import { readAttrs, type AttrsOf } from '../../ir/attrs.js';
import type { Kernel, KernelArgs } from './kernel.js';
import { causalAttention, expectSequence, mergeHeads, splitHeads } from './attention-core.js';
import { projectT } from './linear.js';
import { applyRotary, ropeTables } from './rope.js';

/** GQA's attributes and weights, checked once for training and cached decoding (runtime/infer/attention.ts). */
export function gqaShape({ params, attrs }: KernelArgs): AttrsOf<'attention.gqa'> & { readonly weights: readonly [tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor] } {
  const a = readAttrs('attention.gqa', attrs);
  if (a.heads % a.kv_heads !== 0) throw new Error(`kv_heads ${a.kv_heads} must divide heads ${a.heads}`);
  if (params.length !== 4) throw new Error(`attention.gqa takes 4 parameters (q, k, v, o), found ${params.length}`);
  return { ...a, weights: params as [tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor] };
}

export const attentionGqa: Kernel = (args) => {
  const x = args.inputs[0]!;
  expectSequence(x, 'attention.gqa');
  const { heads, kv_heads: kvHeads, head_dim: d, softmax_scale: scale, rope: config, weights } = gqaShape(args);
  const [wq, wk, wv, wo] = weights;
  const tables = ropeTables(config, d, x.shape[1]!);
  const q = applyRotary(splitHeads(projectT(x, wq), heads, d), tables);
  const k = applyRotary(splitHeads(projectT(x, wk), kvHeads, d), tables);
  const v = splitHeads(projectT(x, wv), kvHeads, d);
  return [projectT(mergeHeads(causalAttention([[q, k]], v, scale)), wo)];
};
