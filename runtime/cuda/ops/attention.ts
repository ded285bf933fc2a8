/**
 * attention.gqa and attention.mla on CUDA (specs/ir.md §4.6–4.7): projections through cuBLASLt, then
 * causal attention by one of three paths (ops/attention-path.ts picks): in precision = bf16 the flash
 * kernels (kernels/flash.cu: tensor-core tiles, online softmax, O(T) memory); in fp32 (the exact
 * reference) cuBLASLt products with the softmax between them (kernels/attention.cu) over scores
 * materialized one batch row at a time ([T, H, T] floats of scratch; the backward recomputes them
 * from the log-sum-exp); and, where those scores would pass SCORE_BUDGET and flash does not apply,
 * row-wise kernels (attn_rows_*: fp32 SIMT, O(T) memory), so such a model still trains, slower.
 * Every path reads q, k and v where the projections left them (row and head strides), so nothing is
 * copied into a head-major layout; MLA's key is two parts, the per-head `nope` part and the rotary
 * key shared by every head. A sliding window masks inside the kernels (the products still take every
 * key). GQA's q/k/v biases are added after the projection and q/k norm (per head or full width) runs
 * in place before rotary, keeping the pre-norm rows for the backward (gqaProject, shared with the
 * cached decoder).
 */
import { readAttrs } from '../../../ir/attrs.js';
import { parseRope } from '../../../ir/rope.js';
import { RuntimeError } from '../../errors.js';
import type { DevicePtr } from '../driver.js';
import type { GemmType, RowMajorGemm } from '../cublaslt.js';
import { f32, i32, ptr, type KernelArg } from '../driver.js';
import { attentionPath, flashBackwardShared, flashForwardShared, flashKernels, flashShape, scoreBytes, type AttentionPath } from './attention-path.js';
import { at, F32, grid1, launch, linearBackward, linearNT, num, rmsnorm, rmsnormBackward, rope, u64, type BackwardContext, type BufferDecl, type CudaOp, type CudaPrecision, type OpContext } from './context.js';

/** Where attention finds its operands: per operand a base, a row stride and a head stride (floats). */
interface Operands {
  readonly q: DevicePtr;
  readonly sq: number;
  readonly hq: number;
  readonly k1: DevicePtr;
  readonly sk1: number;
  readonly hk1: number;
  readonly d1: number;
  readonly k2: DevicePtr;
  readonly sk2: number;
  readonly hk2: number;
  readonly d2: number;
  readonly v: DevicePtr;
  readonly sv: number;
  readonly hv: number;
  readonly dv: number;
  readonly heads: number;
  readonly kvHeads: number;
  readonly scale: number;
  /** sliding window W (0: full causal attention) */
  readonly window: number;
}

/** The node's sliding window as the kernels take it: W, or 0 for full causal attention. */
export function windowOf(node: OpContext['node']): number {
  const w = node.op === 'attention.mla' ? readAttrs('attention.mla', node.attrs).window : readAttrs('attention.gqa', node.attrs).window;
  return w ?? 0;
}

/** The attention products: exact fp32 in fp32 mode; TF32 tensor cores (finer than bf16, fp32 data, fp32 accumulation) in bf16 mode. */
const productType = (ctx: OpContext): GemmType => (ctx.gpu.bf16 ? 'tf32' : 'f32');

/** MLA's rotary key is one for all heads: its products take every head at once, which needs q's heads side by side. */
function sharedKeyFits(a: Operands): void {
  if (a.d2 > 0 && (a.heads !== a.kvHeads || a.sq !== a.heads * a.hq)) throw new RuntimeError('attention on cuda: a key part shared by the heads needs one query row holding every head');
}

/**
 * Scores of batch row b, every head: S[t][h][u] = scale·q(t,h)·k(u,g(h)). Query head h = g·group + j
 * reads kv head g, so for each j one product batched over the kv heads has uniform strides.
 */
