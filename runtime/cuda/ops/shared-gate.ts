/**
 * moe.shared_gate on CUDA (specs/ir.md §4.16): out = y · σ(x · wᵀ), w [1, D] — Qwen2-MoE's per-token
 * gate on the shared experts' output. The gate's dot product runs in the row's kernel, fp32 in either
 * precision (D flops a row: bf16 would only add rounding); the weight gradient, a sum over all rows,
 * goes to cuBLASLt.
 */
import { i32, ptr } from '../driver.js';
import { F32, launch, linearBackward, type CudaOp } from './context.js';

/** inputs: x (the MoE layer's input), y (the shared experts' output); param: w [1, D] */
export const sharedGate: CudaOp = {
  buffers: (_, B, T) => [
    { name: 'g', bytes: B * T * F32, scope: 'saved' },
    { name: 'dz', bytes: B * T * F32, scope: 'grad' },
  ],
  forward(ctx) {
    const [D, rows] = [ctx.outputWidth(0), ctx.B * ctx.T];
    launch(ctx.gpu, 'shared_gate_fwd', [rows], 128, [ptr(ctx.input(0)), ptr(ctx.param(0)), ptr(ctx.input(1)), ptr(ctx.buffer('g')), ptr(ctx.output(0)), i32(D)]);
  },
  backward(ctx) {
    const dout = ctx.gradOut(0);
    if (!dout) return;
    const [D, rows] = [ctx.outputWidth(0), ctx.B * ctx.T];
    const dz = ctx.buffer('dz');
    launch(ctx.gpu, 'shared_gate_bwd', [rows], 128, [
      ptr(ctx.input(1)), ptr(ctx.param(0)), ptr(ctx.buffer('g')), ptr(dout), ptr(ctx.gradIn(1) ?? 0n), ptr(ctx.gradIn(0) ?? 0n), ptr(dz), i32(D),
    ]);
    // dw [1, D] += dzᵀ · x, fp32 like the forward's product
    linearBackward(ctx.gpu, ctx.input(0), ctx.param(0), dz, null, ctx.gradParam(0), rows, D, 1, true, true);
  },
};
