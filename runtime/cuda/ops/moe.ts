/**
 * moe.router and moe.experts on CUDA (specs/ir.md §4.9–4.10). The experts run as grouped GEMMs over
 * the tokens sorted by expert, with each expert's rows padded to a whole row tile (DeepGEMM's
 * contiguous layout), the offsets computed and kept on the device: no host read and no per-expert
 * host loop between the router and the experts.
 */
import { RuntimeError } from '../../errors.js';
import type { DevicePtr, KernelArg } from '../driver.js';
import { f32, i32, ptr } from '../driver.js';
import { F32, grid1, I32, launch, linearBackward, linearNT, num, u64, type CudaOp, type CudaPrecision } from './context.js';
import { hiddenOf } from './dense.js';

const scoreIsSoftmax = (attrs: Readonly<Record<string, unknown>>): number => (attrs.score === 'softmax' ? 1 : 0);

/** outputs: weights, indices, scores, router_logits, load */
export const router: CudaOp = {
  buffers({ node }, B, T) {
    const E = num(node, 'experts');
    return [
      { name: 'work', bytes: B * T * E * F32, scope: 'temp' },
      { name: 'ds', bytes: B * T * E * F32, scope: 'grad' },
      { name: 'dz', bytes: B * T * E * F32, scope: 'grad' },
    ];
  },
  forward(ctx) {
    const { node, gpu } = ctx;
    const [E, K, G] = [num(node, 'experts'), num(node, 'top_k'), num(node, 'groups')];
    const rows = ctx.B * ctx.T;
    if (E > 1024 || K > 32 || G > 64) throw new RuntimeError(`moe.router on cuda supports up to 1024 experts, top_k 32 and 64 groups (this node: ${E}, ${K}, ${G})`);
    linearNT(gpu, ctx.input(0), ctx.param(0), ctx.output(3), rows, ctx.inputWidth(0), E, true);
    gpu.driver.zero(ctx.output(4), E * F32);
    launch(gpu, 'router_fwd', grid1(rows * 32, 128), 128, [
      ptr(ctx.output(3)), ptr(ctx.state(0) ?? 0n), ptr(ctx.output(0)), ptr(ctx.output(1)), ptr(ctx.output(2)), ptr(ctx.output(4)), ptr(ctx.buffer('work')),
      i32(rows), i32(E), i32(K), i32(scoreIsSoftmax(node.attrs)), i32(G), i32(num(node, 'top_groups')),
      i32(node.attrs.group_score === 'top2_sum' ? 1 : 0), i32(node.attrs.normalize === true ? 1 : 0), f32(num(node, 'scale')),
    ]);
  },
  backward(ctx) {
    const { node, gpu } = ctx;
    const [dw, ds, dlogits] = [ctx.gradOut(0), ctx.gradOut(2), ctx.gradOut(3)];
    if (!dw && !ds && !dlogits) return;
    const [E, K, D, rows] = [num(node, 'experts'), num(node, 'top_k'), ctx.inputWidth(0), ctx.B * ctx.T];
    const dz = ctx.buffer('dz');
    launch(gpu, 'router_bwd', grid1(rows, 128), 128, [
      ptr(ctx.output(2)), ptr(ctx.output(1)), ptr(dw ?? 0n), ptr(ds ?? 0n), ptr(dlogits ?? 0n), ptr(dz), ptr(ctx.buffer('ds')),
      i32(rows), i32(E), i32(K), i32(scoreIsSoftmax(node.attrs)), i32(node.attrs.normalize === true ? 1 : 0), f32(num(node, 'scale')),
    ]);
    linearBackward(gpu, ctx.input(0), ctx.param(0), dz, ctx.gradIn(0), ctx.gradParam(0), rows, D, E, true, true);
  },
};

