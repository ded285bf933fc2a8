/**
 * Which kernels run causal attention on CUDA (ops/attention.ts), and what each needs:
 * - `flash` (kernels/flash.cu): tensor-core tiles with an online softmax, O(T) memory, bf16 operands —
 *   precision = bf16's path wherever the head fits one of FLASH_SHAPES;
 * - `products`: cuBLASLt products over stored [T, H, T] scores, exact in fp32 — precision = fp32's
 *   path (the reference), and bf16's for heads wider than every flash shape;
 * - `rows` (kernels/attention.cu attn_rows_*): fp32 SIMT, O(T) memory — where a batch row's scores
 *   would pass SCORE_BUDGET and flash does not apply, so such a model still trains, slower.
 * MOE_CUDA_ATTENTION forces one (runtime/config/env.ts).
 */
import { RuntimeError } from '../../errors.js';
import { runtimeEnv } from '../../config/env.js';

export type AttentionPath = 'flash' | 'products' | 'rows';

/** The head widths flash.cu is instantiated for, [q·k width, v width], smallest first (a test reads the .cu). */
export const FLASH_SHAPES: readonly (readonly [number, number])[] = [
  [32, 32],
  [64, 64],
  [96, 64],
  [128, 128],
  [192, 128],
];

/** flash.cu's tile: query rows × keys, and the bf16 padding of every shared row. */
const BR = 64;
const BC = 64;
const PAD = 8;
const BF16 = 2;

/** The smallest flash instantiation holding a head of q·k width `qk` and v width `v`, or null. */
export function flashShape(qk: number, v: number): readonly [number, number] | null {
  return FLASH_SHAPES.find(([QK, V]) => QK >= qk && V >= v) ?? null;
}

/** The kernel names of a flash instantiation. */
export const flashKernels = ([QK, V]: readonly [number, number]): { fwd: string; bwd: string } => ({ fwd: `flash_fwd_${QK}x${V}`, bwd: `flash_bwd_${QK}x${V}` });

/** Dynamic shared memory of flash_fwd: the Q, K and V tiles. */
export function flashForwardShared([QK, V]: readonly [number, number]): number {
  return (BR * (QK + PAD) + BC * (QK + PAD) + BC * (V + PAD)) * BF16;
}

/** Dynamic shared memory of flash_bwd: K, V, Q and dO tiles, P and dS, then lse and delta of the query tile. */
export function flashBackwardShared([QK, V]: readonly [number, number]): number {
  return (BC * (QK + PAD) + BC * (V + PAD) + BR * (QK + PAD) + BR * (V + PAD) + 2 * BR * (BC + PAD)) * BF16 + 2 * BR * 4;
}

/** One batch row's scores, every head: the scratch of the products. */
export const scoreBytes = (T: number, H: number): number => T * H * T * 4;

/** The most one batch row's scores may take before the products give way (three such buffers live in a step). */
export const SCORE_BUDGET = 512 * 2 ** 20;

/** What decides the path: the sequence, the heads and their widths, and the run's precision. */
export interface AttentionShape {
  readonly T: number;
  readonly heads: number;
  /** q·k width of a head (MLA: nope + rope) */
  readonly qk: number;
  readonly v: number;
  readonly bf16: boolean;
}

export function attentionPath(s: AttentionShape, forced: AttentionPath | null = runtimeEnv().cudaAttention): AttentionPath {
  const flash = flashShape(s.qk, s.v);
  if (forced === 'flash' && flash === null) {
    const widest = FLASH_SHAPES.at(-1)!;
    throw new RuntimeError(`MOE_CUDA_ATTENTION=flash: a head of q·k width ${s.qk} and v width ${s.v} is wider than the flash kernels take (up to ${widest[0]} and ${widest[1]})`, 'unset MOE_CUDA_ATTENTION, or set it to products or rows');
  }
  if (forced !== null) return forced;
  if (s.bf16 && flash !== null) return 'flash';
  return scoreBytes(s.T, s.heads) > SCORE_BUDGET ? 'rows' : 'products';
}
