import { describe, expect, it } from 'vitest';
import { kvCachePerToken } from '../../compiler/stats/kv-cache.js';
import { deepSeekV3, mixtral8x7b, smallDense } from './models.js';

describe('kvCachePerToken', () => {
  it('caches the MLA latent and rope key: 61 × 576 × 2 bytes for DeepSeek-V3', () => {
    const kv = kvCachePerToken(deepSeekV3);
    expect(kv.elementsPerLayer).toBe(512 + 64);
    expect(kv.bytesPerToken).toBe(61 * 576 * 2);
  });

  it('reports what an uncompressed cache would hold', () => {
    const kv = kvCachePerToken(deepSeekV3);
    expect(kv.naiveBytesPerToken).toBe(61 * (128 * 192 + 128 * 128) * 2);
    expect(kv.saving).toBeCloseTo(40960 / 576, 10);
  });

  it('caches keys and values per kv head for GQA', () => {
    const kv = kvCachePerToken(mixtral8x7b);
    expect(kv.bytesPerToken).toBe(32 * 2 * 8 * 128 * 2);
    expect(kv.naiveBytesPerToken).toBe(32 * 2 * 32 * 128 * 2);
    expect(kv.saving).toBe(4);
  });

  it('saves nothing for multi-head attention', () => {
    const mha = { ...smallDense, attention: { kind: 'gqa', heads: 16, kvHeads: 16, headDim: 128 } as const };
    expect(kvCachePerToken(mha).saving).toBe(1);
  });

  it('scales with the element size', () => {
    expect(kvCachePerToken(deepSeekV3, 1).bytesPerToken).toBe(61 * 576);
    expect(kvCachePerToken(deepSeekV3, 4).bytesPerToken).toBe(61 * 576 * 4);
  });
});
