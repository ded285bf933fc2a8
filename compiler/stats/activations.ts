/**
 * Activation memory for training, a deliberately simple (and somewhat conservative) estimate.
 * Assumes selective recomputation, flash attention (no heads·s² score matrix is stored) and
 * sequence parallelism (model-width activations are split over tensor parallelism).
 *
 * Per layer, for one micro-batch of `tokens` = s·b tokens, in bytes at 2-byte activations:
 * - attention, norms, residuals: 34·tokens·dim / tensor (the per-layer constant of Korthikanti
 *   et al. 2022, "Reducing Activation Recomputation in Large Transformer Models");
 * - dense MLP: 6·tokens·hidden / tensor (gate and up outputs and their SiLU product);
 * - MoE: routed experts tokens·topK·(2·dim + 6·hidden), not divided by tensor (experts are not
 *   tensor-split; expert parallelism moves tokens but leaves tokens·topK copies per device on
 *   average), plus shared experts 6·tokens·(their width) / tensor.
 * Other precisions scale these by bytes/2. The last stage also holds fp32 logits for the loss:
 * 4·tokens·vocab / tensor for the main head and each MTP module, for one micro-batch only.
 * MTP modules add one layer's activations each on the last stage.
 * Under 1F1B, stage i keeps min(pipeline − i, microBatches) micro-batches in flight.
 * With full recomputation a layer keeps only its input, 2·tokens·dim / tensor bytes, and one
 * layer's activations at a time are rebuilt during backward (the working set, counted once).
 */

import { mtpLayer } from './params.js';
import { sharedWidth, type FfnShape, type ModelShape, type ParallelPlan, type TrainingSetup } from './shape.js';
import { stageLayers } from './stages.js';
import { precisionBytes } from './precision.js';

/** Bytes per token per dim for attention, norms and residuals at 2-byte activations. */
export const ATTENTION_ACTIVATION_FACTOR = 34;

/** Sequences per micro-batch on one data-parallel rank. */
export function microBatchSequences(plan: ParallelPlan, setup: TrainingSetup): number {
  return setup.batch / (plan.data * plan.microBatches);
}

/** Micro-batches whose activations stage `stage` holds at once under the 1F1B schedule. */
export function inFlightMicroBatches(stage: number, plan: ParallelPlan): number {
  return Math.min(plan.pipeline - stage, plan.microBatches);
}

/** One layer's stored activations for `tokens` tokens, at 2-byte activations. */
export function layerActivationBytes(model: ModelShape, ffn: FfnShape, tokens: number, tensor: number): number {
  const attention = (ATTENTION_ACTIVATION_FACTOR * tokens * model.dim) / tensor;
  if (ffn.kind === 'dense') return attention + (6 * tokens * ffn.hidden) / tensor;
  const routed = tokens * ffn.topK * (2 * model.dim + 6 * ffn.hidden);
  const shared = (6 * tokens * sharedWidth(ffn)) / tensor;
  return attention + routed + shared;
}

/** fp32 logits kept for the loss: the main head plus one per MTP module. */
export function logitsBytes(model: ModelShape, tokens: number, tensor: number): number {
  return ((1 + model.mtpDepth) * 4 * tokens * model.vocab) / tensor;
}

export function stageActivationBytes(
  model: ModelShape,
  stage: number,
  plan: ParallelPlan,
  setup: TrainingSetup,
): number {
  const tokens = setup.seqLen * microBatchSequences(plan, setup);
  const scale = precisionBytes(setup.precision) / 2;
  const ffns = stageLayers(model.layers.length, stage, plan.pipeline).map((i) => model.layers[i]!);
  const isLast = stage === plan.pipeline - 1;
  if (isLast && model.mtpDepth > 0) {
    ffns.push(...Array.from({ length: model.mtpDepth }, () => mtpLayer(model)));
  }
  const perLayer = ffns.map((ffn) => layerActivationBytes(model, ffn, tokens, plan.tensor));
  const layers =
    plan.recompute === 'full'
      ? scale * (((2 * tokens * model.dim) / plan.tensor) * ffns.length * inFlightMicroBatches(stage, plan) + Math.max(0, ...perLayer))
      : scale * perLayer.reduce((a, b) => a + b, 0) * inFlightMicroBatches(stage, plan);
  return layers + (isLast ? logitsBytes(model, tokens, plan.tensor) : 0);
}
