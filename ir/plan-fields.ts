/**
 * The declared fields of the non-op maps of the IR: `ModelGraph.config`, the `StagePlan.hyper` a
 * runtime or code generator reads, and the plan's cluster blocks. Like the op attributes
 * (attrs.ts), each table is the one declaration of a map's fields; the typed views and the checked
 * readers derive from it, and specs/ir.md §1.10 shows it (generated, test/generated.test.ts).
 *
 * No field has a default here: the lowering writes every required field, taking user-facing
 * defaults from the language schema (compiler/schema), so a runtime never invents one; a missing
 * required field is an error naming it. Stage settings are open maps (`closed: false`): each
 * reader declares the fields it needs and the checker has already validated the rest.
 */
import { readFields, type AttrMap, type View } from './fields.js';
import type { ModelGraph, StagePlan } from './types.js';

const count = (doc: string) => ({ type: 'int', min: 1, doc }) as const;
const positive = (doc: string) => ({ type: 'num', min: 0, exclusiveMin: true, doc }) as const;
const nonNegative = (doc: string) => ({ type: 'num', min: 0, doc }) as const;

export const MODEL_CONFIG = {
  vocab: count('vocabulary size'),
  dim: count('model width'),
  layers: count('main decoder layers L (MTP modules not counted)'),
  context: count('maximum sequence length'),
  tie_embeddings: { type: 'bool', doc: 'the output head shares the embedding weights' },
  norm_eps: positive('eps of every RMSNorm of the model'),
  init_std: nonNegative('standard deviation of the normal initialiser'),
  attention: { type: 'map', doc: 'the attention block as written: `kind` (mla, gqa, mha, mqa) and its numeric fields' },
  mtp_depth: { type: 'int', min: 0, doc: 'multi-token prediction modules (0 = none)' },
  mtp_weight: nonNegative('MTP loss weight λ (0 without MTP)'),
} as const;

/** `hyper.checkpoint` of a training stage (always written; the schema's defaults when the spec has none). */
export const CHECKPOINT_HYPER = {
  every: count('steps between checkpoints'),
  keep: count('checkpoints kept (oldest deleted)'),
} as const;

/** `hyper.eval` of a training stage (always written; the schema's defaults when the spec has none). */
export const EVAL_HYPER = {
  every: count('steps between validations'),
  batches: count('validation batches per evaluation'),
} as const;

const common = {
  seed: { type: 'int', min: 0, doc: 'random seed' },
  tokenizer: { type: 'str', optional: true, doc: 'the tokenizer block (own, inherited through `from`, or the spec\'s only one)' },
} as const;

const training = {
  ...common,
  steps: { type: 'int', min: 1, nullable: true, optional: true, doc: 'optimizer steps; null when the length is in epochs; absent when the spec gives no length' },
  epochs: { type: 'num', min: 0, exclusiveMin: true, nullable: true, optional: true, doc: 'passes over the data, or null' },
  clip_grad: nonNegative('global gradient-norm clip; 0 = off'),
  checkpoint: { type: 'map', doc: 'checkpointing: every, keep (§1.10)' },
  eval: { type: 'map', doc: 'validation: every, batches (§1.10)' },
} as const;

/** The settings of a pretrain or sft stage. */
export const TRAINING_HYPER = {
  ...training,
  seq_len: count('tokens per training sequence'),
  batch_sequences: count('sequences per step (a token batch divided by seq_len)'),
  data: { type: 'any', optional: true, doc: 'the data block, or `{stage}`: the sample stage whose kept completions an sft stage trains on' },
} as const;

const sampling = {
  ...common,
  max_new_tokens: count('tokens generated at most per completion'),
  temperature: nonNegative('sampling temperature; 0 = greedy'),
  top_k: { type: 'int', min: 0, doc: 'sample among the k most likely tokens; 0 = off' },
  top_p: { type: 'num', min: 0, exclusiveMin: true, max: 1, doc: 'nucleus sampling mass' },
  min_p: { type: 'num', min: 0, max: 1, doc: 'drop tokens below min_p × the top probability' },
  repetition_penalty: positive('penalty on tokens already present (1 = off)'),
  stop: { type: 'strs', doc: 'generation stops at any of these strings' },
  prompts: { type: 'str', optional: true, doc: 'the data block of prompts' },
  reward: { type: 'str', optional: true, doc: 'the reward block' },
} as const;