function scores(ctx: OpContext, a: Operands, b: number, S: DevicePtr): void {
  const { T } = ctx;
  const [H, G, type] = [a.heads, a.kvHeads, productType(ctx)];
  const group = H / G;
  for (let j = 0; j < group; j++) {
    ctx.gpu.lt.gemm({
      m: T, n: T, k: a.d1, transA: false, transB: true, alpha: a.scale, type,
      a: at(a.q, b * T * a.sq + j * a.hq), lda: a.sq, b: at(a.k1, b * T * a.sk1), ldb: a.sk1, c: at(S, j * T), ldc: H * T,
      batch: { count: G, strideA: group * a.hq, strideB: a.hk1, strideC: group * T },
    });
  }
  if (a.d2 === 0) return;
  sharedKeyFits(a);
  // rows (t, h) of q's rotary part are evenly spaced (hq apart), and so are the rows of S (T apart)
  ctx.gpu.lt.gemm({ m: T * H, n: T, k: a.d2, transA: false, transB: true, alpha: a.scale, beta: 1, type, a: at(a.q, b * T * a.sq + a.d1), lda: a.hq, b: at(a.k2, b * T * a.sk2), ldb: a.sk2, c: S, ldc: T });
}

/** o [rows, H·dv] and the log-sum-exp per (b, h, t) for the backward; S is [T, H, T] of scratch. */
function attentionForward(ctx: OpContext, a: Operands, o: DevicePtr, lse: DevicePtr, S: DevicePtr | null): void {
  const { T } = ctx;
  const flash = flashShapeOf(ctx, a);
  if (flash !== null) {
    const bytes = flashForwardShared(flash);
    launch(ctx.gpu, flashKernels(flash).fwd, [Math.ceil(T / FLASH_TILE), a.heads, ctx.B], 128, [...rowOperands(a), ptr(o), ptr(lse), i32(T), i32(a.heads), i32(a.kvHeads), f32(a.scale), i32(a.window)], bytes);
    return;
  }
  if (S === null) {
    const shared = (a.d1 + a.d2 + ROW_CHUNK + a.dv) * F32;
    launch(ctx.gpu, 'attn_rows_fwd', [T, a.heads, ctx.B], 128, [...rowOperands(a), ptr(o), ptr(lse), i32(T), i32(a.heads), i32(a.kvHeads), f32(a.scale), i32(a.window)], shared);
    return;
  }
  const [H, G, type] = [a.heads, a.kvHeads, productType(ctx)];
  const [group, so] = [H / G, H * a.dv];
  for (let b = 0; b < ctx.B; b++) {
    scores(ctx, a, b, S);
    launch(ctx.gpu, 'attn_softmax_fwd', [T, H], 128, [ptr(S), ptr(at(lse, b * H * T)), i32(T), i32(H), i32(a.window)]);
    for (let j = 0; j < group; j++) {
      ctx.gpu.lt.gemm({
        m: T, n: a.dv, k: T, transA: false, transB: false, type,
        a: at(S, j * T), lda: H * T, b: at(a.v, b * T * a.sv), ldb: a.sv, c: at(o, b * T * so + j * a.dv), ldc: so,
        batch: { count: G, strideA: group * T, strideB: a.hv, strideC: group * a.dv },
      });
    }
  }
}

interface AttentionGrads {
  readonly q: DevicePtr;
  readonly k1: DevicePtr;
  readonly k2: DevicePtr;
  readonly v: DevicePtr;
}

/**
 * Gradients of q, both key parts and v, added where the operands live in the gradient buffers. Per
 * batch row: the scores are recomputed (S), P and dS come from the saved log-sum-exp and delta,
 * then dQ = scale·dS·K, dK = scale·dSᵀ·Q, dV = Pᵀ·dO as products (the kv heads of a group add up).
 */
