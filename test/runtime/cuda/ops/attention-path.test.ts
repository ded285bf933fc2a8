/** Which attention the cuda executor runs (ops/attention-path.ts): flash in bf16 where the head fits, exact products in fp32 while scores fit, row-wise past that. */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { attentionPath, FLASH_SHAPES, flashBackwardShared, flashForwardShared, flashShape, SCORE_BUDGET, type AttentionShape } from '../../../../runtime/cuda/ops/attention-path.js';
import { RuntimeError } from '../../../../runtime/errors.js';

const moe500m: AttentionShape = { T: 256, heads: 16, qk: 96, v: 64, bf16: true };

describe('cuda attention path', () => {
  it('fp32 runs exact products while [T, H, T] scores fit the budget, row-wise past it', () => {
    const fp32 = (T: number, heads: number): string => attentionPath({ T, heads, qk: 128, v: 128, bf16: false }, null);
    expect(fp32(512, 16)).toBe('products'); // the ~1B spec at 16 × 512: 16 MiB a batch row
    expect(fp32(4096, 128)).toBe('rows'); // DeepSeek-V3 at 4k: 8 GiB a batch row
    const fits = Math.floor(Math.sqrt(SCORE_BUDGET / 4 / 16));
    expect(fp32(fits, 16)).toBe('products');
    expect(fp32(fits + 1, 16)).toBe('rows');
  });

  it('bf16 runs flash wherever a flash shape holds the head, at any length', () => {
    expect(attentionPath(moe500m, null)).toBe('flash');
    expect(attentionPath({ T: 4096, heads: 128, qk: 192, v: 128, bf16: true }, null)).toBe('flash'); // DeepSeek-V3's MLA at 4k
    // wider than every instantiation: the products (or rows past the budget), as before
    expect(attentionPath({ T: 256, heads: 8, qk: 256, v: 256, bf16: true }, null)).toBe('products');
    expect(attentionPath({ T: 8192, heads: 64, qk: 256, v: 256, bf16: true }, null)).toBe('rows');
  });

  it('MOE_CUDA_ATTENTION forces one, and refuses flash for a head no kernel takes', () => {
    expect(attentionPath({ ...moe500m, bf16: false }, 'flash')).toBe('flash');
    expect(attentionPath(moe500m, 'rows')).toBe('rows');
    expect(attentionPath(moe500m, 'products')).toBe('products');
    expect(() => attentionPath({ ...moe500m, qk: 320 }, 'flash')).toThrow(RuntimeError);
    expect(() => attentionPath({ ...moe500m, qk: 320 }, 'flash')).toThrow(/q·k width 320 and v width 64 .*up to 192 and 128/);
  });

  it('picks the smallest instantiation that holds the head', () => {
    expect(flashShape(16, 16)).toEqual([32, 32]);
    expect(flashShape(96, 64)).toEqual([96, 64]); // moe-500m: nope 64 + rope 32, v 64
    expect(flashShape(72, 64)).toEqual([96, 64]);
    expect(flashShape(64, 96)).toEqual([128, 128]);
    expect(flashShape(192, 128)).toEqual([192, 128]); // DeepSeek-V2/V3
    expect(flashShape(193, 128)).toBeNull();
  });

  it('lists exactly the kernels flash.cu instantiates, each within the H100 shared-memory limit', () => {
    const source = readFileSync(new URL('../../../../runtime/cuda/kernels/flash.cu', import.meta.url), 'utf8');
    const inCu = [...source.matchAll(/extern "C" __global__ void __launch_bounds__\(\d+\) flash_fwd_(\d+)x(\d+)\(/g)].map((m) => [Number(m[1]), Number(m[2])]);
    const bwd = [...source.matchAll(/flash_bwd_(\d+)x(\d+)\(/g)].map((m) => [Number(m[1]), Number(m[2])]);
    expect(inCu).toEqual(FLASH_SHAPES);
    expect(bwd).toEqual(FLASH_SHAPES);
    for (const shape of FLASH_SHAPES) {
      expect(shape[0] % 32).toBe(0); // the backward splits each width into two halves of 16-column fragments
      expect(shape[1] % 32).toBe(0);
      expect(flashBackwardShared(shape)).toBeLessThanOrEqual(227 * 1024); // sm_90's most per block
      expect(flashForwardShared(shape)).toBeLessThan(flashBackwardShared(shape));
    }
    expect(flashBackwardShared([192, 128])).toBe(104_960);
  });
});
