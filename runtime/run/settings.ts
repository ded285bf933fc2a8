/**
 * Every stage setting is honoured or reported, never ignored (issue 19). STAGE_FIELD_USE lists, for
 * every field of every stage kind of the language schema (compiler/schema/stages.ts, `parallel`
 * field by field), either the runtime file that reads it (`read`), or the note printed at the
 * start of the stage when its value asks for something this runtime does not do (`note`), or both
 * (read here, reported on a backend that does not do it). test/runtime/run/settings.test.ts checks
 * that the table covers the schema and that each note is printed.
 */
import type { AttrValue, StagePlan } from '../../ir/types.js';

type StageKindName = StagePlan['kind'];

/** Where a stage runs: the tfjs backend's name (`cpu`, `wasm`, `webgpu`) or the cuda executor. */
export interface RunsOn {
  readonly backend: string;
  readonly cuda: boolean;
}

/** A note: the line for the user when the stage's value is not honoured on `on`, else null. */
export type Note = (stage: StagePlan, on: RunsOn) => string | null;

export type FieldUse = { readonly read: string; readonly key?: string; readonly note?: Note } | { readonly note: Note };

type Attrs = { readonly [k: string]: AttrValue };

function parallelOf(stage: StagePlan): Attrs | undefined {
  const p = stage.hyper['parallel'];
  return p !== null && typeof p === 'object' && !Array.isArray(p) ? (p as Attrs) : undefined;
}

const num = (attrs: Attrs | undefined, key: string, fallback: number): number => (typeof attrs?.[key] === 'number' ? (attrs[key] as number) : fallback);
const where = (on: RunsOn): string => (on.cuda ? 'cuda' : `the ${on.backend} backend`);
const training = (stage: StagePlan): boolean => stage.kind === 'pretrain' || stage.kind === 'sft';

const LAYOUT = ['data', 'tensor', 'pipeline', 'expert'] as const;

/** data/tensor/pipeline/expert > 1 (and the cluster they target): one line for the whole layout. */
const layout: Note = (stage, on) => {
  const p = parallelOf(stage);
  const many = LAYOUT.filter((k) => num(p, k, 1) > 1);
  if (many.length === 0) return null;
  const cluster = typeof stage.hyper['on'] === 'string' ? ` on cluster ${stage.hyper['on']}` : '';
  return `parallel { ${many.map((k) => `${k} = ${num(p, k, 1)}`).join(', ')} }${cluster} is not run by moe: stage ${stage.name} runs on one device (${where(on)}); \`moe compile SPEC --emit megatron\` writes a Megatron-LM launch script for this layout`;
};

/** The uneven pipeline split only means something with pipeline > 1, which `layout` reports. */
const pipelineSplit: Note = (stage, on) => (num(parallelOf(stage), 'pipeline', 1) > 1 ? layout(stage, on) : null);

/** micro_batches in a stage that trains nothing (sample, generate, eval) */
const microBatches: Note = (stage) => {
  const m = num(parallelOf(stage), 'micro_batches', 1);
  return m > 1 ? `micro_batches = ${m} is not used by ${stage.kind} stage ${stage.name}: it applies to training steps` : null;
};

/**
 * tfjs honours `full` (model/recompute.ts: each decoder layer keeps only its inputs). `selective`
 * (the default, reported once a parallel block is written, as before) would recompute attention
 * scores alone; tfjs keeps them, so it is reported. cuda keeps every activation it reads back.
 */
const recompute: Note = (stage, on) => {
  const p = parallelOf(stage);
  if (p === undefined) return null;
  const mode = String(p['recompute'] ?? 'selective');
  // nothing is differentiated while sampling: only an explicit `full` asks for something
  if (stage.kind === 'sample' || stage.kind === 'generate' || stage.kind === 'eval') return mode === 'full' ? `recompute = full is not used by ${stage.kind} stage ${stage.name}: it applies to training steps` : null;
  // cuda: attention keeps only its log-sum-exp and re-takes the scores in the backward (selective);
  // `full` re-runs each layer's forward before the layer's backward (runtime/cuda/lifetimes.ts)
  if (on.cuda || mode === 'full') return null;
  return `recompute = ${mode} is not available on ${where(on)}: attention keeps its score tensors for the backward (same losses, more memory; recompute = full is honoured)`;
};

const zero: Note = (stage, on) => {
  const z = num(parallelOf(stage), 'zero', 0);
  return z > 0 ? `zero = ${z} is not available on ${where(on)}: one process holds the whole optimizer state, gradients and weights` : null;
};

const precision: Note = (stage, on) => {
  const p = stage.hyper['precision'];
  if (typeof p !== 'string' || p === 'fp32') return null;
  if (training(stage)) {
    if (!on.cuda) return `precision = ${p} is not available on ${where(on)}: training runs in fp32 (--backend cuda trains in bf16)`;
    return p === 'fp16' ? 'precision = fp16 is not available on cuda: training runs in bf16 (same range as fp32, no loss scaling needed)' : null;
  }
  return `precision = ${p} is not available for ${stage.kind} stages on ${where(on)}: stage ${stage.name} runs in fp32`;
};

const unusedByGrpo =
  (field: string, why: string): Note =>
  (stage) => {
    const v = stage.hyper[field];
    return v === undefined || v === null ? null : `${field} is not used by grpo stage ${stage.name}: ${why}`;
  };

