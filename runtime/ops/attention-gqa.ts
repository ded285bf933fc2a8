/**
 * `attention.gqa` (specs/ir.md §4.7): grouped-query attention with rotary q and k over the whole
 * head (layout from the rope attribute; the lowering writes halves), causal. MHA is kv_heads = heads,
 * MQA kv_heads = 1; the core pairs query head h with kv head floor(h / (heads / kv_heads)).
 */
import type { tf } from '../tf.js';
import type { Kernel } from './kernel.js';
import { causalAttention, expectSequence, intAttr, mergeHeads, scaleAttr, splitHeads } from './attention-core.js';
import { projectT } from './linear.js';
import { applyRotary, parseRope, ropeTables } from './rope.js';

export const attentionGqa: Kernel = ({ inputs, params, attrs }) => {
  const x = inputs[0]!;
  expectSequence(x, 'attention.gqa');
  const heads = intAttr(attrs, 'heads', 1);
  const kvHeads = intAttr(attrs, 'kv_heads', 1);
  const d = intAttr(attrs, 'head_dim', 2);
  const scale = scaleAttr(attrs);
  const config = parseRope(attrs.rope);
  if (heads % kvHeads !== 0) throw new Error(`kv_heads ${kvHeads} must divide heads ${heads}`);
  if (params.length !== 4) throw new Error(`attention.gqa takes 4 parameters (q, k, v, o), found ${params.length}`);
  const [wq, wk, wv, wo] = params as [tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor];
  const tables = ropeTables(config, d, x.shape[1]!);
  const q = applyRotary(splitHeads(projectT(x, wq), heads, d), tables);
  const k = applyRotary(splitHeads(projectT(x, wk), kvHeads, d), tables);
  const v = splitHeads(projectT(x, wv), kvHeads, d);
  return [projectT(mergeHeads(causalAttention([[q, k]], v, scale)), wo)];
};
