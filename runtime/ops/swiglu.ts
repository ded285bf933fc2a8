/** `ffn.swiglu` (specs/ir.md §4.8): (silu(x·W_gateᵀ) ⊙ (x·W_upᵀ)) · W_downᵀ. */
import { tf } from '../tf.js';
import { fusedOp } from '../backend/registry.js';
import type { Kernel } from './kernel.js';
import { projectT } from './linear.js';

/** silu(z) = z·σ(z); tfjs-core has no fused silu, and this form differentiates through sigmoid. */
export function silu(z: tf.Tensor): tf.Tensor {
  return tf.mul(z, tf.sigmoid(z));
}

/** SwiGLU's gate silu(g) ⊙ u, a fused op (webgpu: one shader, not three ops; backend/webgpu-ops.ts). */
export const gated = fusedOp('silu_mul', (g: tf.Tensor, u: tf.Tensor): tf.Tensor => tf.mul(silu(g), u));

export const swiglu: Kernel = ({ inputs, params }) => {
  if (params.length !== 3) throw new Error(`ffn.swiglu takes 3 parameters (gate, up, down), found ${params.length}`);
  const [gate, up, down] = params as [tf.Tensor, tf.Tensor, tf.Tensor];
  const x = inputs[0]!;
  return [projectT(gated(projectT(x, gate), projectT(x, up)), down)];
};