function attentionBackward(ctx: BackwardContext, a: Operands, o: DevicePtr, dout: DevicePtr, lse: DevicePtr, delta: DevicePtr, grads: AttentionGrads, S: DevicePtr | null, dP: DevicePtr | null): void {
  const { T } = ctx;
  const [H, G, type] = [a.heads, a.kvHeads, productType(ctx)];
  const [group, so] = [H / G, H * a.dv];
  launch(ctx.gpu, 'attention_bwd_delta', [T, H, ctx.B], 64, [ptr(o), ptr(dout), i32(so), ptr(delta), i32(T), i32(H), i32(a.dv)]);
  const flash = flashShapeOf(ctx, a);
  if (flash !== null) {
    const args = [...rowOperands(a), ptr(dout), ptr(lse), ptr(delta), ptr(grads.q), ptr(grads.k1), ptr(grads.k2), ptr(grads.v), i32(T), i32(H), i32(G), f32(a.scale), i32(a.window)];
    launch(ctx.gpu, flashKernels(flash).bwd, [Math.ceil(T / FLASH_TILE), G, ctx.B], 256, args, flashBackwardShared(flash));
    return;
  }
  if (S === null || dP === null) {
    const shared = (2 * (a.d1 + a.d2) + a.dv + 2 * ROW_CHUNK) * F32;
    const args = [...rowOperands(a), ptr(dout), ptr(lse), ptr(delta), ptr(grads.q), ptr(grads.k1), ptr(grads.k2), ptr(grads.v), i32(T), i32(H), i32(G), f32(a.scale), i32(a.window)];
    launch(ctx.gpu, 'attn_rows_bwd', [T, H, ctx.B], 128, args, shared);
    return;
  }
  const gemm = (g: RowMajorGemm): void => ctx.gpu.lt.gemm(g);
  for (let b = 0; b < ctx.B; b++) {
    const [rq, rk1, rk2, rv, ro] = [b * T * a.sq, b * T * a.sk1, b * T * a.sk2, b * T * a.sv, b * T * so];
    scores(ctx, a, b, S);
    for (let j = 0; j < group; j++) {
      gemm({ m: T, n: T, k: a.dv, transA: false, transB: true, type, a: at(dout, ro + j * a.dv), lda: so, b: at(a.v, rv), ldb: a.sv, c: at(dP, j * T), ldc: H * T, batch: { count: G, strideA: group * a.dv, strideB: a.hv, strideC: group * T } });
    }
    launch(ctx.gpu, 'attn_softmax_bwd', [T, H], 128, [ptr(S), ptr(dP), ptr(at(lse, b * H * T)), ptr(at(delta, b * H * T)), i32(T), i32(H), i32(a.window)]);
    for (let j = 0; j < group; j++) {
      const rows = { count: G, strideA: group * T };
      gemm({ m: T, n: a.d1, k: T, transA: false, transB: false, alpha: a.scale, beta: 1, type, a: at(dP, j * T), lda: H * T, b: at(a.k1, rk1), ldb: a.sk1, c: at(grads.q, rq + j * a.hq), ldc: a.sq, batch: { ...rows, strideB: a.hk1, strideC: group * a.hq } });
      gemm({ m: T, n: a.d1, k: T, transA: true, transB: false, alpha: a.scale, beta: 1, type, a: at(dP, j * T), lda: H * T, b: at(a.q, rq + j * a.hq), ldb: a.sq, c: at(grads.k1, rk1), ldc: a.sk1, batch: { ...rows, strideB: group * a.hq, strideC: a.hk1 } });
      gemm({ m: T, n: a.dv, k: T, transA: true, transB: false, beta: 1, type, a: at(S, j * T), lda: H * T, b: at(dout, ro + j * a.dv), ldb: so, c: at(grads.v, rv), ldc: a.sv, batch: { ...rows, strideB: group * a.dv, strideC: a.hv } });
    }
    if (a.d2 === 0) continue;
    // the shared rotary key: rows (t, h) of dS against q's and dq's rotary parts, all heads in one product
    gemm({ m: T * H, n: a.d2, k: T, transA: false, transB: false, alpha: a.scale, beta: 1, type, a: dP, lda: T, b: at(a.k2, rk2), ldb: a.sk2, c: at(grads.q, rq + a.d1), ldc: a.hq });
    gemm({ m: T, n: a.d2, k: T * H, transA: true, transB: false, alpha: a.scale, beta: 1, type, a: dP, lda: T, b: at(a.q, rq + a.d1), ldb: a.hq, c: at(grads.k2, rk2), ldc: a.sk2 });
  }
}

