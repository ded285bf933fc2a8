/**
 * Causal scaled-dot-product attention (specs/ir.md §3.3; optionally a sliding window) shared by `attention.gqa` and
 * `attention.mla`, plus the attribute and layout helpers both use. All heads go through one batched
 * matmul; grouped-query attention folds the heads that share a kv head into the query axis, so K and
 * V are never repeated.
 */
import { tf } from '../tf.js';

/**
 * Additive causal masks [T, T]: 0 where key u ≤ query t (and t − u < window), −∞ elsewhere.
 * Cached by T and window (arrays only).
 */
const masks = new Map<string, Float32Array>();

export function causalMask(time: number, window: number | null = null): tf.Tensor2D {
  const key = `${time}/${window}`;
  let mask = masks.get(key);
  if (!mask) {
    mask = new Float32Array(time * time);
    for (let t = 0; t < time; t++) {
      mask.fill(-Infinity, t * time + t + 1, (t + 1) * time);
      // a sliding window: the keys before t − window + 1 are out of sight (HF kv_idx > q_idx − window)
      if (window !== null && t - window + 1 > 0) mask.fill(-Infinity, t * time, t * time + t - window + 1);
    }
    // training uses one T, decoding a growing one: keep only the most recent few
    if (masks.size >= 16) masks.delete(masks.keys().next().value!);
    masks.set(key, mask);
  }
  // a fresh tensor per call: it belongs to the caller's tidy scope (the cache holds only the array)
  return tf.tensor2d(mask, [time, time]);
}

/**
 * a [B, H, T, n] against b [B, G, T, n], G dividing H, query head h paired with head floor(h / (H/G)):
 * heads g·r … g·r + r − 1 (r = H/G) are contiguous, so [B, H, T, n] → [B, G, r·T, n] is a free reshape
 * and one batched matmul serves the whole group, without repeating b (HF repeat_kv).
 */
export function grouped(a: tf.Tensor, b: tf.Tensor, transposeB: boolean): tf.Tensor {
  const [batch, heads, time] = a.shape as [number, number, number, number];
  const groups = b.shape[1]!;
  if (heads % groups !== 0) throw new Error(`${groups} kv heads do not divide ${heads} heads`);
  const folded = tf.reshape(a, [batch, groups, (heads / groups) * time, a.shape[3]!]);
  const out = tf.matMul(folded, b, false, transposeB);
  return tf.reshape(out, [batch, heads, time, out.shape[3]!]);
}

/**
 * Causal attention (§3.3) whose scores are a sum of dot products: score = scale · Σ_i ⟨q_i, k_i⟩ for
 * pairs (q_i [B, H, T, n_i], k_i [B, G_i, T, n_i]). One pair is plain attention; MLA passes
 * (q_nope, k_nope) and (q_pe, k_pe) with one shared rotary key head, which equals ⟨[q_nope; q_pe],
 * [k_nope; k_pe]⟩ without concatenating or broadcasting. v [B, G, T, dv] → o [B, H, T, dv].
 * Softmax over keys in fp32. A `window` W limits each query to itself and the W − 1 keys before it.
 */
export function causalAttention(pairs: readonly (readonly [tf.Tensor, tf.Tensor])[], v: tf.Tensor, scale: number, window: number | null = null): tf.Tensor {
  if (pairs.length === 0) throw new Error('attention needs at least one query/key pair');
  const time = pairs[0]![0].shape[2]!;
  // scaling q (T·n values) is cheaper than scaling the T×T scores and equal in exact arithmetic
  const parts = pairs.map(([q, k]) => grouped(tf.mul(q, scale), k, true));
  const scores = parts.length === 1 ? parts[0]! : tf.addN(parts);
  const probs = tf.softmax(tf.add(scores, causalMask(time, window)));
  return grouped(probs, v, false);
}

/**
 * tf.transpose(x, perm), as a reshape (no copy, no kernel) when the axes longer than 1 keep their
 * order: splitting heads of a single-token decoding step moves only size-1 axes.
 */
export function permute(x: tf.Tensor, perm: readonly number[]): tf.Tensor {
  const moved = perm.filter((axis) => x.shape[axis] !== 1);
  if (moved.every((axis, i) => i === 0 || axis > moved[i - 1]!)) return tf.reshape(x, perm.map((axis) => x.shape[axis]!));
  return tf.transpose(x, [...perm]);
}

/**
 * [B, T, n·(p_0 + p_1 + …)] → per part [B, n, T, p_i] (head-major channels: head h's part i is at
 * h·Σp + Σ_{j<i} p_j). The split runs on a 2-D view, which backends slice row by row.
 */
export function splitHeadParts(x: tf.Tensor, heads: number, parts: readonly number[]): tf.Tensor[] {
  const [batch, time] = x.shape as [number, number];
  const width = parts.reduce((a, b) => a + b, 0);
  const rows = tf.reshape(x, [batch * time * heads, width]);
  const pieces = parts.length === 1 ? [rows] : tf.split(rows, [...parts], 1);
  return pieces.map((p, i) => permute(tf.reshape(p, [batch, time, heads, parts[i]!]), [0, 2, 1, 3]));
}

/** [B, T, n·d] → [B, n, T, d] (HF `view(…, n, d).transpose(1, 2)`). */
export function splitHeads(x: tf.Tensor, heads: number, d: number): tf.Tensor {
  return splitHeadParts(x, heads, [d])[0]!;
}

/** [B, n, T, d] → [B, T, n·d] (channel h·d + j), the input layout of o_proj. */
export function mergeHeads(x: tf.Tensor): tf.Tensor {
  const [batch, heads, time, d] = x.shape as [number, number, number, number];
  return tf.reshape(permute(x, [0, 2, 1, 3]), [batch, time, heads * d]);
}

/** x must be [B, T, D] (attention mixes positions along axis 1). */
export function expectSequence(x: tf.Tensor, op: string): void {
  if (x.rank !== 3) throw new Error(`${op} input must be [B, T, D], found [${x.shape.join(', ')}]`);
}
