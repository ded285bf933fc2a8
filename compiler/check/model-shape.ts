/**
 * A checked `model` config → the plain `ModelShape` the statistics read. Returns undefined when the
 * model is too broken to measure (its errors are already reported).
 */
import type { AttentionShape, FfnShape, ModelShape } from '../stats/shape.js';
import type { Config } from './values.js';

export function modelShape(model: Config): ModelShape | undefined {
  const vocab = model.num('vocab');
  const dim = model.num('dim');
  const layerCount = model.num('layers');
  const context = model.num('context');
  const attention = attentionShape(model.sub('attention'), dim);
  if (vocab === undefined || dim === undefined || layerCount === undefined || context === undefined || !attention) return undefined;
  const layers = layerFfns(model, layerCount);
  if (!layers) return undefined;
  const mtp = model.sub('mtp');
  return {
    vocab,
    dim,
    context,
    tieEmbeddings: model.bool('tie_embeddings') ?? false,
    attention,
    qkNorm: (model.sub('attention')?.str('qk_norm') ?? 'none') as 'none' | 'head' | 'full',
    qkvBias: model.sub('attention')?.bool('qkv_bias') ?? false,
    windows: layerWindows(model, layerCount),
    layers,
    mtpDepth: mtp ? (mtp.num('depth') ?? 0) : 0,
  };
}

export function attentionShape(attention: Config | undefined, dim: number | undefined): AttentionShape | undefined {
  if (!attention) return undefined;
  const heads = attention.num('heads');
  if (heads === undefined) return undefined;
  if (attention.tag === 'mla') {
    const kvRank = attention.num('kv_rank');
    const nopeDim = attention.num('nope_dim');
    const ropeDim = attention.num('rope_dim');
    const vDim = attention.num('v_dim');
    if (kvRank === undefined || nopeDim === undefined || ropeDim === undefined || vDim === undefined) return undefined;
    return { kind: 'mla', heads, qRank: attention.num('q_rank') ?? 0, kvRank, nopeDim, ropeDim, vDim };
  }
  const headDim = attention.num('head_dim') ?? (dim !== undefined && dim % heads === 0 ? dim / heads : undefined);
  if (headDim === undefined) return undefined;
  const kvHeads = attention.tag === 'mha' ? heads : attention.tag === 'mqa' ? 1 : attention.num('kv_heads');
  if (kvHeads === undefined) return undefined;
  return { kind: 'gqa', heads, kvHeads, headDim };
}

/** The feed-forward of every layer, or undefined when the ranges do not cover each layer exactly once. */
export function layerFfns(model: Config, layerCount: number): FfnShape[] | undefined {
  const layers: (FfnShape | undefined)[] = Array.from({ length: layerCount }, () => undefined);
  for (const range of model.ranges) {
    const ffn = ffnShape(range.config);
    if (!ffn) return undefined;
    for (let i = range.from; i <= range.to; i++) {
      if (i < 0 || i >= layerCount || layers[i]) return undefined;
      layers[i] = ffn;
    }
  }
  return layers.every((l) => l !== undefined) ? (layers as FfnShape[]) : undefined;
}

export function ffnShape(range: Config): FfnShape | undefined {
  const moe = range.sub('moe');
  const ffn = range.sub('ffn');
  if (moe && !ffn) {
    const experts = moe.num('experts');
    const hidden = moe.num('hidden');
    const topK = moe.num('top_k');
    if (experts === undefined || hidden === undefined || topK === undefined) return undefined;
    const sharedHidden = moe.num('shared_hidden');
    return {
      kind: 'moe',
      experts,
      shared: moe.num('shared') ?? 0,
      hidden,
      topK,
      sharedGate: moe.bool('shared_gate') ?? false,
      ...(sharedHidden === undefined ? {} : { sharedHidden }),
    };
  }
  if (ffn && !moe) {
    const hidden = ffn.num('hidden');
    return hidden === undefined ? undefined : { kind: 'dense', hidden };
  }
  return undefined;
}

/**
 * Each main layer's sliding window: the attention's `window` for the layers of `window_layers`
 * (every layer when that is absent), null (full attention) for the others and without a window.
 */
export function layerWindows(model: Config, layerCount: number): (number | null)[] {
  const a = model.sub('attention');
  const window = a?.num('window');
  if (window === undefined) return new Array<number | null>(layerCount).fill(null);
  const listed = a?.list('window_layers');
  const sliding = listed === undefined ? null : new Set(listed.filter((v): v is number => typeof v === 'number'));
  return Array.from({ length: layerCount }, (_, i) => (sliding === null || sliding.has(i) ? window : null));
}
