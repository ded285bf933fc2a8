/**
 * The attention ops with a KV cache: the same math as runtime/ops/attention-{gqa,mla}.ts, for T new
 * columns per row against every cached column, with per-row positions and a padding mask (which
 * also hides the columns outside a sliding window: the cache keeps every column).
 *
 * MLA in latent mode caches c = norm(x·W_kv_a) [kv_rank] and the rotated k_pe [rope_dim] and never
 * expands keys or values: with kv_b split per head into W_uk [dn, R] and W_uv [dv, R],
 *   ⟨q_nope, W_uk·c⟩ = ⟨W_ukᵀ·q_nope, c⟩      (the key up-projection absorbed into the query)
 *   Σ_u p_u · W_uv·c_u = W_uv · Σ_u p_u · c_u   (the value up-projection applied after the sum)
 * so scores and the weighted sum run in the R-wide latent space shared by all heads (DeepSeek-V3's
 * reference `attn_impl = "absorb"`). Naive mode caches HF's expanded per-head keys and values; both
 * give the training forward's logits up to rounding (test/runtime/infer).
 */
import { tf } from '../tf.js';
import { expectSequence, grouped, mergeHeads, permute, splitHeadParts } from '../ops/attention-core.js';
import { gqaProjections, gqaShape } from '../ops/attention-gqa.js';
import { mlaProjections, mlaShape, type MlaProjections } from '../ops/attention-mla.js';
import { rmsnorm } from '../ops/rms-norm.js';
import type { KernelArgs } from '../ops/kernel.js';
import { projectT } from '../ops/linear.js';
import type { RopeConfig, RotaryTables } from '../ops/rope.js';
import type { LayerCache, MlaCacheMode } from './cache.js';
import { rotate } from './rotary.js';

/** What every cached attention call shares within one step. */
export interface StepInputs {
  /** rotary tables of this step's positions for a rope config and width (shared by the layers) */
  readonly rotary: (config: RopeConfig, d: number) => RotaryTables;
  /** additive mask [B, 1, T, Tk] over all cached columns (this step's included), for a sliding window or null (full) */
  readonly mask: (window: number | null) => tf.Tensor;
  /** where this step's columns go in a fixed-capacity cache (int32 [1]); undefined for growing caches */
  readonly at: tf.Tensor1D | undefined;
  readonly mlaCache: MlaCacheMode;
  /** tensors derived from a weight, made once per generation (the weights are frozen meanwhile) */
  readonly derived: (weight: tf.Tensor, make: () => tf.Tensor[]) => tf.Tensor[];
}

/** softmax(Σ scale·⟨q_i, k_i⟩ + mask) · v, heads grouped over the keys' heads (as in training). */
function maskedAttention(pairs: readonly (readonly [tf.Tensor, tf.Tensor])[], v: tf.Tensor, scale: number, mask: tf.Tensor): tf.Tensor {
  const parts = pairs.map(([q, k]) => grouped(scale === 1 ? q : tf.mul(q, scale), k, true));
  const scores = parts.length === 1 ? parts[0]! : tf.addN(parts);
  return grouped(tf.softmax(tf.add(scores, mask)), v, false);
}

export function cachedGqa(args: KernelArgs, cache: LayerCache, step: StepInputs): tf.Tensor {
  const x = args.inputs[0]!;
  expectSequence(x, 'attention.gqa');
  const p = gqaShape(args);
  const { q, k, v } = gqaProjections(x, p);
  const tables = step.rotary(p.rope, p.head_dim);
  const [keys, values] = cache.append([rotate(k, tables), v], step.at) as [tf.Tensor, tf.Tensor];
  return projectT(mergeHeads(maskedAttention([[rotate(q, tables), keys]], values, p.softmax_scale, step.mask(p.window))), p.wo);
}

/** [B, H, T, a] × per-head [H, a, b] (or its transpose) → [B, H, T, b]: one batched matmul over heads. */
function perHead(x: tf.Tensor, w: tf.Tensor, transposeW: boolean): tf.Tensor {
  const [batch, heads, time, width] = x.shape as [number, number, number, number];
  const byHead = tf.reshape(permute(x, [1, 0, 2, 3]), [heads, batch * time, width]);
  const out = tf.matMul(byHead, w, false, transposeW);
  return permute(tf.reshape(out, [heads, batch, time, out.shape[2]!]), [1, 0, 2, 3]);
}

