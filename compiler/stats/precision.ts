/** Bytes per value for each training precision, and what mixed-precision AdamW keeps per parameter. */

import type { Precision } from './shape.js';

export function precisionBytes(precision: Precision): number {
  return precision === 'fp32' ? 4 : 2;
}

/**
 * AdamW state per parameter: fp32 first and second moments (8 bytes), plus a 4-byte fp32 master
 * copy of the weights when training in bf16/fp16 (the optimizer steps the master, not the 2-byte
 * weights).
 */
export function optimizerBytesPerParam(precision: Precision): number {
  return precision === 'fp32' ? 8 : 12;
}
