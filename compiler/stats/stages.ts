/**
 * What each pipeline stage holds. Layers go to stages in contiguous blocks of
 * ceil(layers / pipeline), so the first stages are the busiest and trailing stages may hold fewer
 * (or none). The first stage also holds the embedding; the last stage holds the final norm, the
 * output head and the MTP modules. With tied embeddings and pipeline > 1 the last stage keeps its
 * own copy of the embedding as the output head (Megatron does this); with pipeline = 1 the tied
 * head is the embedding itself and is counted once.
 */

import { layerParams, layerTotal, mtpLayer, mtpParams } from './params.js';
import type { ModelShape } from './shape.js';

export interface StageParams {
  /** layer indices on this stage */
  readonly layers: readonly number[];
  /** parameters sharded over tensor parallelism: everything but routed experts */
  readonly nonExpert: number;
  /** routed-expert parameters, sharded over expert parallelism */
  readonly expert: number;
}

export function layersPerStage(layerCount: number, pipeline: number): number {
  return Math.ceil(layerCount / pipeline);
}

export function stageLayers(layerCount: number, stage: number, pipeline: number): number[] {
  const perStage = layersPerStage(layerCount, pipeline);
  const first = Math.min(stage * perStage, layerCount);
  const end = Math.min(first + perStage, layerCount);
  return Array.from({ length: end - first }, (_, i) => first + i);
}

export function stageParams(model: ModelShape, stage: number, pipeline: number): StageParams {
  const layers = stageLayers(model.layers.length, stage, pipeline);
  let nonExpert = 0;
  let expert = 0;
  for (const index of layers) {
    const layer = layerParams(model, model.layers[index]!);
    expert += layer.routedExperts;
    nonExpert += layerTotal(layer) - layer.routedExperts;
  }
  const embedding = model.vocab * model.dim;
  if (stage === 0) nonExpert += embedding;
  if (stage === pipeline - 1) {
    const sharesEmbedding = model.tieEmbeddings && pipeline === 1;
    nonExpert += model.dim + (sharesEmbedding ? 0 : embedding);
    const mtp = mtpParams(model);
    if (mtp.depth > 0) {
      const mtpRouted = mtp.depth * layerParams(model, mtpLayer(model)).routedExperts;
      expert += mtpRouted;
      nonExpert += mtp.total - mtpRouted;
    }
  }
  return { layers, nonExpert, expert };
}
