/** Which attention the cuda executor runs: tensor-core products while a batch row's scores fit the budget, row-wise (O(T) memory) past it. */
import { describe, expect, it } from 'vitest';
import { rowWise, SCORE_BUDGET } from '../../../runtime/cuda/ops/attention.js';

describe('cuda attention: products or rows', () => {
  it('runs as products while [T, H, T] fp32 scores fit the budget, row-wise past it', () => {
    expect(rowWise(512, 16, null)).toBe(false); // the ~1B spec at 16 × 512: 16 MiB a batch row
    expect(rowWise(4096, 128, null)).toBe(true); // DeepSeek-V3 at 4k: 8 GiB a batch row
    const fits = Math.floor(Math.sqrt(SCORE_BUDGET / 4 / 16));
    expect(rowWise(fits, 16, null)).toBe(false);
    expect(rowWise(fits + 1, 16, null)).toBe(true);
  });

  it('MOE_CUDA_ATTENTION forces one (the checks run both)', () => {
    expect(rowWise(64, 4, 'rows')).toBe(true);
    expect(rowWise(4096, 128, 'products')).toBe(false);
  });
});
