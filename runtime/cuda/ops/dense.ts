/** The cuda kernels of the per-token ops: embedding, rms_norm, linear / lm_head, add, concat, ffn.swiglu. */
import { i32, ptr } from '../driver.js';
import { axpy, F32, grid1, launch, linearBackward, linearNT, num, rmsnorm, rmsnormBackward, u64, type CudaOp, type NodeShapes } from './context.js';

export const embedding: CudaOp = {
  buffers: () => [],
  forward(ctx) {
    launch(ctx.gpu, 'embedding_fwd', [ctx.B * ctx.T], 256, [ptr(ctx.input(0)), ptr(ctx.param(0)), ptr(ctx.output(0)), i32(ctx.T), i32(ctx.outputWidth(0)), i32(num(ctx.node, 'shift'))]);
  },
  backward(ctx) {
    const dy = ctx.gradOut(0);
    if (!dy) return;
    launch(ctx.gpu, 'embedding_bwd', [ctx.B * ctx.T], 256, [ptr(ctx.input(0)), ptr(dy), ptr(ctx.gradParam(0)), i32(ctx.T), i32(ctx.outputWidth(0)), i32(num(ctx.node, 'shift'))]);
  },
};

export const rmsNorm: CudaOp = {
  buffers: (_, B, T) => [{ name: 'rstd', bytes: B * T * F32, scope: 'saved' }],
  forward(ctx) {
    const n = ctx.outputWidth(0);
    rmsnorm(ctx.gpu, ctx.input(0), ctx.param(0), ctx.output(0), ctx.buffer('rstd'), ctx.B * ctx.T, n, n, n, num(ctx.node, 'eps'));
  },
  backward(ctx) {
    const dy = ctx.gradOut(0);
    const dx = ctx.gradIn(0);
    if (!dy || !dx) return;
    const n = ctx.outputWidth(0);
    rmsnormBackward(ctx.gpu, ctx.input(0), n, ctx.param(0), ctx.buffer('rstd'), dy, n, dx, n, ctx.gradParam(0), ctx.B * ctx.T, n);
  },
};

/** `linear` and `lm_head`: y = x · Wᵀ */
export const projection: CudaOp = {
  buffers: () => [],
  forward(ctx) {
    linearNT(ctx.gpu, ctx.input(0), ctx.param(0), ctx.output(0), ctx.B * ctx.T, ctx.inputWidth(0), ctx.outputWidth(0));
  },
  backward(ctx) {
    const dy = ctx.gradOut(0);
    if (!dy) return;
    linearBackward(ctx.gpu, ctx.input(0), ctx.param(0), dy, ctx.gradIn(0), ctx.gradParam(0), ctx.B * ctx.T, ctx.inputWidth(0), ctx.outputWidth(0));
  },
};

export const add: CudaOp = {
  buffers: () => [],
  forward(ctx) {
    const n = ctx.B * ctx.T * ctx.outputWidth(0);
    launch(ctx.gpu, 'add_fwd', grid1(n), 256, [ptr(ctx.input(0)), ptr(ctx.input(1)), ptr(ctx.output(0)), u64(n)]);
  },
  backward(ctx) {
    const dy = ctx.gradOut(0);
    if (!dy) return;
    const n = ctx.B * ctx.T * ctx.outputWidth(0);
    for (const i of [0, 1]) {
      const dx = ctx.gradIn(i);
      if (dx) axpy(ctx.gpu, dx, dy, 1, n);
    }
  },
};

export const concat: CudaOp = {
  buffers: () => [],
  forward(ctx) {
    const [p, q, rows] = [ctx.inputWidth(0), ctx.inputWidth(1), ctx.B * ctx.T];
    launch(ctx.gpu, 'concat_fwd', grid1(rows * (p + q)), 256, [ptr(ctx.input(0)), ptr(ctx.input(1)), ptr(ctx.output(0)), u64(rows), i32(p), i32(q)]);
  },
  backward(ctx) {
    const dy = ctx.gradOut(0);
    if (!dy) return;
    const [p, q, rows] = [ctx.inputWidth(0), ctx.inputWidth(1), ctx.B * ctx.T];
    launch(ctx.gpu, 'concat_bwd', grid1(rows * (p + q)), 256, [ptr(dy), ptr(ctx.gradIn(0) ?? 0n), ptr(ctx.gradIn(1) ?? 0n), u64(rows), i32(p), i32(q)]);
  },
};

/** F of a SwiGLU (or stacked expert) node: the rows of its gate projection. */
export function hiddenOf(shapes: NodeShapes): number {
  const s = shapes.paramShape(0);
  return s[s.length - 2]!;
}

/** gate and up projections are stored side by side: one product gives both halves of `gu` [rows, 2F] */
export const swiglu: CudaOp = {
  fused: () => [[0, 1]],
  buffers(shapes, B, T) {
    const F = hiddenOf(shapes);
    const rows = B * T;
    return [
      { name: 'gu', bytes: rows * 2 * F * F32, scope: 'saved' },
      { name: 'act', bytes: rows * F * F32, scope: 'saved' },
      { name: 'dact', bytes: rows * F * F32, scope: 'grad' },
      { name: 'dgu', bytes: rows * 2 * F * F32, scope: 'grad' },
    ];
  },
  forward(ctx) {
    const [D, F, rows] = [ctx.outputWidth(0), hiddenOf(ctx), ctx.B * ctx.T];
    const [gu, act] = [ctx.buffer('gu'), ctx.buffer('act')];
    linearNT(ctx.gpu, ctx.input(0), ctx.param(0), gu, rows, D, 2 * F);
    launch(ctx.gpu, 'swiglu_gate_fwd', grid1(rows * F), 256, [ptr(gu), ptr(act), u64(rows), i32(F)]);
    linearNT(ctx.gpu, act, ctx.param(2), ctx.output(0), rows, F, D);
  },
  backward(ctx) {
    const dy = ctx.gradOut(0);
    if (!dy) return;
    const [D, F, rows] = [ctx.outputWidth(0), hiddenOf(ctx), ctx.B * ctx.T];
    const [dact, dgu] = [ctx.buffer('dact'), ctx.buffer('dgu')];
    linearBackward(ctx.gpu, ctx.buffer('act'), ctx.param(2), dy, dact, ctx.gradParam(2), rows, F, D, false);
    launch(ctx.gpu, 'swiglu_gate_bwd', grid1(rows * F), 256, [ptr(ctx.buffer('gu')), ptr(dact), ptr(dgu), u64(rows), i32(F)]);
    linearBackward(ctx.gpu, ctx.input(0), ctx.param(0), dgu, ctx.gradIn(0), ctx.gradParam(0), rows, D, 2 * F);
  },
};