/**
 * Rows per tile of the grouped GEMMs (GT in forward.cu, BM in grouped_bf16.cu): each expert's segment
 * is padded to it. 64, not 128: at moe-500m's shapes (E = 64, 24,576 pairs) padding to 128 rows would
 * add ~17% rows of work instead of ~8%.
 */
export const EXPERT_TILE = 64;

/** Output columns per tile of the bf16 grouped GEMMs (BN in grouped_bf16.cu). */
const BF16_COLS = 128;

/** Pairs per block of expert_hist and expert_assign (ASSIGN_CHUNK in forward.cu), and the experts they handle. */
const ASSIGN_CHUNK = 256;
const MAX_EXPERTS = 1024;

/** The expert-sorted buffer's rows, a whole number of tiles: every (token, k) pair plus each expert's padding. */
export function expertRows(N: number, K: number, E: number): number {
  return Math.ceil((N * K + E * (EXPERT_TILE - 1)) / EXPERT_TILE) * EXPERT_TILE;
}

/** Capacity per expert (specs/ir.md §4.10), or −1 when dropless. */
export function expertCapacity(capacity: number | null, N: number, K: number, E: number): number {
  return capacity === null ? -1 : Math.ceil((capacity * N * K) / E);
}

/** Chunks of (token, k) pairs that expert_hist and expert_assign take a block each. */
export function assignChunks(N: number, K: number): number {
  return Math.ceil((N * K) / ASSIGN_CHUNK);
}

/**
 * Bytes per element of the grouped GEMMs' operands xs, act, dout and dgu: in precision = bf16 the
 * kernels that produce them write bf16 and only the bf16 GEMMs read them. Their outputs (gu, out,
 * dact, dxs) stay fp32 in either precision: the SwiGLU and combine kernels read them as fp32.
 */
export const operandBytes = (precision: CudaPrecision): number => (precision === 'bf16' ? 2 : F32);

