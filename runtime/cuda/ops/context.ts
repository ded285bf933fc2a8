/**
 * What a cuda op sees and declares. An op (one per IR op, ops/index.ts) names the buffers it needs
 * beyond its inputs and outputs, with their scope, so the memory plan (plan.ts) knows every byte
 * before the first launch:
 *   temp  — during its forward only;
 *   saved — from its forward to its backward (in inference, like temp);
 *   grad  — during its backward only.
 * Gradients are always ADDED into their buffers (the executor zeroes each when its lifetime starts),
 * so a value read by several nodes sums its gradients without copies.
 */
import type { Node } from '../../../ir/types.js';
import { RuntimeError } from '../../errors.js';
import type { CublasLt } from '../cublaslt.js';
import type { CudaDriver, DevicePtr, KernelArg } from '../driver.js';
import { f32, i32, ptr } from '../driver.js';

export const F32 = 4;
export const I32 = 4;

export interface Gpu {
  readonly driver: CudaDriver;
  readonly lt: CublasLt;
  kernel(name: string): unknown;
  /** precision = bf16: products with a weight run on bf16 copies (fp32 accumulation and outputs) */
  readonly bf16?: Bf16Operands;
}

/** Where bf16 operands come from: the weights' bf16 shadow, and two reusable scratch buffers for activations. */
export interface Bf16Operands {
  /** the bf16 copy of a parameter at this fp32 address */
  weight(fp32: DevicePtr): DevicePtr;
  /** a bf16 copy of n floats at `x`, in scratch slot 0 or 1 (valid until the slot is reused) */
  convert(slot: 0 | 1, x: DevicePtr, n: number): DevicePtr;
}

/** Static widths of a node's values and its params' stored shapes (from the IR's typing). */
export interface NodeShapes {
  readonly node: Node;
  /** the last axis of input i / output i */
  inputWidth(i: number): number;
  outputWidth(i: number): number;
  /** a param's stored shape ([n, …] for a stacked one) */
  paramShape(i: number): readonly number[];
}

export type BufferScope = 'temp' | 'saved' | 'grad';

/** The run's precision (the executor's `precision` option): bf16 makes some op buffers hold bf16 operands. */
export type CudaPrecision = 'fp32' | 'bf16';

export interface BufferDecl {
  readonly name: string;
  readonly bytes: number;
  readonly scope: BufferScope;
}

export interface OpContext extends NodeShapes {
  /** batch rows and sequence length of this evaluation */
  readonly B: number;
  readonly T: number;
  readonly gpu: Gpu;
  input(i: number): DevicePtr;
  output(i: number): DevicePtr;
  param(i: number): DevicePtr;
  state(i: number): DevicePtr | undefined;
  /** one of the buffers the op declared */
  buffer(name: string): DevicePtr;
  /** cos/sin tables [≥T, d/2] of a rotary width, for this node's `rope` attribute */
  rotary(d: number): { readonly cos: DevicePtr; readonly sin: DevicePtr };
  /**
   * The objective's loss.sum only, when training: its weights on the device (the executor writes
   * them before each micro-batch: the MTP weight schedule, each micro-batch's share of the counted
   * positions), so a captured step graph replays with the step's own weights.
   */
  readonly sumWeightsOn?: DevicePtr;
}

export interface BackwardContext extends OpContext {
  /** dL/d(output i), or null where no gradient flows (integer outputs, unused values) */
  gradOut(i: number): DevicePtr | null;
  /** where dL/d(input i) is added, or null for inputs that take none (token ids, the loss mask) */
  gradIn(i: number): DevicePtr | null;
  /** where dL/d(param i) is added (same layout as the param) */
  gradParam(i: number): DevicePtr;
}

export interface CudaOp {
  /** param index groups stored side by side, so one product reads them as one matrix */
  fused?(node: Node): readonly (readonly number[])[];
  /** the buffers of one evaluation [B, T]; sized per precision where a kernel writes bf16 in bf16 mode */
  buffers(shapes: NodeShapes, B: number, T: number, precision: CudaPrecision): readonly BufferDecl[];
  forward(ctx: OpContext): void;
  backward?(ctx: BackwardContext): void;
}

/** A read of a numeric attribute (ir/attrs.ts checked the node when the graph was loaded). */
export function num(node: Node, key: string): number {
  const v = node.attrs[key];
  if (typeof v !== 'number') throw new RuntimeError(`${node.op}: attribute ${key} must be a number`);
  return v;
}

export const grid1 = (n: number, block = 256): [number] => [Math.max(1, Math.min(65535 * 8, Math.ceil(n / block)))];

/** Dynamic shared memory a kernel gets without asking (CUDA's default limit). */
const DEFAULT_SHARED = 48 * 1024;

export function launch(gpu: Gpu, name: string, grid: readonly [number, number?, number?], block: number, args: readonly KernelArg[], shared = 0): void {
  const fn = gpu.kernel(name);
  // past 48 KB a kernel must opt in (flash attention's tiles: up to ~103 KB); a host-side attribute, fine during capture
  if (shared > DEFAULT_SHARED) gpu.driver.allowSharedMemory(fn, shared);
  gpu.driver.launch(fn, grid, block, args, shared);
}