/** flash.cu's tile: the query rows (forward) and keys (backward) a block takes. */
const FLASH_TILE = 64;

/** The node's attention path (ops/attention-path.ts) from its shape and the run's precision. */
function pathOf(node: OpContext['node'], T: number, bf16: boolean): AttentionPath {
  const { qk, v } = headWidths(node);
  return attentionPath({ T, heads: num(node, 'heads'), qk, v, bf16 });
}

/** The flash instantiation this node runs, or null on the other paths. */
function flashShapeOf(ctx: OpContext, a: Operands): readonly [number, number] | null {
  return pathOf(ctx.node, ctx.T, ctx.gpu.bf16 !== undefined) === 'flash' ? flashShape(a.d1 + a.d2, a.dv) : null;
}

/** A head's q·k and v widths: GQA's head_dim for both; MLA's nope + rope and v_dim. */
function headWidths(node: OpContext['node']): { qk: number; v: number } {
  if (node.op === 'attention.mla') return { qk: num(node, 'nope_dim') + num(node, 'rope_dim'), v: num(node, 'v_dim') };
  const d = num(node, 'head_dim');
  return { qk: d, v: d };
}

/** kernels/attention.cu's ROW_CHUNK: the keys a row-wise block holds at once. */
const ROW_CHUNK = 256;

/** The row-wise kernels' operand arguments (attn_rows_fwd and attn_rows_bwd take them first). */
function rowOperands(a: Operands): KernelArg[] {
  return [ptr(a.q), i32(a.sq), i32(a.hq), ptr(a.k1), i32(a.sk1), i32(a.hk1), i32(a.d1), ptr(a.k2), i32(a.sk2), i32(a.d2), ptr(a.v), i32(a.sv), i32(a.hv), i32(a.dv)];
}

/** A score buffer of the products, or null on the paths that store no scores. */
function scratch(ctx: OpContext, name: 'scores' | 'bscores' | 'dscores'): DevicePtr | null {
  return pathOf(ctx.node, ctx.T, ctx.gpu.bf16 !== undefined) === 'products' ? ctx.buffer(name) : null;
}

/** The scratch the attention products need: scores in the forward; scores and their gradient in the backward. */
function scoreBuffers(node: OpContext['node'], T: number, precision: CudaPrecision): BufferDecl[] {
  const H = num(node, 'heads');
  if (pathOf(node, T, precision === 'bf16') !== 'products') return [];
  return [
    { name: 'scores', bytes: scoreBytes(T, H), scope: 'temp' },
    { name: 'bscores', bytes: scoreBytes(T, H), scope: 'grad' },
    { name: 'dscores', bytes: scoreBytes(T, H), scope: 'grad' },
  ];
}

const statsBytes = (B: number, T: number, H: number): number => B * H * T * F32;

interface Gqa {
  readonly H: number;
  readonly G: number;
  readonly d: number;
  readonly bias: boolean;
  readonly norm: 'none' | 'head' | 'full';
}

function gqaShape(node: OpContext['node']): Gqa {
  const a = readAttrs('attention.gqa', node.attrs);
  return { H: a.heads, G: a.kv_heads, d: a.head_dim, bias: a.qkv_bias, norm: a.qk_norm };
}

/** Param indices (ir/ops.ts gqaParamShapes): q, k, v (fused), o, then the q, k, v biases (fused), then the q and k norm weights. */
const GQA_O = 3;
const GQA_BIAS = 4;
const gqaNormParam = (g: Gqa): number => (g.bias ? 7 : 4);

