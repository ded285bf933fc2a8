/**
 * Parameter counts, exactly as HuggingFace transformers counts them
 * (`sum(p.numel() for p in model.parameters())`) for the equivalent `deepseek_v3` (MLA) or
 * Mixtral/Llama/Qwen/OLMoE-style (GQA) model. Only GQA's q, k and v projections may have biases
 * (`qkv_bias`, Qwen2-MoE); GQA's q/k norms (`qk_norm`) count with the norms, Qwen2-MoE's shared
 * expert gate ([1, dim]) with the shared experts.
 *
 * Conventions:
 * - `norms` gathers every RMSNorm weight vector: each layer's input and post-attention norms,
 *   MLA's `q_a_layernorm` / `kv_a_layernorm`, and the final norm. `attention` is the
 *   projection matrices only.
 * - DeepSeek's `e_score_correction_bias` is a registered buffer, not a parameter: not counted.
 * - `activePerToken` is the total minus, in every MoE layer, the routed experts a token does not
 *   select (all but `topK`). Embedding, output head, norms, router and shared experts all count.
 * - Multi-token-prediction modules are reported in `mtp` and are NOT part of `total` (HF does not
 *   load them either).
 */

import { sharedWidth, type AttentionShape, type FfnShape, type ModelShape } from './shape.js';

/** One decoder layer's parameters, split the way the breakdown reports them. */
export interface LayerParams {
  /** projections and their biases */
  readonly attention: number;
  /** the q/k/v biases within `attention` (not matmul weights) */
  readonly attentionBiases: number;
  readonly norms: number;
  readonly denseFfn: number;
  readonly router: number;
  readonly routedExperts: number;
  readonly sharedExperts: number;
  /** the routed-expert parameters one token actually passes through (`topK` experts) */
  readonly activeRoutedExperts: number;
}

/** Multi-token-prediction modules (DeepSeek-V3 style), kept apart from the main total. */
export interface MtpParams {
  readonly depth: number;
  /** one module: enorm + hnorm + eh_proj + one decoder layer + shared_head.norm */
  readonly perModule: number;
  /** `perModule` less the routed experts a token does not select */
  readonly activePerModule: number;
  /** depth × perModule */
  readonly total: number;
}

export interface ParamBreakdown {
  /** embed_tokens, vocab × dim */
  readonly embedding: number;
  readonly attention: number;
  readonly denseFfn: number;
  readonly router: number;
  readonly routedExperts: number;
  readonly sharedExperts: number;
  readonly norms: number;
  /** lm_head, vocab × dim; 0 when tied to the embedding */
  readonly lmHead: number;
  /** everything above; MTP excluded */
  readonly total: number;
  /** total minus the routed experts a token does not select */
  readonly activePerToken: number;
  readonly mtp: MtpParams;
}

/** Attention projection matrices of one layer (MLA or GQA), without its norms. */
export function attentionProjectionParams(attention: AttentionShape, dim: number): number {
  if (attention.kind === 'gqa') {
    const { heads, kvHeads, headDim } = attention;
    // q_proj + o_proj are heads wide; k_proj + v_proj are kvHeads wide.
    return 2 * dim * heads * headDim + 2 * dim * kvHeads * headDim;
  }
  const { heads, qRank, kvRank, nopeDim, ropeDim, vDim } = attention;
  const qkHeadDim = nopeDim + ropeDim;
  const query = qRank > 0 ? dim * qRank + qRank * heads * qkHeadDim : dim * heads * qkHeadDim;
  // kv_a_proj_with_mqa also produces the shared rope key, hence kvRank + ropeDim.
  const keyValue = dim * (kvRank + ropeDim) + kvRank * heads * (nopeDim + vDim);
  const output = heads * vDim * dim;
  return query + keyValue + output;
}

/**
 * RMSNorms inside the attention block: MLA's q_a_layernorm (only with qRank > 0) and
 * kv_a_layernorm; GQA's q_norm and k_norm (per head: headDim each; full width: heads·headDim and
 * kvHeads·headDim).
 */
export function attentionNormParams(attention: AttentionShape, qkNorm: ModelShape['qkNorm'] = 'none'): number {
  if (attention.kind === 'mla') return attention.qRank + attention.kvRank;
  const { heads, kvHeads, headDim } = attention;
  if (qkNorm === 'head') return 2 * headDim;
  if (qkNorm === 'full') return (heads + kvHeads) * headDim;
  return 0;
}

