/**
 * AdamW on webgpu as three in-place shaders per parameter instead of ~15 tfjs ops and 3 copies.
 *
 * tfjs's elementwise ops write fresh buffers, so the update of one parameter was 12 dispatches of
 * arithmetic plus 3 copies back into the parameter's, m's and v's own buffers (in-place.ts): 1,245
 * of the 3,352 dispatches of an r1-tiny training step. Here each shader writes its result into the
 * buffer it updates: tfjs binds a program's output as `read_write`, and passing the tensor to
 * update as the output (`runWebGPUProgram`'s last argument) makes the shader read the old value
 * from `result` and store the new one over it. Each buffer is bound once per dispatch, as WebGPU
 * requires, so the moments come first and the parameter reads them:
 *
 *   m ← β1·m + (1 − β1)·(s·g)
 *   v ← β2·v + (1 − β2)·(s·g)²
 *   p ← p·shrink − stepSize · m / (sqrt(v) / sqrt(1 − β2^t) + eps)     (p·shrink only where decay applies)
 *
 * in the same float32 operations, in the same order, as the tfjs path in train/adamw.ts (a shader
 * compiler may fuse a multiply-add, so the two agree to rounding, not bit for bit). The step's
 * numbers (clip factor s, shrink, sqrt(1 − β2^t), stepSize) come in as a 4-float tensor, never as
 * uniforms or shader constants, so a captured graph replays them with each step's values; β1, β2
 * and eps are constants of the optimizer and are written into the shader source.
 */
import { tf } from '../tf.js';
import { inPlaceWritten } from './in-place.js';
import { flatProgram, runInPlace, type WebgpuBackendLike } from './webgpu-internals.js';

/** A WGSL f32 literal of `x` as tfjs would round it. */
function f32(x: number): string {
  const v = Math.fround(x);
  if (!Number.isFinite(v)) throw new Error(`AdamW constant ${x} is not a finite float32`);
  const s = String(v);
  return /[.eE]/.test(s) ? s : `${s}.0`;
}

export interface AdamWConstants {
  readonly beta1: number;
  readonly beta2: number;
  readonly eps: number;
}

/**
 * Updates `param`, `m` and `v` in place from gradient `g`; `step` is [scale, shrink, sqrtBc2, stepSize].
 * Nothing is allocated or disposed.
 */
export function adamwInPlace(
  backend: WebgpuBackendLike,
  tensors: { readonly param: tf.Tensor; readonly m: tf.Tensor; readonly v: tf.Tensor; readonly g: tf.Tensor },
  step: tf.Tensor1D,
  constants: AdamWConstants,
  decay: boolean,
): void {
  const { param, m, v, g } = tensors;
  const shape = param.shape;
  const b1 = f32(constants.beta1);
  const b2 = f32(constants.beta2);
  const c1 = f32(1 - constants.beta1);
  const c2 = f32(1 - constants.beta2);
  const eps = f32(constants.eps);
  runInPlace(backend, flatProgram(`moe_adamw_m_${b1}`, shape, ['G', 'S'], `result[index] = result[index] * ${b1} + (G[index] * S[0]) * ${c1};`), [g, step], m);
  runInPlace(
    backend,
    flatProgram(`moe_adamw_v_${b2}`, shape, ['G', 'S'], `let g = G[index] * S[0];\n          result[index] = result[index] * ${b2} + (g * g) * ${c2};`),
    [g, step],
    v,
  );
  const p = decay ? 'result[index] * S[1]' : 'result[index]';
  runInPlace(
    backend,
    flatProgram(`moe_adamw_p_${decay}_${eps}`, shape, ['M', 'V', 'S'], `let denom = sqrt(V[index]) / S[2] + ${eps};\n          result[index] = ${p} - (M[index] / denom) * S[3];`),
    [m, v, step],
    param,
  );
  inPlaceWritten();
}
