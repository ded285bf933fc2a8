/**
 * What the generation-driven stages (grpo, sample, generate) read from their plan entry, resolved
 * once: the model, tokenizer, prompt records, reward block, and the sampling settings.
 */
import { CHECKPOINT_HYPER, GENERATION_HYPER, GRPO_HYPER, hyperBlock, stageHyper } from '../../ir/plan-fields.js';
import type { AttrValue, GraphDocument, ModelGraph, StagePlan } from '../../ir/types.js';
import { loadRecords } from '../data/dataset.js';
import { openTokenizer } from '../data/open-tokenizer.js';
import type { DataRecord } from '../data/record.js';
import type { Tokenizer } from '../data/tokenizer.js';
import { RuntimeError } from '../errors.js';
import type { SamplingOptions } from '../infer/sampling.js';
import { vocabOf } from '../infer/generate.js';
import { modelOf } from '../load.js';
import { fromPlan, microBatchesOf, recomputeOf } from '../run/stage.js';
import type { AdvantageScale } from '../rl/advantages.js';
import type { LossKind, ObjectiveSettings } from '../rl/objective.js';

type Attrs = { readonly [k: string]: AttrValue };

export interface GenerationStage {
  readonly plan: StagePlan;
  readonly model: ModelGraph;
  readonly tokenizer: Tokenizer;
  readonly sampling: SamplingOptions;
  readonly maxNewTokens: number;
  readonly stop: readonly string[];
  readonly seed: number;
}

export function generationStage(document: GraphDocument, plan: StagePlan, specDir: string): GenerationStage {
  // a stage `from` a checkpoint path names no model stage; a spec with one model means that one
  const name = plan.model ?? (document.models.length === 1 ? document.models[0]!.name : undefined);
  if (!name) throw new RuntimeError(`stage ${plan.name} has no model`, 'set `model = NAME` in the stage');
  const model = modelOf(document, name);
  const hyper = fromPlan(() => stageHyper(plan, GENERATION_HYPER));
  const tokenizerName = hyper.tokenizer;
  const block = tokenizerName === undefined ? undefined : document.plan.tokenizers[tokenizerName];
  if (!block) throw new RuntimeError(`stage ${plan.name} has no tokenizer`, 'set `tokenizer = NAME` in the stage or give the spec one tokenizer');
  const tokenizer = openTokenizer(block, document.plan.data, specDir);
  if (tokenizer.size > vocabOf(model)) throw new RuntimeError(`the tokenizer has ${tokenizer.size} ids but model ${model.name} has vocab ${vocabOf(model)}`);
  return {
    plan,
    model,
    tokenizer,
    sampling: {
      temperature: hyper.temperature,
      topK: hyper.top_k,
      topP: hyper.top_p,
      minP: hyper.min_p,
      repetitionPenalty: hyper.repetition_penalty,
    },
    maxNewTokens: hyper.max_new_tokens,
    stop: hyper.stop,
    seed: hyper.seed,
  };
}

/** The stage's prompt records (`prompts = DATA`), every one of them. */
export function promptRecords(document: GraphDocument, plan: StagePlan, specDir: string): DataRecord[] {
  const name = fromPlan(() => stageHyper(plan, GENERATION_HYPER)).prompts;
  const data = name === undefined ? undefined : document.plan.data[name];
  if (!data) throw new RuntimeError(`stage ${plan.name} has no prompts`, 'set `prompts = DATA` naming a data block with a prompt field');
  const records = loadRecords(data, specDir, ['prompt']);
  if (records.length === 0) throw new RuntimeError(`the prompt set ${name} of stage ${plan.name} is empty`);
  return records;
}

/** The stage's reward block from the plan. */
export function rewardBlock(document: GraphDocument, plan: StagePlan): Attrs {
  const name = fromPlan(() => stageHyper(plan, GENERATION_HYPER)).reward;
  const reward = name === undefined ? undefined : document.plan.rewards[name];
  if (!reward) throw new RuntimeError(`stage ${plan.name} has no reward`, 'set `reward = NAME` naming a reward block');
  return reward;
}

export interface GrpoSettings extends ObjectiveSettings {
  readonly group: number;
  readonly prompts: number;
  readonly steps: number;
  readonly iterations: number;
  readonly scale: AdvantageScale;
  readonly maskTruncated: boolean;
  readonly clipGrad: number;
  /** `parallel { micro_batches }`: each policy update accumulates gradients over this many equal parts of the rollout batch */
  readonly microBatches: number;
  /** `parallel { recompute = full }`: the policy update re-runs each decoder layer in its backward */
  readonly recompute: boolean;
  readonly checkpointEvery: number;
  readonly keep: number;
}

export function grpoSettings(plan: StagePlan, stepsOverride?: number): GrpoSettings {
  const hyper = fromPlan(() => stageHyper(plan, GRPO_HYPER));
  const [clipLow, clipHigh] = clipRange(hyper.clip);
  const steps = stepsOverride ?? hyper.steps ?? undefined;
  if (steps === undefined) throw new RuntimeError(`grpo stage ${plan.name} needs \`steps\``, 'set `steps = N` (rollout batches)');
  const checkpoint = fromPlan(() => hyperBlock(plan, 'checkpoint', CHECKPOINT_HYPER));
  const microBatches = microBatchesOf(plan);
  const rows = hyper.batch_prompts * hyper.group;
  // refused before the first rollout is sampled (the checker reports it as MOE5009)
  if (rows % microBatches !== 0) {
    throw new RuntimeError(
      `grpo stage ${plan.name}: a rollout batch of ${hyper.batch_prompts} prompts × group ${hyper.group} = ${rows} sequences does not split into ${microBatches} micro-batches`,
      'make batch × group a multiple of parallel { micro_batches }',
    );
  }
  return {
    clipLow,
    clipHigh,
    kl: hyper.kl,
    loss: hyper.loss satisfies LossKind,
    maxNewTokens: hyper.max_new_tokens,
    group: hyper.group,
    prompts: hyper.batch_prompts,
    steps,
    iterations: hyper.iterations,
    scale: hyper.scale satisfies AdvantageScale,
    maskTruncated: hyper.mask_truncated,
    clipGrad: hyper.clip_grad,
    microBatches,
    recompute: recomputeOf(plan) === 'full',
    checkpointEvery: checkpoint.every,
    keep: checkpoint.keep,
  };
}

/** The PPO clip range: `ε` (both sides) or `[ε_low, ε_high]`; the compiler writes its default. */
function clipRange(clip: AttrValue): [number, number] {
  if (Array.isArray(clip) && clip.length === 2 && clip.every((c) => typeof c === 'number')) return [clip[0] as number, clip[1] as number];
  if (typeof clip === 'number') return [clip, clip];
  throw new RuntimeError(`the plan's grpo clip is ${JSON.stringify(clip)}, not ε or [ε_low, ε_high]`, 'compile the spec again with this version of moe');
}
