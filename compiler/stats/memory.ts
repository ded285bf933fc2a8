/**
 * Training memory per device, on the busiest pipeline stage. Conventions (see docs/stats.md):
 * - Non-expert parameters are sharded over tensor parallelism; routed experts over expert
 *   parallelism (no tensor split of experts). Pipeline stages are laid out by `stages.ts`.
 * - Weights and gradients take the precision's bytes; AdamW state takes
 *   `optimizerBytesPerParam` (fp32 moments, plus an fp32 master copy below fp32).
 * - ZeRO stage 1 shards optimizer state over the data-parallel group, stage 2 also gradients,
 *   stage 3 also weights. That group is `data` ranks for non-expert parameters and
 *   data·tensor / expert ranks (at least 1) for routed experts, whose replicas are fewer.
 * - Activations come from `activations.ts`.
 * Every stage is evaluated and the one with the largest total is reported.
 * Plan sizes are assumed to be positive integers (the checker enforces this).
 */

import { stageActivationBytes } from './activations.js';
import { optimizerBytesPerParam, precisionBytes } from './precision.js';
import type { ClusterShape, ModelShape, ParallelPlan, TrainingSetup } from './shape.js';
import { stageParams, type StageParams } from './stages.js';

export type MemoryTerm = 'weights' | 'gradients' | 'optimizer' | 'activations';

export interface MemoryEstimate {
  /** all in bytes per device */
  readonly weights: number;
  readonly gradients: number;
  readonly optimizer: number;
  readonly activations: number;
  readonly total: number;
  readonly biggest: MemoryTerm;
  /** index of the pipeline stage reported: the one with the largest total */
  readonly stage: number;
  /** cluster memory per device minus total (negative when it does not fit); null without a cluster */
  readonly headroom: number | null;
}

/** Parameters one device holds before any ZeRO sharding. */
export interface DeviceParams {
  readonly nonExpert: number;
  readonly expert: number;
}

export function deviceParams(stage: StageParams, plan: ParallelPlan): DeviceParams {
  return { nonExpert: stage.nonExpert / plan.tensor, expert: stage.expert / plan.expert };
}

/** Ranks that hold a replica of the same routed-expert shard. */
export function expertDataParallel(plan: ParallelPlan): number {
  return Math.max(1, (plan.data * plan.tensor) / plan.expert);
}

/** Bytes of one per-parameter term, divided over the data-parallel groups when ZeRO shards it. */
export function termBytes(params: DeviceParams, bytesPerParam: number, sharded: boolean, plan: ParallelPlan): number {
  const nonExpert = sharded ? params.nonExpert / plan.data : params.nonExpert;
  const expert = sharded ? params.expert / expertDataParallel(plan) : params.expert;
  return (nonExpert + expert) * bytesPerParam;
}

export function biggestTerm(terms: Readonly<Record<MemoryTerm, number>>): MemoryTerm {
  const order: readonly MemoryTerm[] = ['weights', 'gradients', 'optimizer', 'activations'];
  return order.reduce((best, term) => (terms[term] > terms[best] ? term : best));
}

export function stageMemory(
  model: ModelShape,
  stage: number,
  plan: ParallelPlan,
  setup: TrainingSetup,
): Omit<MemoryEstimate, 'headroom'> {
  const params = deviceParams(stageParams(model, stage, plan.pipeline), plan);
  const bytes = precisionBytes(setup.precision);
  const terms = {
    weights: termBytes(params, bytes, plan.zero >= 3, plan),
    gradients: termBytes(params, bytes, plan.zero >= 2, plan),
    optimizer: termBytes(params, optimizerBytesPerParam(setup.precision), plan.zero >= 1, plan),
    activations: stageActivationBytes(model, stage, plan, setup),
  };
  const total = terms.weights + terms.gradients + terms.optimizer + terms.activations;
  return { ...terms, total, biggest: biggestTerm(terms), stage };
}

export function estimateMemory(
  model: ModelShape,
  plan: ParallelPlan,
  setup: TrainingSetup,
  cluster?: ClusterShape,
): MemoryEstimate {
  let busiest = stageMemory(model, 0, plan, setup);
  for (let stage = 1; stage < plan.pipeline; stage++) {
    const candidate = stageMemory(model, stage, plan, setup);
    if (candidate.total > busiest.total) busiest = candidate;
  }
  return { ...busiest, headroom: cluster === undefined ? null : cluster.memory - busiest.total };
}
