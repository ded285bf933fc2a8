/**
 * attention.gqa and attention.mla on CUDA (specs/ir.md §4.6–4.7): projections through cuBLASLt, rotary
 * and causal attention through forward.cu / backward.cu. The attention kernels read q, k and v where
 * the projections left them (row and head strides), so nothing is copied into a head-major layout;
 * MLA's key is two parts, the per-head `nope` part and the rotary key shared by every head.
 */
import { parseRope } from '../../../ir/rope.js';
import { RuntimeError } from '../../errors.js';
import type { DevicePtr } from '../driver.js';
import { f32, i32, ptr } from '../driver.js';
import { at, F32, launch, linearBackward, linearNT, num, rmsnorm, rmsnormBackward, rope, type BackwardContext, type BufferDecl, type CudaOp, type OpContext } from './context.js';

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
}

function operandArgs(a: Operands, q: DevicePtr, k1: DevicePtr, k2: DevicePtr, v: DevicePtr): ReturnType<typeof ptr | typeof i32>[] {
  return [ptr(q), i32(a.sq), i32(a.hq), ptr(k1), i32(a.sk1), i32(a.hk1), i32(a.d1), ptr(k2), i32(a.sk2), i32(a.hk2), i32(a.d2), ptr(v), i32(a.sv), i32(a.hv), i32(a.dv)];
}

function sharedFits(ctx: OpContext, name: string, bytes: number): unknown {
  const limit = ctx.gpu.driver.info.maxSharedPerBlock;
  if (bytes > limit) throw new RuntimeError(`attention at sequence length ${ctx.T} needs ${bytes} bytes of shared memory per block; this GPU allows ${limit}`, 'use a shorter seq_len');
  const fn = ctx.gpu.kernel(name);
  if (bytes > 48 * 1024) ctx.gpu.driver.allowSharedMemory(fn, bytes);
  return fn;
}

/** o [rows, H·dv] and the log-sum-exp per (b, h, t) for the backward */
function attentionForward(ctx: OpContext, a: Operands, o: DevicePtr, lse: DevicePtr): void {
  const shared = (ctx.T + a.d1 + a.d2) * F32;
  const fn = sharedFits(ctx, 'attention_fwd', shared);
  const group = a.heads / a.kvHeads;
  ctx.gpu.driver.launch(fn, [ctx.T, a.heads, ctx.B], 128, [...operandArgs(a, a.q, a.k1, a.k2, a.v), ptr(o), i32(a.heads * a.dv), ptr(lse), i32(ctx.T), i32(a.heads), i32(group), f32(a.scale)], shared);
}

/** Gradients of q, both key parts and v, added where the operands live in the gradient buffers. */
function attentionBackward(ctx: BackwardContext, a: Operands, o: DevicePtr, dout: DevicePtr, lse: DevicePtr, delta: DevicePtr, grads: { q: DevicePtr; k1: DevicePtr; k2: DevicePtr; v: DevicePtr }): void {
  const group = a.heads / a.kvHeads;
  const so = a.heads * a.dv;
  launch(ctx.gpu, 'attention_bwd_delta', [ctx.T, a.heads, ctx.B], 64, [ptr(o), ptr(dout), i32(so), ptr(delta), i32(ctx.T), i32(a.heads), i32(a.dv)]);
  const tail = [ptr(dout), i32(so), ptr(lse), ptr(delta)];
  const dqShared = (ctx.T + a.d1 + a.d2 + a.dv) * F32;
  ctx.gpu.driver.launch(sharedFits(ctx, 'attention_bwd_dq', dqShared), [ctx.T, a.heads, ctx.B], 128, [...operandArgs(a, a.q, a.k1, a.k2, a.v), ...tail, ptr(grads.q), i32(ctx.T), i32(a.heads), i32(group), f32(a.scale)], dqShared);
  if (a.d1 + a.d2 > 8 * 128 || a.dv > 8 * 128) throw new RuntimeError('attention backward on cuda supports head widths up to 1024');
  const kvShared = 2 * ctx.T * F32;
  ctx.gpu.driver.launch(sharedFits(ctx, 'attention_bwd_dkv', kvShared), [ctx.T, a.kvHeads, ctx.B], 128, [...operandArgs(a, a.q, a.k1, a.k2, a.v), ...tail, ptr(grads.k1), ptr(grads.k2), ptr(grads.v), i32(ctx.T), i32(a.heads), i32(group), f32(a.scale)], kvShared);
}