/**
 * One q/k norm launch: the columns [col, col + n) of every qkv row, weight 0 (q's) or 1 (k's), its
 * 1/rms per row at rstd[slot · rows]. Per head: one launch per head (H + G); full width: q, then k.
 */
interface NormPart {
  readonly col: number;
  readonly n: number;
  readonly weight: 0 | 1;
  readonly slot: number;
}

function normParts(g: Gqa): NormPart[] {
  if (g.norm === 'full') return [{ col: 0, n: g.H * g.d, weight: 0, slot: 0 }, { col: g.H * g.d, n: g.G * g.d, weight: 1, slot: 1 }];
  if (g.norm === 'none') return [];
  return Array.from({ length: g.H + g.G }, (_, h): NormPart => ({ col: h * g.d, n: g.d, weight: h < g.H ? 0 : 1, slot: h }));
}

/**
 * GQA's q|k|v rows (not yet rotated): x·W_qkvᵀ, plus the biases (qkv_bias), then q and k normalised in
 * place (qk_norm). Training keeps the pre-norm rows in `raw` and each norm row's 1/rms in `rstd` for
 * the backward; the cached decoder passes null for both.
 */
export function gqaProject(ctx: OpContext, qkv: DevicePtr, raw: DevicePtr | null, rstd: DevicePtr | null): void {
  const g = gqaShape(ctx.node);
  const [D, rows, width] = [ctx.outputWidth(0), ctx.B * ctx.T, (g.H + 2 * g.G) * g.d];
  linearNT(ctx.gpu, ctx.input(0), ctx.param(0), qkv, rows, D, width);
  if (g.bias) launch(ctx.gpu, 'add_row_bias', grid1(rows * width), 256, [ptr(qkv), ptr(ctx.param(GQA_BIAS)), u64(rows), i32(width)]);
  const parts = normParts(g);
  if (parts.length === 0) return;
  if (raw !== null) ctx.gpu.driver.copy(raw, qkv, rows * width * F32);
  const eps = num(ctx.node, 'eps');
  for (const p of parts) {
    const r = rstd === null ? 0n : at(rstd, p.slot * rows);
    rmsnorm(ctx.gpu, at(qkv, p.col), ctx.param(gqaNormParam(g) + p.weight), at(qkv, p.col), r, rows, p.n, width, width, eps);
  }
}

function gqaOperands(ctx: OpContext, base: DevicePtr): Operands {
  const { H, G, d } = gqaShape(ctx.node);
  const width = (H + 2 * G) * d;
  const k = at(base, H * d);
  return { q: base, sq: width, hq: d, k1: k, sk1: width, hk1: d, d1: d, k2: k, sk2: 0, hk2: 0, d2: 0, v: at(base, (H + G) * d), sv: width, hv: d, dv: d, heads: H, kvHeads: G, scale: num(ctx.node, 'softmax_scale'), window: windowOf(ctx.node) };
}

