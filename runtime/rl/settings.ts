/**
 * What the generation-driven stages (grpo, sample, generate) read from their plan entry, resolved
 * once: the model, tokenizer, prompt records, reward block, and the sampling settings.
 */
import type { AttrValue, GraphDocument, ModelGraph, StagePlan } from '../../ir/types.js';
import { loadRecords } from '../data/dataset.js';
import { openTokenizer } from '../data/open-tokenizer.js';
import type { DataRecord } from '../data/record.js';
import type { Tokenizer } from '../data/tokenizer.js';
import { RuntimeError } from '../errors.js';
import type { SamplingOptions } from '../infer/sampling.js';
import { vocabOf } from '../infer/generate.js';
import { modelOf } from '../load.js';
import { num, sub } from '../run/stage.js';
import type { AdvantageScale } from './advantages.js';
import type { LossKind, ObjectiveSettings } from './objective.js';

type Attrs = { readonly [k: string]: AttrValue };

function str(hyper: Attrs, key: string): string | undefined {
  const v = hyper[key];
  return typeof v === 'string' ? v : undefined;
}

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
  const hyper = plan.hyper;
  const tokenizerName = str(hyper, 'tokenizer');
  const block = tokenizerName === undefined ? undefined : document.plan.tokenizers[tokenizerName];
  if (!block) throw new RuntimeError(`stage ${plan.name} has no tokenizer`, 'set `tokenizer = NAME` in the stage or give the spec one tokenizer');
  const tokenizer = openTokenizer(block, document.plan.data, specDir);
  if (tokenizer.size > vocabOf(model)) throw new RuntimeError(`the tokenizer has ${tokenizer.size} ids but model ${model.name} has vocab ${vocabOf(model)}`);
  const stop = Array.isArray(hyper.stop) ? hyper.stop.filter((s): s is string => typeof s === 'string') : [];
  return {
    plan,
    model,
    tokenizer,
    sampling: {
      temperature: num(hyper, 'temperature', 1),
      topK: num(hyper, 'top_k', 0),
      topP: num(hyper, 'top_p', 1),
      minP: num(hyper, 'min_p', 0),
      repetitionPenalty: num(hyper, 'repetition_penalty', 1),
    },
    maxNewTokens: num(hyper, 'max_new_tokens', 64),
    stop,
    seed: num(hyper, 'seed', 0),
  };
}

/** The stage's prompt records (`prompts = DATA`), every one of them. */
export function promptRecords(document: GraphDocument, plan: StagePlan, specDir: string): DataRecord[] {
  const name = str(plan.hyper, 'prompts');
  const data = name === undefined ? undefined : document.plan.data[name];
  if (!data) throw new RuntimeError(`stage ${plan.name} has no prompts`, 'set `prompts = DATA` naming a data block with a prompt field');
  const records = loadRecords(data, specDir, ['prompt']);
  if (records.length === 0) throw new RuntimeError(`the prompt set ${name} of stage ${plan.name} is empty`);
  return records;
}

/** The stage's reward block from the plan. */
export function rewardBlock(document: GraphDocument, plan: StagePlan): Attrs {
  const name = str(plan.hyper, 'reward');
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
  readonly checkpointEvery: number;
  readonly keep: number;
}

export function grpoSettings(plan: StagePlan, stepsOverride?: number): GrpoSettings {
  const hyper = plan.hyper;
  const clip = hyper.clip;
  const [clipLow, clipHigh] = Array.isArray(clip) ? [Number(clip[0]), Number(clip[1])] : typeof clip === 'number' ? [clip, clip] : [0.2, 0.2];
  const steps = stepsOverride ?? (typeof hyper.steps === 'number' ? hyper.steps : undefined);
  if (steps === undefined) throw new RuntimeError(`grpo stage ${plan.name} needs \`steps\``, 'set `steps = N` (rollout batches)');
  const checkpoint = sub(hyper, 'checkpoint');
  return {
    clipLow,
    clipHigh,
    kl: num(hyper, 'kl', 0.04),
    loss: (str(hyper, 'loss') ?? 'grpo') as LossKind,
    maxNewTokens: num(hyper, 'max_new_tokens', 64),
    group: num(hyper, 'group', 8),
    prompts: num(hyper, 'batch_prompts', 16),
    steps,
    iterations: num(hyper, 'iterations', 1),
    scale: (str(hyper, 'scale') ?? 'group') as AdvantageScale,
    maskTruncated: hyper.mask_truncated === true,
    clipGrad: num(hyper, 'clip_grad', 1),
    checkpointEvery: num(checkpoint, 'every', 500),
    keep: num(checkpoint, 'keep', 3),
  };
}