/** The settings of a sample, generate or eval stage (and the sampling part of grpo). */
export const GENERATION_HYPER = sampling;

/** The settings of a sample stage beyond sampling. */
export const SAMPLE_HYPER = {
  ...sampling,
  n: count('completions per prompt'),
  keep: { type: 'enum', values: ['best', 'all'], doc: 'keep the best completion per prompt or all above min_reward' },
  min_reward: { type: 'num', min: 0, max: 1, doc: 'lowest reward kept' },
} as const;

/** The settings of an eval stage beyond sampling. */
export const EVAL_STAGE_HYPER = {
  ...sampling,
  n: count('completions per prompt; accuracy is pass@n'),
  answer: { type: 'str', doc: 'the reward rule whose score 1 marks a right answer (the spec\'s `answer`, else the reward\'s one rule of kind `answer`)' },
} as const;

/** The settings of a grpo stage. */
export const GRPO_HYPER = {
  ...sampling,
  ...training,
  group: { type: 'int', min: 2, doc: 'completions sampled per prompt' },
  batch_prompts: count('prompts per rollout batch'),
  clip: { type: 'any', doc: 'PPO clip range: ε (both sides) or [ε_low, ε_high]' },
  kl: nonNegative('weight β of the k3 KL estimate'),
  iterations: count('policy updates per rollout batch μ'),
  loss: { type: 'enum', values: ['grpo', 'dr_grpo', 'dapo'], doc: 'loss normalisation' },
  scale: { type: 'enum', values: ['group', 'batch', 'none'], doc: 'advantage standardisation' },
  mask_truncated: { type: 'bool', doc: 'drop completions cut at max_new_tokens from the loss' },
} as const;

/** `hyper.optimizer` of a training stage. */
export const OPTIMIZER_HYPER = {
  kind: { type: 'enum', values: ['adamw'], doc: 'the optimizer' },
  lr: positive('peak learning rate'),
  betas: { type: 'nums', doc: 'Adam β1, β2' },
  weight_decay: nonNegative('decoupled weight decay (not on norms and biases)'),
  eps: positive('Adam ε'),
} as const;

/** `hyper.schedule` of a training stage. */
export const SCHEDULE_HYPER = {
  kind: { type: 'enum', values: ['constant', 'cosine', 'multistep'], doc: 'learning-rate schedule' },
  warmup_steps: { type: 'int', min: 0, doc: 'linear warmup steps' },
  min_ratio: { type: 'num', min: 0, max: 1, optional: true, doc: 'cosine: final lr as a share of the peak' },
  milestones: { type: 'any', optional: true, doc: 'multistep: `{fraction, step, factor}` objects (step null when the length is in epochs)' },
} as const;

/** `hyper.parallel` of a stage (present when the spec has a `parallel` block). */
export const PARALLEL_HYPER = {
  data: count('data-parallel ranks'),
  tensor: count('tensor-parallel ranks'),
  pipeline: count('pipeline stages'),
  expert: count('expert-parallel ranks'),
  micro_batches: count('micro-batches per step per data rank'),
  zero: { type: 'int', min: 0, max: 3, doc: 'ZeRO stage' },
  recompute: { type: 'enum', values: ['selective', 'full'], doc: 'activation recomputation' },
  first_stage_layers: { type: 'int', min: 0, optional: true, doc: 'layers on the first pipeline stage' },
  last_stage_layers: { type: 'int', min: 0, optional: true, doc: 'layers on the last pipeline stage' },
} as const;

