/**
 * What a training stage needs from the IR document, resolved once: the stage plan, its model graph,
 * the data block and tokenizer block, and the numbers of its hyper-parameters.
 */
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
}

/** A number from a stage's hyper-parameters (or the fallback); a missing one is an old graph. */
export function num(hyper: Attrs, key: string, fallback?: number): number {
  const v = hyper[key];
  if (typeof v === 'number') return v;
  if (fallback !== undefined) return fallback;
  throw new RuntimeError(`the stage has no ${key}`);
}

/** A nested block of a stage's hyper-parameters (`checkpoint`, `eval`), {} when absent. */
export function sub(hyper: Attrs, key: string): Attrs {
  const v = hyper[key];
  return v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Attrs) : {};
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
    throw new RuntimeError(`stage ${plan.name} is a ${plan.kind} stage; \`moe train\` runs pretrain and sft stages`, `run it with \`moe run SPEC ${plan.name}\``);
  }
  if (!plan.model) throw new RuntimeError(`stage ${plan.name} has no model`);
  const hyper = plan.hyper;
  const dataName = hyper.data;
  const tokenizerName = hyper.tokenizer;
  const data = typeof dataName === 'string' ? document.plan.data[dataName] : undefined;
  const tokenizer = typeof tokenizerName === 'string' ? document.plan.tokenizers[tokenizerName] : undefined;
  const samplesOf = sub(hyper, 'data').stage;
  if (!data && typeof samplesOf === 'string') {
    throw new RuntimeError(`stage ${plan.name} trains on the samples of stage ${samplesOf}`, `run it with \`moe run SPEC ${plan.name}\`, which runs ${samplesOf} first`);
  }
  if (!data) throw new RuntimeError(`stage ${plan.name} has no data block`);
  if (!tokenizer) throw new RuntimeError(`stage ${plan.name} has no tokenizer`);
  const checkpoint = sub(hyper, 'checkpoint');
  const evaluation = sub(hyper, 'eval');
  return {
    plan,
    model: modelOf(document, plan.model),
    data,
    tokenizer,
    seqLen: num(hyper, 'seq_len'),
    batch: num(hyper, 'batch_sequences'),
    steps: typeof hyper.steps === 'number' ? hyper.steps : null,
    epochs: typeof hyper.epochs === 'number' ? hyper.epochs : null,
    clip: num(hyper, 'clip_grad', 1),
    seed: num(hyper, 'seed', 0),
    checkpointEvery: num(checkpoint, 'every', 500),
    keep: num(checkpoint, 'keep', 3),
    evalEvery: num(evaluation, 'every', 100),
    evalBatches: num(evaluation, 'batches', 8),
  };
}