export const gqa: CudaOp = {
  fused: (node) => (gqaShape(node).bias ? [[0, 1, 2], [4, 5, 6]] : [[0, 1, 2]]),
  buffers({ node }, B, T, precision) {
    const g = gqaShape(node);
    const { H, G, d } = g;
    const rows = B * T;
    const normed: BufferDecl[] =
      g.norm === 'none'
        ? []
        : [
            { name: 'qkv_raw', bytes: rows * (H + 2 * G) * d * F32, scope: 'saved' },
            { name: 'rstd_qk', bytes: normParts(g).length * rows * F32, scope: 'saved' },
          ];
    return [
      { name: 'qkv', bytes: rows * (H + 2 * G) * d * F32, scope: 'saved' },
      ...normed,
      { name: 'o', bytes: rows * H * d * F32, scope: 'saved' },
      { name: 'lse', bytes: statsBytes(B, T, H), scope: 'saved' },
      { name: 'do', bytes: rows * H * d * F32, scope: 'grad' },
      { name: 'delta', bytes: statsBytes(B, T, H), scope: 'grad' },
      { name: 'dqkv', bytes: rows * (H + 2 * G) * d * F32, scope: 'grad' },
      ...scoreBuffers(node, T, precision),
    ];
  },
  forward(ctx) {
    const g = gqaShape(ctx.node);
    const { H, G, d } = g;
    const [D, rows, width] = [ctx.outputWidth(0), ctx.B * ctx.T, (H + 2 * G) * d];
    const qkv = ctx.buffer('qkv');
    const normed = g.norm !== 'none';
    gqaProject(ctx, qkv, normed ? ctx.buffer('qkv_raw') : null, normed ? ctx.buffer('rstd_qk') : null);
    const interleaved = parseRope(ctx.node.attrs.rope).interleaved;
    rope(ctx, qkv, H, width, d, d, interleaved, 1);
    rope(ctx, at(qkv, H * d), G, width, d, d, interleaved, 1);
    attentionForward(ctx, gqaOperands(ctx, qkv), ctx.buffer('o'), ctx.buffer('lse'), scratch(ctx, 'scores'));
    linearNT(ctx.gpu, ctx.buffer('o'), ctx.param(GQA_O), ctx.output(0), rows, H * d, D);
  },
  backward(ctx) {
    const dy = ctx.gradOut(0);
    if (!dy) return;
    const g = gqaShape(ctx.node);
    const { H, G, d } = g;
    const [D, rows, width] = [ctx.outputWidth(0), ctx.B * ctx.T, (H + 2 * G) * d];
    const [dout, dqkv] = [ctx.buffer('do'), ctx.buffer('dqkv')];
    linearBackward(ctx.gpu, ctx.buffer('o'), ctx.param(GQA_O), dy, dout, ctx.gradParam(GQA_O), rows, H * d, D, false);
    ctx.gpu.driver.zero(dqkv, rows * width * F32);
    const dk = at(dqkv, H * d);
    attentionBackward(ctx, gqaOperands(ctx, ctx.buffer('qkv')), ctx.buffer('o'), dout, ctx.buffer('lse'), ctx.buffer('delta'), { q: dqkv, k1: dk, k2: dk, v: at(dqkv, (H + G) * d) }, scratch(ctx, 'bscores'), scratch(ctx, 'dscores'));
    const interleaved = parseRope(ctx.node.attrs.rope).interleaved;
    rope(ctx, dqkv, H, width, d, d, interleaved, -1);
    rope(ctx, dk, G, width, d, d, interleaved, -1);
    // through the norms, in place: dqkv becomes the gradient of the projection (+ bias) output
    for (const p of normParts(g)) {
      const [col, rstd] = [at(dqkv, p.col), at(ctx.buffer('rstd_qk'), p.slot * rows)];
      rmsnormBackward(ctx.gpu, at(ctx.buffer('qkv_raw'), p.col), width, ctx.param(gqaNormParam(g) + p.weight), rstd, col, width, col, width, ctx.gradParam(gqaNormParam(g) + p.weight), rows, p.n, false);
    }
    if (g.bias) launch(ctx.gpu, 'bias_grad', grid1(width, 128), 128, [ptr(dqkv), ptr(ctx.gradParam(GQA_BIAS)), i32(rows), i32(width)]);
    linearBackward(ctx.gpu, ctx.input(0), ctx.param(0), dqkv, ctx.gradIn(0), ctx.gradParam(0), rows, D, width);
  },
};

interface Mla {
  readonly H: number;
  readonly qRank: number;
  readonly R: number;
  readonly dn: number;
  readonly dr: number;
  readonly dv: number;
}

function mlaShape(node: OpContext['node']): Mla {
  return { H: num(node, 'heads'), qRank: num(node, 'q_rank'), R: num(node, 'kv_rank'), dn: num(node, 'nope_dim'), dr: num(node, 'rope_dim'), dv: num(node, 'v_dim') };
}

