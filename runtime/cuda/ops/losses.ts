/** The loss ops on CUDA (specs/ir.md §4.11, 4.12, 4.14, 4.15): scalars stay on the device. */
import type { Node } from '../../../ir/types.js';
import type { DevicePtr } from '../driver.js';
import { f32, i32, ptr } from '../driver.js';
import { F32, launch, num, u64, type CudaOp } from './context.js';

export const crossEntropy: CudaOp = {
  buffers: (_, B, T) => [
    { name: 'rowloss', bytes: B * T * F32, scope: 'temp' },
    { name: 'rowweight', bytes: B * T * F32, scope: 'saved' },
    { name: 'lse', bytes: B * T * F32, scope: 'saved' },
    { name: 'sums', bytes: 2 * F32, scope: 'saved' },
  ],
  forward(ctx) {
    const V = ctx.inputWidth(0);
    const rows = ctx.B * ctx.T;
    launch(ctx.gpu, 'cross_entropy_fwd', [rows], 256, [ptr(ctx.input(0)), ptr(ctx.input(1)), ptr(ctx.input(2)), ptr(ctx.buffer('rowloss')), ptr(ctx.buffer('rowweight')), ptr(ctx.buffer('lse')), i32(ctx.T), i32(V), i32(num(ctx.node, 'shift'))]);
    launch(ctx.gpu, 'sum_pairs', [1], 1024, [ptr(ctx.buffer('rowloss')), ptr(ctx.buffer('rowweight')), ptr(ctx.buffer('sums')), u64(rows)]);
    launch(ctx.gpu, 'cross_entropy_finish', [1], 1, [ptr(ctx.buffer('sums')), ptr(ctx.output(0))]);
  },
  backward(ctx) {
    const [dloss, dlogits] = [ctx.gradOut(0), ctx.gradIn(0)];
    if (!dloss || !dlogits) return;
    launch(ctx.gpu, 'cross_entropy_bwd', [ctx.B * ctx.T], 256, [ptr(ctx.input(0)), ptr(ctx.input(1)), ptr(ctx.buffer('rowweight')), ptr(ctx.buffer('lse')), ptr(ctx.buffer('sums')), ptr(dloss), ptr(dlogits), i32(ctx.inputWidth(0)), i32(num(ctx.node, 'shift'))]);
  },
};

export const zLoss: CudaOp = {
  buffers: (_, B, T) => [
    { name: 'sq', bytes: B * T * F32, scope: 'temp' },
    { name: 'sums', bytes: 2 * F32, scope: 'temp' },
    { name: 'lse', bytes: B * T * F32, scope: 'saved' },
  ],
  forward(ctx) {
    const rows = ctx.B * ctx.T;
    launch(ctx.gpu, 'zloss_fwd', [rows], 128, [ptr(ctx.input(0)), ptr(ctx.buffer('sq')), ptr(ctx.buffer('lse')), i32(ctx.inputWidth(0))]);
    launch(ctx.gpu, 'sum_pairs', [1], 1024, [ptr(ctx.buffer('sq')), ptr(0n), ptr(ctx.buffer('sums')), u64(rows)]);
    ctx.gpu.driver.zero(ctx.output(0), F32);
    launch(ctx.gpu, 'scaled_add', [1], 32, [ptr(ctx.output(0)), ptr(ctx.buffer('sums')), f32(num(ctx.node, 'coef') / rows), ptr(0n), u64(1)]);
  },
  backward(ctx) {
    const [dloss, dz] = [ctx.gradOut(0), ctx.gradIn(0)];
    if (!dloss || !dz) return;
    const rows = ctx.B * ctx.T;
    launch(ctx.gpu, 'zloss_bwd', [rows], 128, [ptr(ctx.input(0)), ptr(ctx.buffer('lse')), ptr(dloss), ptr(dz), i32(rows), i32(ctx.inputWidth(0)), f32(num(ctx.node, 'coef'))]);
  },
};

/** The sets of the balance loss: one per row (sequence) or one over the evaluation (batch). */
function balanceSets(node: Node, B: number, T: number): { sets: number; size: number } {
  return node.attrs.kind === 'sequence' ? { sets: B, size: T } : { sets: 1, size: B * T };
}

export const balance: CudaOp = {
  buffers({ node }, B, T) {
    const { sets } = balanceSets(node, B, T);
    return [
      { name: 'perset', bytes: sets * F32, scope: 'temp' },
      { name: 'work', bytes: sets * 2 * num(node, 'experts') * F32, scope: 'saved' },
    ];
  },
  forward(ctx) {
    const { node } = ctx;
    const { sets, size } = balanceSets(node, ctx.B, ctx.T);
    const normalize = node.attrs.score === 'sigmoid' ? 1 : 0;
    launch(ctx.gpu, 'balance_fwd', [sets], 128, [ptr(ctx.input(0)), ptr(ctx.input(1)), ptr(ctx.buffer('perset')), ptr(ctx.buffer('work')), i32(size), i32(num(node, 'experts')), i32(num(node, 'top_k')), i32(normalize)]);
    launch(ctx.gpu, 'balance_finish', [1], 128, [ptr(ctx.buffer('perset')), ptr(ctx.output(0)), i32(sets), f32(num(node, 'alpha'))]);
  },
  backward(ctx) {
    const [dloss, ds] = [ctx.gradOut(0), ctx.gradIn(0)];
    if (!dloss || !ds) return;
    const { node } = ctx;
    const { sets, size } = balanceSets(node, ctx.B, ctx.T);
    const normalize = node.attrs.score === 'sigmoid' ? 1 : 0;
    launch(ctx.gpu, 'balance_bwd', [ctx.B * ctx.T], 128, [ptr(ctx.input(0)), ptr(ctx.buffer('work')), ptr(dloss), ptr(ds), i32(size), i32(num(node, 'experts')), i32(num(node, 'top_k')), i32(sets), i32(normalize), f32(num(node, 'alpha'))]);
  },
};

/** The weights of a loss.sum node; the trainer may replace them per step (the MTP weight schedule). */
export function sumWeights(node: Node): readonly number[] {
  const w = node.attrs.weights;
  if (!Array.isArray(w) || !w.every((v): v is number => typeof v === 'number')) throw new Error('loss.sum: weights must be numbers');
  return w;
}

/** out += w_i · x (w_i from the node's attribute, or the i-th float of the device weights) */
function weightedAdd(ctx: Parameters<CudaOp['forward']>[0], out: DevicePtr, x: DevicePtr, i: number): void {
  const on = ctx.sumWeightsOn;
  const [a, s] = on === undefined ? [sumWeights(ctx.node)[i]!, 0n] : [1, on + BigInt(i * F32)];
  launch(ctx.gpu, 'scaled_add', [1], 32, [ptr(out), ptr(x), f32(a), ptr(s), u64(1)]);
}

export const lossSum: CudaOp = {
  buffers: () => [],
  forward(ctx) {
    ctx.gpu.driver.zero(ctx.output(0), F32);
    ctx.node.inputs.forEach((_, i) => weightedAdd(ctx, ctx.output(0), ctx.input(i), i));
  },
  backward(ctx) {
    const dloss = ctx.gradOut(0);
    if (!dloss) return;
    ctx.node.inputs.forEach((_, i) => {
      const d = ctx.gradIn(i);
      if (d) weightedAdd(ctx, d, dloss, i);
    });
  },
};
