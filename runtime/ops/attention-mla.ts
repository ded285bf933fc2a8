/**
 * `attention.mla` (specs/ir.md §4.6): multi-head latent attention. Queries optionally through a
 * low-rank bottleneck; keys and values from a normalised latent c (kv_rank wide) expanded per head,
 * plus one rotary key k_pe shared by all heads. Computed in the expanded (non-absorbed) form; the
 * scores are ⟨q_nope, k_nope⟩ + ⟨q_pe, k_pe⟩, so k_pe is never broadcast to every head.
 */
import { tf } from '../tf.js';
import type { Kernel } from './kernel.js';
import { causalAttention, expectSequence, intAttr, mergeHeads, scaleAttr, splitHeadParts } from './attention-core.js';
import { projectT } from './linear.js';
import { epsAttr, rmsnorm } from './rms-norm.js';
import { applyRotary, parseRope, ropeTables } from './rope.js';

export const attentionMla: Kernel = ({ inputs, params, attrs }) => {
  const x = inputs[0]!;
  expectSequence(x, 'attention.mla');
  const heads = intAttr(attrs, 'heads', 1);
  const qRank = intAttr(attrs, 'q_rank', 0);
  const kvRank = intAttr(attrs, 'kv_rank', 1);
  const dn = intAttr(attrs, 'nope_dim', 1);
  const dr = intAttr(attrs, 'rope_dim', 2);
  const dv = intAttr(attrs, 'v_dim', 1);
  const eps = epsAttr(attrs);
  const scale = scaleAttr(attrs);
  const config = parseRope(attrs.rope);
  const expected = qRank > 0 ? 7 : 5;
  if (params.length !== expected) throw new Error(`attention.mla with q_rank ${qRank} takes ${expected} parameters, found ${params.length}`);
  // the parameter order of compiler/lower/model.ts: the query part, then kv_a, kv_a norm, kv_b, o
  const [wkvA, kvNorm, wkvB, wo] = params.slice(-4) as [tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor];
  const [batch, time] = x.shape as [number, number, number];

  const queries = qRank > 0 ? projectT(rmsnorm(projectT(x, params[0]!), params[1]!, eps), params[2]!) : projectT(x, params[0]!);
  const [qNope, qPe] = splitHeadParts(queries, heads, [dn, dr]) as [tf.Tensor, tf.Tensor];

  // [B·T, R + dr] → the latent c and the (single-head) rotary key input, split on a 2-D view
  const [latent, kPe] = tf.split(tf.reshape(projectT(x, wkvA), [batch * time, kvRank + dr]), [kvRank, dr], 1) as [tf.Tensor, tf.Tensor];
  const kv = tf.reshape(projectT(rmsnorm(latent, kvNorm, eps), wkvB), [batch, time, heads * (dn + dv)]);
  const [kNope, v] = splitHeadParts(kv, heads, [dn, dv]) as [tf.Tensor, tf.Tensor];

  const tables = ropeTables(config, dr, time);
  const qRot = applyRotary(qPe, tables);
  const kRot = applyRotary(tf.reshape(kPe, [batch, 1, time, dr]), tables);
  return [projectT(mergeHeads(causalAttention([[qNope, kNope], [qRot, kRot]], v, scale)), wo)];
};