/** GQA's q, k and v biases (`qkv_bias`): heads·headDim + 2·kvHeads·headDim. */
export function attentionBiasParams(attention: AttentionShape, qkvBias: boolean): number {
  if (attention.kind === 'mla' || !qkvBias) return 0;
  return (attention.heads + 2 * attention.kvHeads) * attention.headDim;
}

/** A gated MLP (gate_proj, up_proj, down_proj). */
export function mlpParams(dim: number, hidden: number): number {
  return 3 * dim * hidden;
}

export function layerParams(model: ModelShape, ffn: FfnShape): LayerParams {
  const { dim, attention } = model;
  const attentionBiases = attentionBiasParams(attention, model.qkvBias ?? false);
  const common = {
    attention: attentionProjectionParams(attention, dim) + attentionBiases,
    attentionBiases,
    // input_layernorm + post_attention_layernorm
    norms: 2 * dim + attentionNormParams(attention, model.qkNorm),
  };
  if (ffn.kind === 'dense') {
    const denseFfn = mlpParams(dim, ffn.hidden);
    return { ...common, denseFfn, router: 0, routedExperts: 0, sharedExperts: 0, activeRoutedExperts: 0 };
  }
  const expert = mlpParams(dim, ffn.hidden);
  return {
    ...common,
    denseFfn: 0,
    router: ffn.experts * dim,
    routedExperts: ffn.experts * expert,
    // HF builds the shared experts as one MLP (hidden × shared wide unless `shared_hidden` says) (+ Qwen2-MoE's gate [1, dim]).
    sharedExperts: mlpParams(dim, sharedWidth(ffn)) + (ffn.sharedGate && ffn.shared > 0 ? dim : 0),
    activeRoutedExperts: Math.min(ffn.topK, ffn.experts) * expert,
  };
}

export function layerTotal(layer: LayerParams): number {
  return (
    layer.attention + layer.norms + layer.denseFfn + layer.router + layer.routedExperts + layer.sharedExperts
  );
}

/** Parameters one token passes through in this layer. */
export function layerActive(layer: LayerParams): number {
  return layerTotal(layer) - layer.routedExperts + layer.activeRoutedExperts;
}

/**
 * The decoder layer an MTP module carries: shaped like the model's last layer, as in DeepSeek-V3.
 * A model with MTP modules must therefore have at least one layer.
 */
export function mtpLayer(model: ModelShape): FfnShape {
  const last = model.layers[model.layers.length - 1];
  if (last === undefined) throw new RangeError('a model with MTP modules needs at least one layer');
  return last;
}

/**
 * MTP modules. Each holds enorm(dim) + hnorm(dim) + eh_proj(2·dim × dim) + one decoder layer
 * shaped like the last layer + shared_head.norm(dim). The embedding and the output head are
 * shared with the main model, so they are not counted here.
 */
export function mtpParams(model: ModelShape): MtpParams {
  const depth = model.mtpDepth;
  if (depth === 0) return { depth, perModule: 0, activePerModule: 0, total: 0 };
  const { dim } = model;
  const layer = layerParams(model, mtpLayer(model));
  const own = 3 * dim + 2 * dim * dim;
  const perModule = own + layerTotal(layer);
  const activePerModule = own + layerActive(layer);
  return { depth, perModule, activePerModule, total: depth * perModule };
}

export function countParams(model: ModelShape): ParamBreakdown {
  const layers = model.layers.map((ffn) => layerParams(model, ffn));
  const sum = (pick: (layer: LayerParams) => number): number =>
    layers.reduce((acc, layer) => acc + pick(layer), 0);

  const embedding = model.vocab * model.dim;
  const lmHead = model.tieEmbeddings ? 0 : model.vocab * model.dim;
  const attention = sum((l) => l.attention);
  const denseFfn = sum((l) => l.denseFfn);
  const router = sum((l) => l.router);
  const routedExperts = sum((l) => l.routedExperts);
  const sharedExperts = sum((l) => l.sharedExperts);
  // + the final norm
  const norms = sum((l) => l.norms) + model.dim;
  const total = embedding + attention + denseFfn + router + routedExperts + sharedExperts + norms + lmHead;
  const activePerToken = total - routedExperts + sum((l) => l.activeRoutedExperts);

  return {
    embedding,
    attention,
    denseFfn,
    router,
    routedExperts,
    sharedExperts,
    norms,
    lmHead,
    total,
    activePerToken,
    mtp: mtpParams(model),
  };
}
