/**
 * Whether a training plan fits a cluster's per-device memory, and if not, one plan change to try.
 * The candidate changes target the biggest memory term; each is evaluated with `estimateMemory`,
 * and the first that fits is suggested, otherwise the one that lowers the total most. Candidates
 * keep the plan's obvious divisibility (experts, heads, layers, batch) but not the device count:
 * raising pipeline or tensor needs more devices, which the suggestion leaves to the user.
 */

import { estimateMemory, type MemoryEstimate, type MemoryTerm } from './memory.js';
import type { ClusterShape, ModelShape, ParallelPlan, TrainingSetup } from './shape.js';

export type PlanField = 'zero' | 'expert' | 'pipeline' | 'tensor' | 'microBatches';

export interface PlanFix {
  readonly field: PlanField;
  readonly value: number;
  /** e.g. "raise zero to 1", using the `.moe` spelling of the field */
  readonly text: string;
}

export interface FitReport {
  readonly fits: boolean;
  readonly memory: MemoryEstimate;
  /** cluster memory per device minus the estimate; negative when it does not fit */
  readonly headroom: number;
  /** null when the plan fits or no single change lowers the total */
  readonly fix: PlanFix | null;
  /** names the biggest term and the fix; null when the plan fits */
  readonly suggestion: string | null;
}

const SPELLING: Readonly<Record<PlanField, string>> = {
  zero: 'zero',
  expert: 'expert',
  pipeline: 'pipeline',
  tensor: 'tensor',
  microBatches: 'micro_batches',
};

function fix(field: PlanField, value: number): PlanFix {
  return { field, value, text: `raise ${SPELLING[field]} to ${value}` };
}

/** The smallest routed-expert count over MoE layers; expert parallelism must divide it. */
function fewestExperts(model: ModelShape): number {
  const counts = model.layers.flatMap((ffn) => (ffn.kind === 'moe' ? [ffn.experts] : []));
  return counts.length === 0 ? 0 : Math.min(...counts);
}

function raiseZero(plan: ParallelPlan, stage: 1 | 2 | 3): PlanFix[] {
  return plan.zero < stage ? [fix('zero', stage)] : [];
}

function doubleExpert(model: ModelShape, plan: ParallelPlan): PlanFix[] {
  const experts = fewestExperts(model);
  // expert parallelism is carved out of the data × tensor ranks, so it must divide them too
  const ranks = plan.data * plan.tensor;
  return experts > 0 && experts % (2 * plan.expert) === 0 && ranks % (2 * plan.expert) === 0 ? [fix('expert', 2 * plan.expert)] : [];
}

function doublePipeline(model: ModelShape, plan: ParallelPlan): PlanFix[] {
  return 2 * plan.pipeline <= model.layers.length ? [fix('pipeline', 2 * plan.pipeline)] : [];
}

function doubleTensor(model: ModelShape, plan: ParallelPlan): PlanFix[] {
  const tensor = 2 * plan.tensor;
  const { attention } = model;
  const kvHeads = attention.kind === 'gqa' ? attention.kvHeads : attention.heads;
  return attention.heads % tensor === 0 && kvHeads % tensor === 0 ? [fix('tensor', tensor)] : [];
}

function doubleMicroBatches(plan: ParallelPlan, setup: TrainingSetup): PlanFix[] {
  const microBatches = 2 * plan.microBatches;
  return setup.batch % (plan.data * microBatches) === 0 ? [fix('microBatches', microBatches)] : [];
}

/** Plan changes that shrink `term`, most natural first. */
export function candidateFixes(
  term: MemoryTerm,
  model: ModelShape,
  plan: ParallelPlan,
  setup: TrainingSetup,
): PlanFix[] {
  const expert = doubleExpert(model, plan);
  const pipeline = doublePipeline(model, plan);
  const tensor = doubleTensor(model, plan);
  switch (term) {
    case 'optimizer':
      return [...raiseZero(plan, 1), ...expert, ...pipeline, ...tensor];
    case 'gradients':
      return [...raiseZero(plan, 2), ...expert, ...pipeline, ...tensor];
    case 'weights':
      return [...expert, ...raiseZero(plan, 3), ...pipeline, ...tensor];
    case 'activations':
      return [...doubleMicroBatches(plan, setup), ...tensor];
  }
}

export function applyFix(plan: ParallelPlan, change: PlanFix): ParallelPlan {
  return { ...plan, [change.field]: change.value };
}

export function checkFit(
  model: ModelShape,
  plan: ParallelPlan,
  setup: TrainingSetup,
  cluster: ClusterShape,
): FitReport {
  const memory = estimateMemory(model, plan, setup, cluster);
  const headroom = cluster.memory - memory.total;
  if (headroom >= 0) return { fits: true, memory, headroom, fix: null, suggestion: null };

  const tried = candidateFixes(memory.biggest, model, plan, setup).map((change) => ({
    change,
    total: estimateMemory(model, applyFix(plan, change), setup).total,
  }));
  const fitting = tried.find((t) => t.total <= cluster.memory);
  const lowest = tried.reduce<(typeof tried)[number] | undefined>(
    (best, t) => (t.total < memory.total && (best === undefined || t.total < best.total) ? t : best),
    undefined,
  );
  const chosen = fitting ?? lowest;
  const prefix = `${memory.biggest} is the biggest term`;
  return {
    fits: false,
    memory,
    headroom,
    fix: chosen?.change ?? null,
    suggestion: chosen ? `${prefix}; ${chosen.change.text}` : `${prefix}; no single plan change lowers it`,
  };
}