/** Param indices: [q_a, q_a_norm, q_b] or [q], then kv_a, kv_a_norm, kv_b, o. */
function mlaParams(qRank: number): { qa: number; qaNorm: number; qb: number; q: number; kva: number; kvNorm: number; kvb: number; o: number } {
  const off = qRank > 0 ? 3 : 1;
  return { qa: 0, qaNorm: 1, qb: 2, q: 0, kva: off, kvNorm: off + 1, kvb: off + 2, o: off + 3 };
}

function mlaOperands(ctx: OpContext, q: DevicePtr, kva: DevicePtr, kv: DevicePtr): Operands {
  const { H, R, dn, dr, dv } = mlaShape(ctx.node);
  const qk = dn + dr;
  return {
    q, sq: H * qk, hq: qk,
    k1: kv, sk1: H * (dn + dv), hk1: dn + dv, d1: dn,
    k2: at(kva, R), sk2: R + dr, hk2: 0, d2: dr,
    v: at(kv, dn), sv: H * (dn + dv), hv: dn + dv, dv,
    heads: H, kvHeads: H, scale: num(ctx.node, 'softmax_scale'), window: windowOf(ctx.node),
  };
}

export const mla: CudaOp = {
  buffers({ node }, B, T, precision) {
    const { H, qRank, R, dn, dr, dv } = mlaShape(node);
    const rows = B * T;
    const list: BufferDecl[] = [
      { name: 'q', bytes: rows * H * (dn + dr) * F32, scope: 'saved' },
      { name: 'kva', bytes: rows * (R + dr) * F32, scope: 'saved' },
      { name: 'cn', bytes: rows * R * F32, scope: 'saved' },
      { name: 'rstd_kv', bytes: rows * F32, scope: 'saved' },
      { name: 'kv', bytes: rows * H * (dn + dv) * F32, scope: 'saved' },
      { name: 'o', bytes: rows * H * dv * F32, scope: 'saved' },
      { name: 'lse', bytes: statsBytes(B, T, H), scope: 'saved' },
      { name: 'do', bytes: rows * H * dv * F32, scope: 'grad' },
      { name: 'delta', bytes: statsBytes(B, T, H), scope: 'grad' },
      { name: 'dq', bytes: rows * H * (dn + dr) * F32, scope: 'grad' },
      { name: 'dkva', bytes: rows * (R + dr) * F32, scope: 'grad' },
      { name: 'dkv', bytes: rows * H * (dn + dv) * F32, scope: 'grad' },
      { name: 'dcn', bytes: rows * R * F32, scope: 'grad' },
      ...scoreBuffers(node, T, precision),
    ];
    if (qRank > 0) {
      list.push(
        { name: 'qa', bytes: rows * qRank * F32, scope: 'saved' },
        { name: 'qan', bytes: rows * qRank * F32, scope: 'saved' },
        { name: 'rstd_q', bytes: rows * F32, scope: 'saved' },
        { name: 'dqan', bytes: rows * qRank * F32, scope: 'grad' },
        { name: 'dqa', bytes: rows * qRank * F32, scope: 'grad' },
      );
    }
    return list;
  },
  forward(ctx) {
    const { gpu, node } = ctx;
    const { H, qRank, R, dn, dr, dv } = mlaShape(node);
    const p = mlaParams(qRank);
    const eps = num(node, 'eps');
    const [D, rows, qk] = [ctx.outputWidth(0), ctx.B * ctx.T, dn + dr];
    const x = ctx.input(0);
    const [q, kva, cn, kv, o] = ['q', 'kva', 'cn', 'kv', 'o'].map((n) => ctx.buffer(n)) as [DevicePtr, DevicePtr, DevicePtr, DevicePtr, DevicePtr];
    if (qRank > 0) {
      linearNT(gpu, x, ctx.param(p.qa), ctx.buffer('qa'), rows, D, qRank);
      rmsnorm(gpu, ctx.buffer('qa'), ctx.param(p.qaNorm), ctx.buffer('qan'), ctx.buffer('rstd_q'), rows, qRank, qRank, qRank, eps);
      linearNT(gpu, ctx.buffer('qan'), ctx.param(p.qb), q, rows, qRank, H * qk);
    } else {
      linearNT(gpu, x, ctx.param(p.q), q, rows, D, H * qk);
    }
    linearNT(gpu, x, ctx.param(p.kva), kva, rows, D, R + dr);
    rmsnorm(gpu, kva, ctx.param(p.kvNorm), cn, ctx.buffer('rstd_kv'), rows, R, R + dr, R, eps);
    linearNT(gpu, cn, ctx.param(p.kvb), kv, rows, R, H * (dn + dv));
    rope(ctx, at(q, dn), H, H * qk, qk, dr, true, 1);
    rope(ctx, at(kva, R), 1, R + dr, 0, dr, true, 1);
    attentionForward(ctx, mlaOperands(ctx, q, kva, kv), o, ctx.buffer('lse'), scratch(ctx, 'scores'));
    linearNT(gpu, o, ctx.param(p.o), ctx.output(0), rows, H * dv, D);
  },
  backward(ctx) {
    const dy = ctx.gradOut(0);
    if (!dy) return;
    const { gpu, node } = ctx;
    const { H, qRank, R, dn, dr, dv } = mlaShape(node);
    const p = mlaParams(qRank);
    const [D, rows, qk] = [ctx.outputWidth(0), ctx.B * ctx.T, dn + dr];
    const x = ctx.input(0);
    const dx = ctx.gradIn(0);
    const b = (n: string): DevicePtr => ctx.buffer(n);
    linearBackward(gpu, b('o'), ctx.param(p.o), dy, b('do'), ctx.gradParam(p.o), rows, H * dv, D, false);
    gpu.driver.zero(b('dq'), rows * H * qk * F32);
    gpu.driver.zero(b('dkva'), rows * (R + dr) * F32);
    gpu.driver.zero(b('dkv'), rows * H * (dn + dv) * F32);
    attentionBackward(ctx, mlaOperands(ctx, b('q'), b('kva'), b('kv')), b('o'), b('do'), b('lse'), b('delta'), { q: b('dq'), k1: b('dkv'), k2: at(b('dkva'), R), v: at(b('dkv'), dn) }, scratch(ctx, 'bscores'), scratch(ctx, 'dscores'));
    rope(ctx, at(b('dq'), dn), H, H * qk, qk, dr, true, -1);
    rope(ctx, at(b('dkva'), R), 1, R + dr, 0, dr, true, -1);
    linearBackward(gpu, b('cn'), ctx.param(p.kvb), b('dkv'), b('dcn'), ctx.gradParam(p.kvb), rows, R, H * (dn + dv), false);
    rmsnormBackward(gpu, b('kva'), R + dr, ctx.param(p.kvNorm), b('rstd_kv'), b('dcn'), R, b('dkva'), R + dr, ctx.gradParam(p.kvNorm), rows, R);
    linearBackward(gpu, x, ctx.param(p.kva), b('dkva'), dx, ctx.gradParam(p.kva), rows, D, R + dr);
    if (qRank > 0) {
      linearBackward(gpu, b('qan'), ctx.param(p.qb), b('dq'), b('dqan'), ctx.gradParam(p.qb), rows, qRank, H * qk, false);
      gpu.driver.zero(b('dqa'), rows * qRank * F32);
      rmsnormBackward(gpu, b('qa'), qRank, ctx.param(p.qaNorm), b('rstd_q'), b('dqan'), qRank, b('dqa'), qRank, ctx.gradParam(p.qaNorm), rows, qRank);
      linearBackward(gpu, x, ctx.param(p.qa), b('dqa'), dx, ctx.gradParam(p.qa), rows, D, qRank);
    } else {
      linearBackward(gpu, x, ctx.param(p.q), b('dq'), dx, ctx.gradParam(p.q), rows, D, H * qk);
    }
  },
};
