/**
 * FLOPs per token. Conventions:
 * - A multiply-add is 2 FLOPs, so a matmul costs 2 × its parameters per token.
 * - Matmul parameters are the ones a token passes through: attention projections, dense MLPs,
 *   router, shared experts and `topK` routed experts, and the output head (vocab × dim, counted
 *   even when tied: the projection still runs). The embedding lookup and norms are not matmuls.
 * - Attention scores and values with a causal mask: a query at position i attends to i keys, so
 *   over a sequence of S tokens the average attended length is (S + 1) / 2. Per layer that is
 *   2·heads·qkHeadDim·L (QKᵀ) + 2·heads·vHeadDim·L (softmax·V), with qk = nope + rope and
 *   v = vDim for MLA (uncompressed, as in training) and headDim for both in GQA.
 * - A sliding-window layer (window W) attends to min(i, W) keys at position i, so on average
 *   (W(W+1)/2 + (S − W)·W) / S keys when S > W. MTP modules attend fully.
 * - q/k/v biases are additions, not matmul FLOPs; they and the norms are left out.
 * - Training = 3 × forward (backward is twice the forward). MTP modules add their own forward
 *   × 3: eh_proj, one layer shaped like the last, and the shared output head.
 */

import { layerActive, layerParams, mtpLayer, type LayerParams } from './params.js';
import type { AttentionShape, ModelShape } from './shape.js';

export interface FlopsPerToken {
  readonly seqLen: number;
  /** matmul parameters one token passes through (main model, output head included) */
  readonly matmulParams: number;
  /** 2 × matmulParams */
  readonly matmul: number;
  /** causal attention score and value FLOPs, all layers */
  readonly attention: number;
  /** matmul + attention */
  readonly forward: number;
  /** forward FLOPs of all MTP modules together (0 without MTP) */
  readonly mtpForward: number;
  /** 3 × forward */
  readonly trainingWithoutMtp: number;
  /** 3 × (forward + mtpForward) */
  readonly training: number;
}

/** Keys a query attends to on average under a causal mask over `seqLen` tokens (a sliding `window`: at most that many). */
export function averageAttendedLength(seqLen: number, window: number | null = null): number {
  if (window === null || window >= seqLen) return (seqLen + 1) / 2;
  return ((window * (window + 1)) / 2 + (seqLen - window) * window) / seqLen;
}

/** Score (QKᵀ) and value (softmax·V) FLOPs of one layer for one query token. */
export function attentionFlopsPerLayer(attention: AttentionShape, seqLen: number, window: number | null = null): number {
  const attended = averageAttendedLength(seqLen, window);
  const { qkHeadDim, vHeadDim } =
    attention.kind === 'mla'
      ? { qkHeadDim: attention.nopeDim + attention.ropeDim, vHeadDim: attention.vDim }
      : { qkHeadDim: attention.headDim, vHeadDim: attention.headDim };
  return 2 * attention.heads * qkHeadDim * attended + 2 * attention.heads * vHeadDim * attended;
}

/** A layer's active parameters that are matmul weights: everything active except its norms and biases. */
export function layerMatmulParams(layer: LayerParams): number {
  return layerActive(layer) - layer.norms - layer.attentionBiases;
}

/** The output projection to the vocabulary; it runs whether or not its weights are tied. */
export function outputHeadParams(model: ModelShape): number {
  return model.vocab * model.dim;
}

/** Matmul parameters of the main model one token passes through, output head included. */
export function matmulParamsPerToken(model: ModelShape): number {
  const layers = model.layers.reduce((acc, ffn) => acc + layerMatmulParams(layerParams(model, ffn)), 0);
  return layers + outputHeadParams(model);
}

/** Forward FLOPs of one MTP module: eh_proj, its decoder layer, attention, the shared output head. */
export function mtpModuleForwardFlops(model: ModelShape, seqLen: number): number {
  const ehProj = 2 * model.dim * model.dim;
  const layer = layerMatmulParams(layerParams(model, mtpLayer(model)));
  const matmul = ehProj + layer + outputHeadParams(model);
  return 2 * matmul + attentionFlopsPerLayer(model.attention, seqLen);
}

export function flopsPerToken(model: ModelShape, seqLen: number = model.context): FlopsPerToken {
  const matmulParams = matmulParamsPerToken(model);
  const matmul = 2 * matmulParams;
  const attention = model.layers.reduce((acc, _, i) => acc + attentionFlopsPerLayer(model.attention, seqLen, model.windows?.[i] ?? null), 0);
  const forward = matmul + attention;
  const mtpForward = model.mtpDepth > 0 ? model.mtpDepth * mtpModuleForwardFlops(model, seqLen) : 0;
  return {
    seqLen,
    matmulParams,
    matmul,
    attention,
    forward,
    mtpForward,
    trainingWithoutMtp: 3 * forward,
    training: 3 * (forward + mtpForward),
  };
}
