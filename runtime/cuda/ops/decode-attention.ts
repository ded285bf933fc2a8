/**
 * attention.gqa and attention.mla with a KV cache on CUDA (runtime/cuda/decoder.ts): the same math as
 * the tfjs cached decoder (runtime/infer/attention.ts), for T new columns per row at per-row
 * positions, against every cached column a row holds a token in (within the sliding window, if any;
 * the cache keeps every column). GQA's projections, biases and q/k norm are training's (gqaProject). The projections go through
 * cuBLASLt as in training; rotation, the cache write and the attention itself are
 * kernels/decode.cu's, reading the step's column and positions from device memory so a captured
 * graph replays for every step.
 *
 * MLA caches the normalised latent c [R] and the rotated key [rope_dim] per token and never expands
 * keys or values: with kv_b split per head into W_uk [dn, R] and W_uv [dv, R],
 *   ⟨q_nope, W_uk·c⟩ = ⟨W_ukᵀ·q_nope, c⟩      (the key up-projection absorbed into the query)
 *   Σ_u p_u · W_uv·c_u = W_uv · Σ_u p_u · c_u   (the value up-projection applied after the sum)
 * so scores and the weighted sum run in the R-wide latent space shared by all heads.
 */
import { parseRope } from '../../../ir/rope.js';
import type { DevicePtr } from '../driver.js';
import { f32, i32, ptr } from '../driver.js';
import { attentionDims, decodeSharedFloats } from '../decode-plan.js';
import { gqaProject, windowOf } from './attention.js';
import { at, F32, grid1, launch, linearNT, num, rmsnorm, type OpContext } from './context.js';

/** What every cached attention node shares within a step, and its own cache. */
export interface CachedStep {
  /** the step's packed inputs (decode-plan.ts stepInfo) on the device */
  readonly info: DevicePtr;
  /** validity of every cached column, [B][capacity] int32 */
  readonly valid: DevicePtr;
  readonly capacity: number;
  /** this node's cached tensors, in decode-plan.ts cacheParts order */
  readonly cache: readonly DevicePtr[];
  /** cos/sin tables [≥ capacity, d/2] for this node's rope config */
  readonly tables: (d: number) => { readonly cos: DevicePtr; readonly sin: DevicePtr };
}

/** Rotates `heads` vectors of width d in each of the step's rows at the row's position. */
function rotate(ctx: OpContext, step: CachedStep, x: DevicePtr, heads: number, sr: number, sh: number, d: number): void {
  const rows = ctx.B * ctx.T;
  const { cos, sin } = step.tables(d);
  const interleaved = parseRope(ctx.node.attrs.rope).interleaved;
  launch(ctx.gpu, 'rope_at', grid1(rows * heads * (d / 2)), 256, [ptr(x), ptr(cos), ptr(sin), ptr(step.info), i32(rows), i32(heads), i32(sr), i32(sh), i32(d), i32(interleaved ? 1 : 0)]);
}

/** cache[b][g][at + t] ← G vectors of n floats per new row of `src` (row stride ss, head stride sg). */
function write(ctx: OpContext, step: CachedStep, cache: DevicePtr, src: DevicePtr, G: number, n: number, ss: number, sg: number): void {
  launch(ctx.gpu, 'cache_write', grid1(ctx.B * ctx.T * G * n), 256, [ptr(cache), ptr(src), ptr(step.info), i32(ctx.B), i32(ctx.T), i32(G), i32(n), i32(ss), i32(sg), i32(step.capacity)]);
}

interface Query {
  readonly p: DevicePtr;
  /** row stride, head stride, width (floats) */
  readonly sr: number;
  readonly sh: number;
  readonly d: number;
}

/** o[row, h] = softmax over the visible cached columns of scale·(q1·k1 + q2·k2) applied to v (decode_attention). */
function attend(ctx: OpContext, step: CachedStep, q1: Query, q2: Query, k1: DevicePtr, k2: DevicePtr, v: DevicePtr, dv: number, o: DevicePtr, H: number, G: number): void {
  const shared = decodeSharedFloats(ctx.node) * F32;
  launch(
    ctx.gpu,
    'decode_attention',
    [ctx.T, H, ctx.B],
    128,
    [
      ptr(q1.p), i32(q1.sr), i32(q1.sh), i32(q1.d), ptr(q2.p), i32(q2.sr), i32(q2.sh), i32(q2.d),
      ptr(k1), ptr(k2), ptr(v), i32(dv), ptr(o), i32(H * dv), i32(dv),
      ptr(step.valid), ptr(step.info), i32(ctx.T), i32(H), i32(G), i32(step.capacity), f32(num(ctx.node, 'softmax_scale')), i32(windowOf(ctx.node)),
    ],
    shared,
  );
}

