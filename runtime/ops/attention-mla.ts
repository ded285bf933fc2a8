/**
 * `attention.mla` (specs/ir.md §4.6): multi-head latent attention. Queries optionally through a
 * low-rank bottleneck; keys and values from a normalised latent c (kv_rank wide) expanded per head,
 * plus one rotary key k_pe shared by all heads. Computed in the expanded (non-absorbed) form; the
 * scores are ⟨q_nope, k_nope⟩ + ⟨q_pe, k_pe⟩, so k_pe is never broadcast to every head.
 * `mlaProjections` is shared with cached decoding (runtime/infer/attention.ts).
 */
import { tf } from '../tf.js';
import type { Kernel, KernelArgs } from './kernel.js';
import { readAttrs } from '../../ir/attrs.js';
import { mlaDims, type MlaDims } from '../../ir/structure.js';
import { causalAttention, expectSequence, mergeHeads, splitHeadParts } from './attention-core.js';
import { projectT } from './linear.js';
import { rmsnorm } from './rms-norm.js';
import { applyRotary, ropeTables, type RopeConfig } from './rope.js';

/** MLA's attributes and the weights applied after the cache (kv_b, o), checked once. */
export interface MlaShape extends MlaDims {
  readonly eps: number;
  readonly scale: number;
  readonly rope: RopeConfig;
  /** sliding window, null for full causal attention */
  readonly window: number | null;
  /** kv_b [H·(nope + v), kv_rank] and o [D, H·v] */
  readonly wkvB: tf.Tensor;
  readonly wo: tf.Tensor;
}

export interface MlaProjections extends MlaShape {
  /** [B, H, T, nope] and [B, H, T, rope] (not yet rotated) */
  readonly qNope: tf.Tensor;
  readonly qPe: tf.Tensor;
  /** the normalised latent c [B·T, kv_rank] and the rotary key input [B, 1, T, rope] (not yet rotated) */
  readonly latent: tf.Tensor;
  readonly kPe: tf.Tensor;
}

/** The attributes and parameter count of an attention.mla node, checked. */
export function mlaShape({ params, attrs }: KernelArgs): MlaShape {
  const a = readAttrs('attention.mla', attrs);
  const qRank = a.q_rank;
  const expected = qRank > 0 ? 7 : 5;
  if (params.length !== expected) throw new Error(`attention.mla with q_rank ${qRank} takes ${expected} parameters, found ${params.length}`);
  // the parameter order of compiler/lower/model.ts: the query part, then kv_a, kv_a norm, kv_b, o
  const [wkvB, wo] = params.slice(-2) as [tf.Tensor, tf.Tensor];
  return {
    ...mlaDims(a),
    eps: a.eps,
    scale: a.softmax_scale,
    rope: a.rope,
    window: a.window,
    wkvB,
    wo,
  };
}

/** Everything of MLA that depends only on the new tokens: the attributes, queries, latent and k_pe. */
export function mlaProjections(args: KernelArgs): MlaProjections {
  const x = args.inputs[0]!;
  expectSequence(x, 'attention.mla');
  const shape = mlaShape(args);
  const { params } = args;
  const { heads, qRank, kvRank, nopeDim, ropeDim, eps } = shape;
  const [wkvA, kvNorm] = params.slice(-4) as [tf.Tensor, tf.Tensor];
  const [batch, time] = x.shape as [number, number, number];

  const queries = qRank > 0 ? projectT(rmsnorm(projectT(x, params[0]!), params[1]!, eps), params[2]!) : projectT(x, params[0]!);
  const [qNope, qPe] = splitHeadParts(queries, heads, [nopeDim, ropeDim]) as [tf.Tensor, tf.Tensor];
  // [B·T, R + dr] → the latent c and the (single-head) rotary key input, split on a 2-D view
  const [latent, kPe] = tf.split(tf.reshape(projectT(x, wkvA), [batch * time, kvRank + ropeDim]), [kvRank, ropeDim], 1) as [tf.Tensor, tf.Tensor];
  return { ...shape, qNope, qPe, latent: rmsnorm(latent, kvNorm, eps), kPe: tf.reshape(kPe, [batch, 1, time, ropeDim]) };
}

export const attentionMla: Kernel = (args) => {
  const p = mlaProjections(args);
  const [batch, time] = args.inputs[0]!.shape as [number, number, number];
  const kv = tf.reshape(projectT(p.latent, p.wkvB), [batch, time, p.heads * (p.nopeDim + p.vDim)]);
  const [kNope, v] = splitHeadParts(kv, p.heads, [p.nopeDim, p.vDim]) as [tf.Tensor, tf.Tensor];
  const tables = ropeTables(p.rope, p.ropeDim, time);
  const qRot = applyRotary(p.qPe, tables);
  const kRot = applyRotary(p.kPe, tables);
  return [projectT(mergeHeads(causalAttention([[p.qNope, kNope], [qRot, kRot]], v, p.scale, p.window)), p.wo)];
};
