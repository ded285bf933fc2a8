/**
 * What a training stage needs from the IR document, resolved once: the stage plan, its model graph,
 * the data block and tokenizer block, and the numbers of its hyper-parameters.
 */
import { CHECKPOINT_HYPER, EVAL_HYPER, PARALLEL_HYPER, TRAINING_HYPER, hyperBlock, stageHyper } from '../../ir/plan-fields.js';
import type { AttrValue, GraphDocument, ModelGraph, StagePlan } from '../../ir/types.js';
import { RuntimeError } from '../errors.js';
import { modelOf } from '../load.js';

type Attrs = { readonly [k: string]: AttrValue };

export interface TrainingStage {
  readonly plan: StagePlan;
  readonly model: ModelGraph;
  readonly data: Attrs;
  readonly tokenizer: Attrs;
  readonly seqLen: number;
  readonly batch: number;
  /** null when the length is in epochs (the trainer counts them from the data) */
  readonly steps: number | null;
  readonly epochs: number | null;
  readonly clip: number;
  readonly seed: number;
  readonly checkpointEvery: number;
  readonly keep: number;
  readonly evalEvery: number;
  readonly evalBatches: number;
  /** `parallel { micro_batches }`: gradient accumulation over this many equal parts of the batch (1 without a parallel block) */
  readonly microBatches: number;
  /** `parallel { recompute }`: `full` re-runs each decoder layer in the backward (selective without a parallel block) */
  readonly recompute: 'selective' | 'full';
}

/**
 * A read of the plan through its tables (ir/plan-fields.ts) as a RuntimeError: a field the
 * compiler always writes is missing or malformed only in a document from an older or foreign compiler.
 */
export function fromPlan<T>(read: () => T): T {
  try {
    return read();
  } catch (e) {
    if (e instanceof RuntimeError || !(e instanceof Error)) throw e;
    throw new RuntimeError(`the graph document does not match this runtime: ${e.message}`, 'recompile the spec with this version of moe (`moe compile SPEC`)');
  }
}

/** `parallel { micro_batches }`: gradient accumulation over this many equal parts of a step's batch (1 without a parallel block). */
export function microBatchesOf(plan: StagePlan): number {
  return plan.hyper['parallel'] === undefined ? 1 : fromPlan(() => hyperBlock(plan, 'parallel', PARALLEL_HYPER)).micro_batches;
}

/** `parallel { recompute }`: `selective` (the default, also without a parallel block) or `full`. */
export function recomputeOf(plan: StagePlan): 'selective' | 'full' {
  return plan.hyper['parallel'] === undefined ? 'selective' : fromPlan(() => hyperBlock(plan, 'parallel', PARALLEL_HYPER)).recompute;
}

/** The stage to train: `--stage NAME`, else the first pretrain (then sft) stage of the spec. */
export function trainingStage(document: GraphDocument, name?: string): TrainingStage {
  const trainable = document.plan.stages.filter((s) => s.kind === 'pretrain' || s.kind === 'sft');
  const plan = name === undefined ? (trainable.find((s) => s.kind === 'pretrain') ?? trainable[0]) : document.plan.stages.find((s) => s.name === name);
  if (!plan) {
    const names = trainable.map((s) => s.name).join(', ') || 'none';
    throw new RuntimeError(name === undefined ? 'the spec has no pretrain or sft stage' : `the spec has no stage ${name}; training stages: ${names}`);
  }
  if (plan.kind !== 'pretrain' && plan.kind !== 'sft') {
    throw new RuntimeError(`stage ${plan.name} is ${/^[aeiou]/.test(plan.kind) ? 'an' : 'a'} ${plan.kind} stage; \`moe train\` runs pretrain and sft stages`, `run it with \`moe run SPEC ${plan.name}\``);
  }
  if (!plan.model) throw new RuntimeError(`stage ${plan.name} has no model`);
  const hyper = fromPlan(() => stageHyper(plan, TRAINING_HYPER));
  const data = typeof hyper.data === 'string' ? document.plan.data[hyper.data] : undefined;
  const tokenizer = hyper.tokenizer === undefined ? undefined : document.plan.tokenizers[hyper.tokenizer];
  const samplesOf = hyper.data !== null && typeof hyper.data === 'object' && !Array.isArray(hyper.data) ? (hyper.data as Attrs).stage : undefined;
  if (!data && typeof samplesOf === 'string') {
    throw new RuntimeError(`stage ${plan.name} trains on the samples of stage ${samplesOf}`, `run it with \`moe run SPEC ${plan.name}\`, which runs ${samplesOf} first`);
  }
  if (!data) throw new RuntimeError(`stage ${plan.name} has no data block`);
  if (!tokenizer) throw new RuntimeError(`stage ${plan.name} has no tokenizer`);
  const checkpoint = fromPlan(() => hyperBlock(plan, 'checkpoint', CHECKPOINT_HYPER));
  const evaluation = fromPlan(() => hyperBlock(plan, 'eval', EVAL_HYPER));
  return {
    plan,
    model: modelOf(document, plan.model),
    data,
    tokenizer,
    seqLen: hyper.seq_len,
    batch: hyper.batch_sequences,
    steps: hyper.steps ?? null,
    epochs: hyper.epochs ?? null,
    clip: hyper.clip_grad,
    seed: hyper.seed,
    checkpointEvery: checkpoint.every,
    keep: checkpoint.keep,
    evalEvery: evaluation.every,
    evalBatches: evaluation.batches,
    microBatches: microBatchesOf(plan),
    recompute: recomputeOf(plan),
  };
}
