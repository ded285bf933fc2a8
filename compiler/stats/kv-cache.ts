/**
 * KV-cache size per token at inference, over the main model's layers (MTP modules excluded).
 * MLA caches its compressed latent plus the shared rope key: kvRank + ropeDim elements per layer.
 * GQA caches a key and a value per KV head: 2·kvHeads·headDim elements per layer.
 * The "naive" figure is what an uncompressed multi-head cache with the same query heads would hold
 * (MLA: heads·(nope + rope) keys + heads·vDim values; GQA: 2·heads·headDim), to show the saving.
 */

import type { AttentionShape, ModelShape } from './shape.js';

export interface KvCache {
  readonly bytesPerElement: number;
  readonly elementsPerLayer: number;
  /** elementsPerLayer × layers × bytesPerElement */
  readonly bytesPerToken: number;
  readonly naiveElementsPerLayer: number;
  readonly naiveBytesPerToken: number;
  /** naive / actual: how many times smaller the real cache is */
  readonly saving: number;
}

export function cachedElementsPerLayer(attention: AttentionShape): number {
  if (attention.kind === 'mla') return attention.kvRank + attention.ropeDim;
  return 2 * attention.kvHeads * attention.headDim;
}

export function naiveCachedElementsPerLayer(attention: AttentionShape): number {
  if (attention.kind === 'mla') {
    return attention.heads * (attention.nopeDim + attention.ropeDim) + attention.heads * attention.vDim;
  }
  return 2 * attention.heads * attention.headDim;
}

/** `bytesPerElement` defaults to 2 (bf16). */
export function kvCachePerToken(model: ModelShape, bytesPerElement = 2): KvCache {
  const layers = model.layers.length;
  const elementsPerLayer = cachedElementsPerLayer(model.attention);
  const naiveElementsPerLayer = naiveCachedElementsPerLayer(model.attention);
  return {
    bytesPerElement,
    elementsPerLayer,
    bytesPerToken: elementsPerLayer * layers * bytesPerElement,
    naiveElementsPerLayer,
    naiveBytesPerToken: naiveElementsPerLayer * layers * bytesPerElement,
    saving: naiveElementsPerLayer / elementsPerLayer,
  };
}