/** inputs: x, weights, indices; params: gate, up, down, each stacked [E, …] */
export const experts: CudaOp = {
  buffers(shapes, B, T, precision) {
    const { node } = shapes;
    const [E, K, N] = [num(node, 'experts'), num(node, 'top_k'), B * T];
    const rows = expertRows(N, K, E);
    const [D, F] = [shapes.outputWidth(0), hiddenOf(shapes)];
    const operand = operandBytes(precision);
    return [
      { name: 'hist', bytes: assignChunks(N, K) * E * I32, scope: 'temp' },
      { name: 'counts', bytes: E * I32, scope: 'temp' },
      { name: 'offsets', bytes: (E + 1) * I32, scope: 'saved' },
      { name: 'tiles', bytes: (rows / EXPERT_TILE) * I32, scope: 'saved' },
      { name: 'slot', bytes: N * K * I32, scope: 'saved' },
      { name: 'row_token', bytes: rows * I32, scope: 'temp' },
      { name: 'xs', bytes: rows * D * operand, scope: 'saved' },
      { name: 'gu', bytes: rows * 2 * F * F32, scope: 'saved' },
      { name: 'act', bytes: rows * F * operand, scope: 'saved' },
      { name: 'out', bytes: rows * D * F32, scope: 'saved' },
      { name: 'dout', bytes: rows * D * operand, scope: 'grad' },
      { name: 'dact', bytes: rows * F * F32, scope: 'grad' },
      { name: 'dgu', bytes: rows * 2 * F * operand, scope: 'grad' },
      { name: 'dxs', bytes: rows * D * F32, scope: 'grad' },
    ];
  },
  forward(ctx) {
    const { node, gpu } = ctx;
    const [E, K, N, D, F] = [num(node, 'experts'), num(node, 'top_k'), ctx.B * ctx.T, ctx.outputWidth(0), hiddenOf(ctx)];
    if (E > MAX_EXPERTS) throw new RuntimeError(`moe.experts on cuda supports up to ${MAX_EXPERTS} experts (this node: ${E})`);
    const rows = expertRows(N, K, E);
    const tiles = rows / EXPERT_TILE;
    const chunks = assignChunks(N, K);
    const cap = expertCapacity(node.attrs.capacity === null ? null : num(node, 'capacity'), N, K, E);
    const b = (name: string): KernelArg => ptr(ctx.buffer(name));
    const indices = ptr(ctx.input(2));
    const bf16 = gpu.bf16 !== undefined;
    launch(gpu, 'expert_hist', [chunks], ASSIGN_CHUNK, [indices, b('hist'), i32(N * K), i32(E)]);
    launch(gpu, 'expert_scan', [1], 1024, [b('hist'), b('counts'), b('offsets'), b('tiles'), b('row_token'), i32(chunks), i32(E), i32(EXPERT_TILE), i32(tiles), i32(cap)]);
    launch(gpu, 'expert_assign', [chunks], ASSIGN_CHUNK, [indices, b('hist'), b('offsets'), b('slot'), b('row_token'), i32(N * K), i32(K), i32(E), i32(cap)]);
    launch(gpu, precise('expert_gather', bf16), [rows], 128, [ptr(ctx.input(0)), b('row_token'), b('offsets'), b('xs'), i32(D), i32(E)]);
    groupedNT(ctx, 'xs', D, ctx.param(0), ctx.param(1), F, 'gu', 2 * F, tiles);
    launch(gpu, precise('swiglu_gate_fwd', bf16), grid1(rows * F), 256, [b('gu'), b('act'), u64(rows), i32(F)]);
    groupedNT(ctx, 'act', F, ctx.param(2), ctx.param(2), D, 'out', D, tiles);
    launch(gpu, 'expert_combine', [N], 128, [b('out'), ptr(ctx.input(1)), b('slot'), ptr(ctx.output(0)), i32(D), i32(K)]);
  },
  backward(ctx) {
    const dy = ctx.gradOut(0);
    if (!dy) return;
    const { node, gpu } = ctx;
    const [E, K, N, D, F] = [num(node, 'experts'), num(node, 'top_k'), ctx.B * ctx.T, ctx.outputWidth(0), hiddenOf(ctx)];
    const rows = expertRows(N, K, E);
    const tiles = rows / EXPERT_TILE;
    const b = (name: string): KernelArg => ptr(ctx.buffer(name));
    const bf16 = gpu.bf16 !== undefined;
    const operand = operandBytes(bf16 ? 'bf16' : 'fp32');
    gpu.driver.zero(ctx.buffer('dout'), rows * D * operand);
    launch(gpu, precise('expert_combine_bwd', bf16), [N], 128, [b('out'), ptr(ctx.input(1)), b('slot'), ptr(dy), b('dout'), ptr(ctx.gradIn(1) ?? 0n), i32(D), i32(K)]);
    // down: out = act · Downᵀ per expert
    groupedNN(ctx, 'dout', D, ctx.param(2), ctx.param(2), D, 'dact', F, tiles);
    groupedTN(ctx, ctx.buffer('dout'), D, ctx.buffer('act'), F, ctx.gradParam(2), D, F, E);
    launch(gpu, precise('swiglu_gate_bwd', bf16), grid1(rows * F), 256, [b('gu'), b('dact'), b('dgu'), u64(rows), i32(F)]);
    // gate and up: gu = xs · [Gate; Up]ᵀ per expert
    groupedNN(ctx, 'dgu', 2 * F, ctx.param(0), ctx.param(1), F, 'dxs', D, tiles);
    const dgu = ctx.buffer('dgu');
    groupedTN(ctx, dgu, 2 * F, ctx.buffer('xs'), D, ctx.gradParam(0), F, D, E);
    groupedTN(ctx, dgu + BigInt(F * operand), 2 * F, ctx.buffer('xs'), D, ctx.gradParam(1), F, D, E);
    const dx = ctx.gradIn(0);
    if (dx) launch(gpu, 'expert_gather_bwd', [N], 128, [b('dxs'), b('slot'), ptr(dx), i32(D), i32(K)]);
  },
};