/**
 * mlaProjections for the latent cache, from weights split once per generation (step.derived): the
 * query's nope and rope parts, and kv_a's latent and rotary-key parts, each their own product
 * instead of one product sliced in two (a slice is a dispatch per part and step), and the rope
 * queries scaled by the softmax scale in their weights (the nope queries get it through W_uk).
 */
function latentProjections(args: KernelArgs, step: StepInputs): MlaProjections {
  const x = args.inputs[0]!;
  expectSequence(x, 'attention.mla');
  const p = mlaShape(args);
  const [batch, time] = x.shape as [number, number, number];
  const heads = (t: tf.Tensor, width: number): tf.Tensor => permute(tf.reshape(t, [batch, time, p.heads, width]), [0, 2, 1, 3]);
  const queryWeight = p.qRank > 0 ? args.params[2]! : args.params[0]!;
  const [wNope, wPe] = step.derived(queryWeight, () => {
    const byHead = tf.reshape(queryWeight, [p.heads, p.nopeDim + p.ropeDim, -1]);
    const [nope, pe] = tf.split(byHead, [p.nopeDim, p.ropeDim], 1);
    return [tf.reshape(nope!, [p.heads * p.nopeDim, -1]), tf.reshape(tf.mul(pe!, p.scale), [p.heads * p.ropeDim, -1])];
  }) as [tf.Tensor, tf.Tensor];
  const [wkvA, kvNorm] = args.params.slice(-4) as [tf.Tensor, tf.Tensor];
  const [wLatent, wKPe] = step.derived(wkvA, () => tf.split(wkvA, [p.kvRank, p.ropeDim], 0)) as [tf.Tensor, tf.Tensor];
  const cq = p.qRank > 0 ? rmsnorm(projectT(x, args.params[0]!), args.params[1]!, p.eps) : x;
  return {
    ...p,
    qNope: heads(projectT(cq, wNope), p.nopeDim),
    qPe: heads(projectT(cq, wPe), p.ropeDim),
    latent: rmsnorm(tf.reshape(projectT(x, wLatent), [batch * time, p.kvRank]), kvNorm, p.eps),
    kPe: tf.reshape(projectT(x, wKPe), [batch, 1, time, p.ropeDim]),
  };
}

export function cachedMla(args: KernelArgs, cache: LayerCache, step: StepInputs): tf.Tensor {
  const p = step.mlaCache === 'naive' ? mlaProjections(args) : latentProjections(args, step);
  const [batch, time] = args.inputs[0]!.shape as [number, number, number];
  const tables = step.rotary(p.rope, p.ropeDim);
  const qRot = rotate(p.qPe, tables);
  const kRot = rotate(p.kPe, tables);

  if (step.mlaCache === 'naive') {
    // HF's cache: every head's [k_nope; k_pe] and v, expanded from the latent
    const kv = tf.reshape(projectT(p.latent, p.wkvB), [batch, time, p.heads * (p.nopeDim + p.vDim)]);
    const [kNope, v] = splitHeadParts(kv, p.heads, [p.nopeDim, p.vDim]) as [tf.Tensor, tf.Tensor];
    const k = tf.concat([kNope, tf.tile(kRot, [1, p.heads, 1, 1])], 3);
    const [keys, values] = cache.append([k, v], step.at) as [tf.Tensor, tf.Tensor];
    const q = tf.concat([p.qNope, qRot], 3);
    return projectT(mergeHeads(maskedAttention([[q, keys]], values, p.scale, step.mask(p.window))), p.wo);
  }

  const [latents, ropeKeys] = cache.append([tf.reshape(p.latent, [batch, 1, time, p.kvRank]), kRot], step.at) as [tf.Tensor, tf.Tensor];
  // kv_b [H·(dn + dv), R] → W_uk [H, dn, R] (times the softmax scale, which the scores then need
  // no more) and W_uv [H, dv, R]; the rotary queries come pre-scaled from latentProjections
  const [wUk, wUv] = step.derived(p.wkvB, () => {
    const [uk, uv] = tf.split(tf.reshape(p.wkvB, [p.heads, p.nopeDim + p.vDim, p.kvRank]), [p.nopeDim, p.vDim], 1);
    return [tf.mul(uk!, p.scale), uv!];
  }) as [tf.Tensor, tf.Tensor];
  const qLatent = perHead(p.qNope, wUk, false);
  const oLatent = maskedAttention([[qLatent, latents], [qRot, ropeKeys]], latents, 1, step.mask(p.window));
  return projectT(mergeHeads(perHead(oLatent, wUv, true)), p.wo);
}
