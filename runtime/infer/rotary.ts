/**
 * Rotary tables for a batch whose rows sit at different positions (left-padded prompts, then one
 * new token per row per step): cos/sin [B, 1, T, d] that broadcast over heads in `applyRotary`.
 * The angles are computed exactly as the training tables are (an fp32 product position · inv_freq,
 * the attention factor folded in), so cached decoding sees the same rotations as a full forward.
 */
import { tf } from '../tf.js';
import { fusedOp } from '../backend/registry.js';
import { ropeFrequencies, rotation, type RopeConfig, type RotaryTables } from '../ops/rope.js';

/** positions[b][t] for every row b and query t (all rows the same length T). */
export function rowTables(config: RopeConfig, d: number, positions: readonly (readonly number[])[]): RotaryTables {
  const { inv, attentionFactor } = ropeFrequencies(config, d);
  const batch = positions.length;
  const time = positions[0]?.length ?? 0;
  const half = d / 2;
  const cos = new Float32Array(batch * time * d);
  const sin = new Float32Array(batch * time * d);
  positions.forEach((row, b) => {
    row.forEach((position, t) => {
      const base = (b * time + t) * d;
      for (let i = 0; i < half; i++) {
        const angle = Math.fround(position * inv[i]!);
        const [a, c] = config.interleaved ? [2 * i, 2 * i + 1] : [i, i + half];
        cos[base + a] = cos[base + c] = Math.fround(attentionFactor * Math.cos(angle));
        sin[base + a] = sin[base + c] = Math.fround(attentionFactor * Math.sin(angle));
      }
    });
  });
  // the signed partner permutation does not depend on positions (its values are cached by width)
  const rot = tf.tensor2d(rotation(d, config.interleaved), [d, d]);
  // [B, 1, T, d] where the training tables are [T, d]: applyRotary only multiplies elementwise with
  // them, so the extra axes broadcast over heads (the 2-D type is the training path's promise)
  const perRow = (values: Float32Array): tf.Tensor2D => tf.tensor4d(values, [batch, 1, time, d]) as unknown as tf.Tensor2D;
  return { cos: perRow(cos), sin: perRow(sin), rot, interleaved: config.interleaved };
}

/**
 * The rotation of `applyRotary` (y = x ⊙ cos + (x · rot) ⊙ sin) without its custom gradient:
 * decoding takes no gradient, and the custom-gradient wrapper costs two extra kernels per call. A
 * fused op (webgpu: one shader, backend/webgpu-ops.ts).
 */
export const rotate = fusedOp('rotary.decode', (x: tf.Tensor, tables: RotaryTables): tf.Tensor => {
  const d = x.shape[x.rank - 1]!;
  const swapped = tf.reshape(tf.matMul(tf.reshape(x, [-1, d]), tables.rot), x.shape);
  return tf.add(tf.mul(x, tables.cos), tf.mul(swapped, tables.sin));
});