/** `eval` is always written (with the schema's defaults, 100 steps × 8 batches): report a changed one. */
const grpoEval: Note = (stage) => {
  const e = stage.hyper['eval'] as Attrs | undefined;
  return e !== undefined && (num(e, 'every', 100) !== 100 || num(e, 'batches', 8) !== 8) ? `eval is not used by grpo stage ${stage.name}: a grpo stage has no validation split` : null;
};

const PIPELINE = 'runtime/stages/pipeline.ts';
const STAGE = 'runtime/run/stage.ts';
const TRAIN = 'runtime/run/train.ts';
const GENERATION = 'runtime/stages/generation.ts';
const GRPO = 'runtime/stages/grpo.ts';

const parallelUse = {
  on: { note: layout },
  'parallel.data': { note: layout },
  'parallel.tensor': { note: layout },
  'parallel.pipeline': { note: layout },
  'parallel.expert': { note: layout },
  'parallel.first_stage_layers': { note: pipelineSplit },
  'parallel.last_stage_layers': { note: pipelineSplit },
  'parallel.zero': { note: zero },
  'parallel.recompute': { note: recompute },
} satisfies Record<string, FieldUse>;

const common = (reads: string) =>
  ({
    model: { read: reads },
    from: { read: PIPELINE },
    tokenizer: { read: reads },
    seed: { read: reads },
    ...parallelUse,
  }) satisfies Record<string, FieldUse>;

const sampling = {
  max_new_tokens: { read: GENERATION },
  temperature: { read: GENERATION },
  top_k: { read: GENERATION },
  top_p: { read: GENERATION },
  min_p: { read: GENERATION },
  repetition_penalty: { read: GENERATION },
  stop: { read: GENERATION },
  prompts: { read: GENERATION },
} satisfies Record<string, FieldUse>;

const trainer = {
  ...common(STAGE),
  // honoured on every training backend (tfjs: train/accumulate.ts; cuda: executor.ts)
  'parallel.micro_batches': { read: STAGE, key: 'micro_batches' },
  // `full` honoured on tfjs (model/recompute.ts), reported otherwise
  'parallel.recompute': { read: STAGE, key: 'recompute', note: recompute },
  precision: { read: TRAIN, note: precision },
  seq_len: { read: STAGE },
  steps: { read: STAGE },
  epochs: { read: STAGE },
  optimizer: { read: TRAIN },
  clip_grad: { read: STAGE },
  schedule: { read: TRAIN },
  checkpoint: { read: STAGE },
  eval: { read: STAGE },
  bias_rate: { read: TRAIN },
  mtp_weight: { read: TRAIN },
  data: { read: STAGE },
  batch: { read: STAGE, key: 'batch_sequences' },
} satisfies Record<string, FieldUse>;

const generation = {
  ...common(GENERATION),
  ...sampling,
  'parallel.micro_batches': { note: microBatches },
  precision: { note: precision },
} satisfies Record<string, FieldUse>;

export const STAGE_FIELD_USE: Readonly<Record<StageKindName, Readonly<Record<string, FieldUse>>>> = {
  pretrain: trainer,
  sft: trainer,
  grpo: {
    ...generation,
    // each policy update accumulates gradients over the parts of the rollout batch (rl/update.ts)
    'parallel.micro_batches': { read: STAGE, key: 'micro_batches' },
    // the policy update's pass re-runs each decoder layer in its backward with `full` (rl/update.ts)
    'parallel.recompute': { read: STAGE, key: 'recompute', note: recompute },
    seq_len: { note: unusedByGrpo('seq_len', 'sequences are a prompt and at most max_new_tokens generated tokens') },
    steps: { read: GENERATION },
    epochs: { note: unusedByGrpo('epochs', 'give its length in steps') },
    optimizer: { read: GRPO },
    clip_grad: { read: GENERATION },
    schedule: { read: 'runtime/train/session.ts' },
    checkpoint: { read: GENERATION },
    eval: { note: grpoEval },
    bias_rate: { note: unusedByGrpo('bias_rate', 'the policy update leaves the router biases alone') },
    mtp_weight: { note: unusedByGrpo('mtp_weight', 'the policy is the main next-token head; the MTP heads are not trained') },
    reward: { read: GENERATION },
    group: { read: GENERATION },
    batch: { read: GENERATION, key: 'batch_prompts' },
    clip: { read: GENERATION },
    kl: { read: GENERATION },
    iterations: { read: GENERATION },
    loss: { read: GENERATION },
    scale: { read: GENERATION },
    mask_truncated: { read: GENERATION },
  },
  sample: {
    ...generation,
    reward: { read: GENERATION },
    n: { read: 'runtime/stages/sample.ts' },
    keep: { read: 'runtime/stages/sample.ts' },
    min_reward: { read: 'runtime/stages/sample.ts' },
  },
  generate: {
    ...generation,
    prompt: { read: 'runtime/stages/generate.ts' },
  },
  eval: {
    ...generation,
    reward: { read: GENERATION },
    n: { read: 'runtime/stages/eval.ts' },
    answer: { read: 'runtime/stages/eval.ts' },
  },
};

/** The lines to print at the start of `stage` on `on`: each setting asked for and not honoured, once. */
export function settingNotes(stage: StagePlan, on: RunsOn): string[] {
  const uses = STAGE_FIELD_USE[stage.kind];
  const lines = Object.values(uses).flatMap((use) => (use.note ? [use.note(stage, on)] : []));
  return [...new Set(lines.filter((l): l is string => l !== null))];
}