const statsBytes = (B: number, T: number, H: number): number => B * H * T * F32;

interface Gqa {
  readonly H: number;
  readonly G: number;
  readonly d: number;
}

const gqaShape = (ctx: { node: OpContext['node'] }): Gqa => ({ H: num(ctx.node, 'heads'), G: num(ctx.node, 'kv_heads'), d: num(ctx.node, 'head_dim') });

function gqaOperands(ctx: OpContext, base: DevicePtr): Operands {
  const { H, G, d } = gqaShape(ctx);
  const width = (H + 2 * G) * d;
  const k = at(base, H * d);
  return { q: base, sq: width, hq: d, k1: k, sk1: width, hk1: d, d1: d, k2: k, sk2: 0, hk2: 0, d2: 0, v: at(base, (H + G) * d), sv: width, hv: d, dv: d, heads: H, kvHeads: G, scale: num(ctx.node, 'softmax_scale') };
}

export const gqa: CudaOp = {
  fused: () => [[0, 1, 2]],
  buffers({ node }, B, T) {
    const { H, G, d } = gqaShape({ node });
    const rows = B * T;
    return [
      { name: 'qkv', bytes: rows * (H + 2 * G) * d * F32, scope: 'saved' },
      { name: 'o', bytes: rows * H * d * F32, scope: 'saved' },
      { name: 'lse', bytes: statsBytes(B, T, H), scope: 'saved' },
      { name: 'do', bytes: rows * H * d * F32, scope: 'grad' },
      { name: 'delta', bytes: statsBytes(B, T, H), scope: 'grad' },
      { name: 'dqkv', bytes: rows * (H + 2 * G) * d * F32, scope: 'grad' },
    ];
  },
  forward(ctx) {
    const { H, G, d } = gqaShape(ctx);
    const [D, rows, width] = [ctx.outputWidth(0), ctx.B * ctx.T, (H + 2 * G) * d];
    const qkv = ctx.buffer('qkv');
    linearNT(ctx.gpu, ctx.input(0), ctx.param(0), qkv, rows, D, width);
    const interleaved = parseRope(ctx.node.attrs.rope).interleaved;
    rope(ctx, qkv, H, width, d, d, interleaved, 1);
    rope(ctx, at(qkv, H * d), G, width, d, d, interleaved, 1);
    attentionForward(ctx, gqaOperands(ctx, qkv), ctx.buffer('o'), ctx.buffer('lse'));
    linearNT(ctx.gpu, ctx.buffer('o'), ctx.param(3), ctx.output(0), rows, H * d, D);
  },
  backward(ctx) {
    const dy = ctx.gradOut(0);
    if (!dy) return;
    const { H, G, d } = gqaShape(ctx);
    const [D, rows, width] = [ctx.outputWidth(0), ctx.B * ctx.T, (H + 2 * G) * d];
    const [dout, dqkv] = [ctx.buffer('do'), ctx.buffer('dqkv')];
    linearBackward(ctx.gpu, ctx.buffer('o'), ctx.param(3), dy, dout, ctx.gradParam(3), rows, H * d, D, false);
    ctx.gpu.driver.zero(dqkv, rows * width * F32);
    const dk = at(dqkv, H * d);
    attentionBackward(ctx, gqaOperands(ctx, ctx.buffer('qkv')), ctx.buffer('o'), dout, ctx.buffer('lse'), ctx.buffer('delta'), { q: dqkv, k1: dk, k2: dk, v: at(dqkv, (H + G) * d) });
    const interleaved = parseRope(ctx.node.attrs.rope).interleaved;
    rope(ctx, dqkv, H, width, d, d, interleaved, -1);
    rope(ctx, dk, G, width, d, d, interleaved, -1);
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
    heads: H, kvHeads: H, scale: num(ctx.node, 'softmax_scale'),
  };
}

export const mla: CudaOp = {
  buffers({ node }, B, T) {
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
    attentionForward(ctx, mlaOperands(ctx, q, kva, kv), o, ctx.buffer('lse'));
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
    attentionBackward(ctx, mlaOperands(ctx, b('q'), b('kva'), b('kv')), b('o'), b('do'), b('lse'), b('delta'), { q: b('dq'), k1: b('dkv'), k2: at(b('dkva'), R), v: at(b('dkv'), dn) });
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