/** The variant of a kernel that writes bf16 (a grouped GEMM's operand) in precision = bf16, else the fp32 one. */
export function precise(name: 'expert_gather' | 'swiglu_gate_fwd' | 'expert_combine_bwd' | 'swiglu_gate_bwd', bf16: boolean): string {
  return bf16 ? `${name}_bf16` : name;
}

type Ctx = Parameters<CudaOp['forward']>[0];

/**
 * The grouped GEMM kernel of a shape, its block and the output columns a block covers: bf16 operands
 * on tensor cores (grouped_bf16.cu, 128 threads, 64×128 tiles, weights from their bf16 shadow) in
 * bf16 mode, fp32 SIMT otherwise (64×64 tiles).
 */
function grouped(ctx: Ctx, shape: 'nt' | 'nn' | 'tn'): { name: string; block: number; cols: number; weight: (w: DevicePtr) => DevicePtr } {
  const b16 = ctx.gpu.bf16;
  return b16 ? { name: `grouped_${shape}_bf16`, block: 128, cols: BF16_COLS, weight: (w) => b16.weight(w) } : { name: `grouped_gemm_${shape}`, block: 256, cols: EXPERT_TILE, weight: (w) => w };
}

/** The grid of an expert-tile GEMM: the fp32 kernels take (row tile, column tile), the bf16 ones (column tile, row tile). */
function tileGrid(ctx: Ctx, cols: number, tiles: number, g: ReturnType<typeof grouped>): [number, number] {
  const colTiles = Math.ceil(cols / g.cols);
  return ctx.gpu.bf16 ? [colTiles, tiles] : [tiles, colTiles];
}

/** C[r, 0:n] = A[r, 0:k] · W(e)ᵀ, W's first `split` output rows from w1, the rest from w2 */
function groupedNT(ctx: Ctx, a: string, k: number, w1: DevicePtr, w2: DevicePtr, split: number, c: string, n: number, tiles: number): void {
  const g = grouped(ctx, 'nt');
  launch(ctx.gpu, g.name, tileGrid(ctx, n, tiles, g), g.block, [ptr(ctx.buffer(a)), i32(k), ptr(g.weight(w1)), ptr(g.weight(w2)), i32(split), ptr(ctx.buffer(c)), i32(n), ptr(ctx.buffer('tiles')), i32(n), i32(k)]);
}

/** C[r, 0:k] = A[r, 0:n] · W(e)   (the input gradient of groupedNT) */
function groupedNN(ctx: Ctx, a: string, n: number, w1: DevicePtr, w2: DevicePtr, split: number, c: string, k: number, tiles: number): void {
  const g = grouped(ctx, 'nn');
  launch(ctx.gpu, g.name, tileGrid(ctx, k, tiles, g), g.block, [ptr(ctx.buffer(a)), i32(n), ptr(g.weight(w1)), ptr(g.weight(w2)), i32(split), ptr(ctx.buffer(c)), i32(k), ptr(ctx.buffer('tiles')), i32(n), i32(k)]);
}

/** dW[e] += A_eᵀ · B_e over each expert's rows (A [rows, n] with row stride lda, B [rows, k]) */
function groupedTN(ctx: Ctx, a: DevicePtr, lda: number, bm: DevicePtr, ldb: number, dw: DevicePtr, n: number, k: number, E: number): void {
  const g = grouped(ctx, 'tn');
  const grid: [number, number, number] = ctx.gpu.bf16 ? [Math.ceil(k / g.cols), Math.ceil(n / EXPERT_TILE), E] : [Math.ceil(n / EXPERT_TILE), Math.ceil(k / EXPERT_TILE), E];
  launch(ctx.gpu, g.name, grid, g.block, [ptr(a), i32(lda), ptr(bm), i32(ldb), ptr(dw), ptr(ctx.buffer('offsets')), i32(n), i32(k)]);
}