/** What a Megatron script reads of a pretrain stage beyond TRAINING_HYPER. */
export const MEGATRON_HYPER = {
  ...TRAINING_HYPER,
  on: { type: 'str', optional: true, doc: 'the cluster block the parallel plan targets' },
  precision: { type: 'enum', values: ['fp32', 'bf16', 'fp16'], doc: 'training precision' },
  optimizer: { type: 'map', doc: 'the optimizer (§1.10)' },
  schedule: { type: 'map', doc: 'the learning-rate schedule (§1.10)' },
  parallel: { type: 'map', optional: true, doc: 'the parallel layout (§1.10)' },
} as const;

/** A plan's cluster block. */
export const CLUSTER = {
  devices: count('accelerators in the cluster'),
  memory: positive('memory per device in bytes'),
  peak: { ...positive('peak dense FLOP/s per device'), optional: true },
} as const;

/** Every declared table, by the name specs/ir.md uses for it (scripts/ir-attrs.ts). */
export const PLAN_TABLES = {
  config: MODEL_CONFIG,
  'hyper.checkpoint': CHECKPOINT_HYPER,
  'hyper.eval': EVAL_HYPER,
  'hyper (pretrain, sft)': TRAINING_HYPER,
  'hyper (sample, generate, eval)': GENERATION_HYPER,
  'hyper (sample)': SAMPLE_HYPER,
  'hyper (eval)': EVAL_STAGE_HYPER,
  'hyper (grpo)': GRPO_HYPER,
  'hyper (megatron)': MEGATRON_HYPER,
  'hyper.optimizer': OPTIMIZER_HYPER,
  'hyper.schedule': SCHEDULE_HYPER,
  'hyper.parallel': PARALLEL_HYPER,
  cluster: CLUSTER,
} as const;

export type ModelConfig = View<typeof MODEL_CONFIG>;

// Readers run on the same objects many times (a decoder asks for the context every call): check once.
const checked = new WeakMap<object, Map<object, unknown>>();

function cached<T>(map: AttrMap, table: object, read: () => T): T {
  let byTable = checked.get(map);
  if (!byTable) checked.set(map, (byTable = new Map()));
  if (!byTable.has(table)) byTable.set(table, read());
  return byTable.get(table) as T;
}

/** A model's config checked against MODEL_CONFIG (throws naming the field). */
export function modelConfig(graph: ModelGraph): ModelConfig {
  return cached(graph.config, MODEL_CONFIG, () => readFields(MODEL_CONFIG, graph.config, `model ${graph.name} config`));
}

type HyperTable = typeof TRAINING_HYPER | typeof GENERATION_HYPER | typeof SAMPLE_HYPER | typeof EVAL_STAGE_HYPER | typeof GRPO_HYPER | typeof MEGATRON_HYPER;
type BlockTable = typeof CHECKPOINT_HYPER | typeof EVAL_HYPER | typeof OPTIMIZER_HYPER | typeof SCHEDULE_HYPER | typeof PARALLEL_HYPER;

/** A stage's settings checked against a table (an open map: undeclared settings are other readers'). */
export function stageHyper<T extends HyperTable>(stage: StagePlan, table: T): View<T> {
  return cached(stage.hyper, table, () => readFields(table, stage.hyper, `stage ${stage.name}`, { closed: false }));
}

/** A nested settings block (`checkpoint`, `eval`, `optimizer`, …) checked against its table (closed). */
export function hyperBlock<T extends BlockTable>(stage: StagePlan, key: 'checkpoint' | 'eval' | 'optimizer' | 'schedule' | 'parallel', table: T): View<T> {
  const block = stage.hyper[key];
  if (block === undefined || block === null || typeof block !== 'object' || Array.isArray(block)) {
    throw new Error(`stage ${stage.name}: attribute ${key} is missing (an object)`);
  }
  return cached(block as AttrMap, table, () => readFields(table, block as AttrMap, `stage ${stage.name} ${key}`));
}

/** A plan cluster block checked against CLUSTER. */
export function clusterOf(name: string, block: AttrMap): View<typeof CLUSTER> {
  return cached(block, CLUSTER, () => readFields(CLUSTER, block, `cluster ${name}`));
}
