/** Reference model shapes for the statistics tests, from the published HuggingFace configs. */

import type { FfnShape, ModelShape } from '../../compiler/stats/shape.js';

function repeat(count: number, ffn: FfnShape): FfnShape[] {
  return Array.from({ length: count }, () => ffn);
}

/** deepseek-ai/DeepSeek-V3: layers 0..2 dense, 3..60 MoE; one MTP module. */
export const deepSeekV3: ModelShape = {
  vocab: 129280,
  dim: 7168,
  context: 163840,
  tieEmbeddings: false,
  attention: { kind: 'mla', heads: 128, qRank: 1536, kvRank: 512, nopeDim: 128, ropeDim: 64, vDim: 128 },
  layers: [
    ...repeat(3, { kind: 'dense', hidden: 18432 }),
    ...repeat(58, { kind: 'moe', experts: 256, shared: 1, hidden: 2048, topK: 8 }),
  ],
  mtpDepth: 1,
};

/** deepseek-ai/DeepSeek-V2-Lite: no query compression (qRank 0); layer 0 dense. */
export const deepSeekV2Lite: ModelShape = {
  vocab: 102400,
  dim: 2048,
  context: 32768,
  tieEmbeddings: false,
  attention: { kind: 'mla', heads: 16, qRank: 0, kvRank: 512, nopeDim: 128, ropeDim: 64, vDim: 128 },
  layers: [
    { kind: 'dense', hidden: 10944 },
    ...repeat(26, { kind: 'moe', experts: 64, shared: 2, hidden: 1408, topK: 6 }),
  ],
  mtpDepth: 0,
};

/** mistralai/Mixtral-8x7B-v0.1 */
export const mixtral8x7b: ModelShape = {
  vocab: 32000,
  dim: 4096,
  context: 32768,
  tieEmbeddings: false,
  attention: { kind: 'gqa', heads: 32, kvHeads: 8, headDim: 128 },
  layers: repeat(32, { kind: 'moe', experts: 8, shared: 0, hidden: 14336, topK: 2 }),
  mtpDepth: 0,
};

/** A small dense Llama-style model for properties that need no experts. */
export const smallDense: ModelShape = {
  vocab: 32000,
  dim: 2048,
  context: 4096,
  tieEmbeddings: false,
  attention: { kind: 'gqa', heads: 16, kvHeads: 4, headDim: 128 },
  layers: repeat(16, { kind: 'dense', hidden: 5632 }),
  mtpDepth: 0,
};