export const u64 = (v: number): KernelArg => ({ u64: BigInt(v) });
export const at = (p: DevicePtr, floats: number): DevicePtr => p + BigInt(floats * F32);

/**
 * y[rows, out] = x[rows, in] · Wᵀ (W stored [out, in]). With `fp32` (the router: its choices must not
 * depend on rounding) the product stays fp32 whatever the precision.
 */
export function linearNT(gpu: Gpu, x: DevicePtr, w: DevicePtr, y: DevicePtr, rows: number, inDim: number, outDim: number, fp32 = false): void {
  const b16 = fp32 ? undefined : gpu.bf16;
  if (b16) gpu.lt.gemm({ m: rows, n: outDim, k: inDim, transA: false, transB: true, a: b16.convert(0, x, rows * inDim), b: b16.weight(w), c: y, type: 'bf16' });
  else gpu.lt.gemm({ m: rows, n: outDim, k: inDim, transA: false, transB: true, a: x, b: w, c: y });
}

/**
 * The backward of y = x·Wᵀ: dx (+)= dy·W (when dx is given; `accumulate` false overwrites it, for
 * temporaries) and dW += dyᵀ·x, in the forward's precision.
 */
export function linearBackward(gpu: Gpu, x: DevicePtr, w: DevicePtr, dy: DevicePtr, dx: DevicePtr | null, dw: DevicePtr, rows: number, inDim: number, outDim: number, accumulate = true, fp32 = false): void {
  const b16 = fp32 ? undefined : gpu.bf16;
  if (b16) {
    const dyb = b16.convert(0, dy, rows * outDim);
    if (dx !== null) gpu.lt.gemm({ m: rows, n: inDim, k: outDim, transA: false, transB: false, a: dyb, b: b16.weight(w), c: dx, beta: accumulate ? 1 : 0, type: 'bf16' });
    gpu.lt.gemm({ m: outDim, n: inDim, k: rows, transA: true, transB: false, a: dyb, b: b16.convert(1, x, rows * inDim), c: dw, beta: 1, type: 'bf16' });
    return;
  }
  if (dx !== null) gpu.lt.gemm({ m: rows, n: inDim, k: outDim, transA: false, transB: false, a: dy, b: w, c: dx, beta: accumulate ? 1 : 0 });
  gpu.lt.gemm({ m: outDim, n: inDim, k: rows, transA: true, transB: false, a: dy, b: x, c: dw, beta: 1 });
}

export function rmsnorm(gpu: Gpu, x: DevicePtr, w: DevicePtr, y: DevicePtr, rstd: DevicePtr, rows: number, n: number, sx: number, sy: number, eps: number): void {
  launch(gpu, 'rmsnorm_fwd', [rows], 256, [ptr(x), ptr(w), ptr(y), ptr(rstd), i32(n), i32(sx), i32(sy), f32(eps)]);
}

/**
 * dx += rmsnorm's input gradient (with `add` false: dx = it, and dx may then be dy itself, in place),
 * dw += its weight gradient (taken first, while dy is intact)
 */
export function rmsnormBackward(gpu: Gpu, x: DevicePtr, sx: number, w: DevicePtr, rstd: DevicePtr, dy: DevicePtr, sdy: number, dx: DevicePtr, sdx: number, dw: DevicePtr, rows: number, n: number, add = true): void {
  launch(gpu, 'rmsnorm_bwd_w', grid1(n, 128), 128, [ptr(x), i32(sx), ptr(rstd), ptr(dy), i32(sdy), ptr(dw), i32(rows), i32(n)]);
  launch(gpu, 'rmsnorm_bwd_x', [rows], 256, [ptr(x), i32(sx), ptr(w), ptr(rstd), ptr(dy), i32(sdy), ptr(dx), i32(sdx), i32(n), i32(add ? 1 : 0)]);
}

/** Rotates `heads` vectors of width d per row in place (sign −1: the backward rotation). */
export function rope(ctx: OpContext, x: DevicePtr, heads: number, sr: number, sh: number, d: number, interleaved: boolean, sign: 1 | -1): void {
  const rows = ctx.B * ctx.T;
  const { cos, sin } = ctx.rotary(d);
  launch(ctx.gpu, 'rope_fwd', grid1(rows * heads * (d / 2)), 256, [ptr(x), ptr(cos), ptr(sin), i32(rows), i32(ctx.T), i32(heads), i32(sr), i32(sh), i32(d), i32(interleaved ? 1 : 0), f32(sign)]);
}

/** y += a·x over n floats */
export function axpy(gpu: Gpu, y: DevicePtr, x: DevicePtr, a: number, n: number): void {
  launch(gpu, 'axpy', grid1(n), 256, [ptr(y), ptr(x), f32(a), u64(n)]);
}
