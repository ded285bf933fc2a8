/**
 * `attention.gqa` (specs/ir.md §4.7): grouped-query attention with rotary q and k over the whole
 * head (layout from the rope attribute; the lowering writes halves), causal, optionally within a
 * sliding window. MHA is kv_heads = heads, MQA kv_heads = 1; the core pairs query head h with kv
 * head floor(h / (heads / kv_heads)). Optional q/k/v biases (Qwen2-MoE) and an RMSNorm of q and k
 * before rotary, per head (Qwen3-MoE) or over the whole projection (OLMoE).
 * `gqaProjections` is shared with cached decoding (runtime/infer/attention.ts).
 */
import { tf } from '../tf.js';
import { readAttrs, type AttrsOf } from '../../ir/attrs.js';
import { gqaParamShapes } from '../../ir/ops.js';
import type { Kernel, KernelArgs } from './kernel.js';
import { causalAttention, expectSequence, mergeHeads, splitHeads } from './attention-core.js';
import { projectT } from './linear.js';
import { rmsnorm } from './rms-norm.js';
import { applyRotary, ropeTables } from './rope.js';

/** GQA's attributes and weights in the node's order (compiler/lower/model.ts), checked once. */
export interface GqaShape extends AttrsOf<'attention.gqa'> {
  readonly wq: tf.Tensor;
  readonly wk: tf.Tensor;
  readonly wv: tf.Tensor;
  readonly wo: tf.Tensor;
  /** q, k, v biases with qkv_bias */
  readonly bias: readonly [tf.Tensor, tf.Tensor, tf.Tensor] | null;
  /** q and k norm weights with qk_norm */
  readonly norm: readonly [tf.Tensor, tf.Tensor] | null;
}

export function gqaShape({ params, attrs }: KernelArgs): GqaShape {
  const a = readAttrs('attention.gqa', attrs);
  if (a.heads % a.kv_heads !== 0) throw new Error(`kv_heads ${a.kv_heads} must divide heads ${a.heads}`);
  const expected = gqaParamShapes(a.heads, a.kv_heads, a.head_dim, 0, a.qk_norm, a.qkv_bias).length;
  if (params.length !== expected) {
    throw new Error(`attention.gqa with qkv_bias ${a.qkv_bias} and qk_norm ${a.qk_norm} takes ${expected} parameters, found ${params.length}`);
  }
  const [wq, wk, wv, wo] = params as [tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor];
  const bias = a.qkv_bias ? (params.slice(4, 7) as [tf.Tensor, tf.Tensor, tf.Tensor]) : null;
  const norm = a.qk_norm === 'none' ? null : (params.slice(a.qkv_bias ? 7 : 4) as [tf.Tensor, tf.Tensor]);
  return { ...a, wq, wk, wv, wo, bias, norm };
}

export interface GqaProjections {
  /** [B, H, T, d] and [B, G, T, d], normalised (with qk_norm) but not yet rotated */
  readonly q: tf.Tensor;
  readonly k: tf.Tensor;
  /** [B, G, T, d] */
  readonly v: tf.Tensor;
}

/** x·Wᵀ (+ b) over [B, T, D]. */
function project(x: tf.Tensor, w: tf.Tensor, b: tf.Tensor | undefined): tf.Tensor {
  const y = projectT(x, w);
  return b === undefined ? y : tf.add(y, b);
}

/**
 * RMSNorm of one head's d channels ([B, T, n·d], weight [d]): on the 2-D view [B·T·n, d], as HF
 * normalises after `view(…, n, d)` and before the transpose and rotary.
 */
function perHeadNorm(x: tf.Tensor, w: tf.Tensor, heads: number, eps: number): tf.Tensor {
  const [batch, time, width] = x.shape as [number, number, number];
  const rows = tf.reshape(x, [batch * time * heads, width / heads]);
  return tf.reshape(rmsnorm(rows, w, eps), [batch, time, width]);
}

/** The new tokens' queries, keys and values: projections, biases, q/k norm, heads split. */
export function gqaProjections(x: tf.Tensor, p: GqaShape): GqaProjections {
  const { heads, kv_heads: kvHeads, head_dim: d, eps } = p;
  let q = project(x, p.wq, p.bias?.[0]);
  let k = project(x, p.wk, p.bias?.[1]);
  const v = project(x, p.wv, p.bias?.[2]);
  if (p.norm !== null) {
    const [wqn, wkn] = p.norm;
    if (p.qk_norm === 'head') {
      q = perHeadNorm(q, wqn, heads, eps);
      k = perHeadNorm(k, wkn, kvHeads, eps);
    } else {
      // OLMoE: over the whole projection, before the head split
      q = rmsnorm(q, wqn, eps);
      k = rmsnorm(k, wkn, eps);
    }
  }
  return { q: splitHeads(q, heads, d), k: splitHeads(k, kvHeads, d), v: splitHeads(v, kvHeads, d) };
}

export const attentionGqa: Kernel = (args) => {
  const x = args.inputs[0]!;
  expectSequence(x, 'attention.gqa');
  const p = gqaShape(args);
  const { q, k, v } = gqaProjections(x, p);
  const tables = ropeTables(p.rope, p.head_dim, x.shape[1]!);
  const attended = causalAttention([[applyRotary(q, tables), applyRotary(k, tables)]], v, p.softmax_scale, p.window);
  return [projectT(mergeHeads(attended), p.wo)];
};