export function cachedGqa(ctx: OpContext, step: CachedStep): void {
  const a = attentionDims(ctx.node);
  if (a.kind !== 'gqa') throw new Error('cachedGqa on an MLA node');
  const { H, G, d } = a;
  const [D, rows, width] = [ctx.outputWidth(0), ctx.B * ctx.T, (H + 2 * G) * d];
  const [qkv, o] = [ctx.buffer('qkv'), ctx.buffer('o')];
  const [kCache, vCache] = step.cache as [DevicePtr, DevicePtr];
  gqaProject(ctx, qkv, null, null);
  rotate(ctx, step, qkv, H, width, d, d);
  rotate(ctx, step, at(qkv, H * d), G, width, d, d);
  write(ctx, step, kCache, at(qkv, H * d), G, d, width, d);
  write(ctx, step, vCache, at(qkv, (H + G) * d), G, d, width, d);
  const none: Query = { p: qkv, sr: 0, sh: 0, d: 0 };
  attend(ctx, step, { p: qkv, sr: width, sh: d, d }, none, kCache, kCache, vCache, d, o, H, G);
  linearNT(ctx.gpu, o, ctx.param(3), ctx.output(0), rows, H * d, D);
}

export function cachedMla(ctx: OpContext, step: CachedStep): void {
  const a = attentionDims(ctx.node);
  if (a.kind !== 'mla') throw new Error('cachedMla on a GQA node');
  const { H, qRank, R, dn, dr, dv } = a;
  const { gpu } = ctx;
  const eps = num(ctx.node, 'eps');
  // params: [q_a, q_a_norm, q_b] or [q], then kv_a, kv_a_norm, kv_b, o
  const off = qRank > 0 ? 3 : 1;
  const [kva, kvNorm, kvb, wo] = [off, off + 1, off + 2, off + 3].map((i) => ctx.param(i)) as [DevicePtr, DevicePtr, DevicePtr, DevicePtr];
  const [D, rows, qk] = [ctx.outputWidth(0), ctx.B * ctx.T, dn + dr];
  const x = ctx.input(0);
  const b = (name: string): DevicePtr => ctx.buffer(name);
  const [latent, ropeKey] = step.cache as [DevicePtr, DevicePtr];
  if (qRank > 0) {
    linearNT(gpu, x, ctx.param(0), b('qa'), rows, D, qRank);
    rmsnorm(gpu, b('qa'), ctx.param(1), b('qan'), b('rstd_q'), rows, qRank, qRank, qRank, eps);
    linearNT(gpu, b('qan'), ctx.param(2), b('q'), rows, qRank, H * qk);
  } else {
    linearNT(gpu, x, ctx.param(0), b('q'), rows, D, H * qk);
  }
  linearNT(gpu, x, kva, b('kva'), rows, D, R + dr);
  rmsnorm(gpu, b('kva'), kvNorm, b('cn'), b('rstd_kv'), rows, R, R + dr, R, eps);
  rotate(ctx, step, at(b('q'), dn), H, H * qk, qk, dr);
  rotate(ctx, step, at(b('kva'), R), 1, R + dr, 0, dr);
  write(ctx, step, latent, b('cn'), 1, R, R, 0);
  write(ctx, step, ropeKey, at(b('kva'), R), 1, dr, R + dr, 0);
  launch(gpu, 'mla_absorb_q', [rows, H], 128, [ptr(b('q')), i32(H * qk), i32(qk), ptr(kvb), ptr(b('q_latent')), i32(H), i32(dn), i32(dv), i32(R)]);
  attend(ctx, step, { p: b('q_latent'), sr: H * R, sh: R, d: R }, { p: at(b('q'), dn), sr: H * qk, sh: qk, d: dr }, latent, ropeKey, latent, R, b('o_latent'), H, 1);
  launch(gpu, 'mla_absorb_o', [rows, H], 128, [ptr(b('o_latent')), ptr(kvb), ptr(b('o')), i32(H), i32(dn), i32(dv), i32(R)]);
  linearNT(gpu, b('o'), wo, ctx.output(0), rows, H * dv, D);
}
