/**
 * A rollout: completions for a list of prompt records from the current policy, scored by a reward.
 * GRPO samples `group` completions per prompt (each with its own random stream, so a group's members
 * differ); rejection sampling samples `n`. The reward sees the decoded completion, the prompt's
 * record (reference answers, tests) and the completion's length in tokens.
 */
import type { ModelGraph } from '../../ir/types.js';
import type { DataRecord } from '../data/record.js';
import type { Tokenizer } from '../data/tokenizer.js';
import { generate, type Completion, type DecodeSource } from '../infer/generate.js';
import type { SamplingOptions } from '../infer/sampling.js';
import { promptIds, textOptions } from '../infer/text.js';
import type { RewardProblem, RewardScorer } from '../reward/index.js';

export interface RolloutSettings {
  /** completions per prompt */
  readonly group: number;
  readonly maxNewTokens: number;
  readonly sampling: SamplingOptions;
  /** the random streams of this rollout (e.g. stage seed and step) */
  readonly seed: number;
  readonly stop: readonly string[];
}

export interface RolloutItem {
  readonly record: DataRecord;
  readonly promptIds: readonly number[];
  readonly completion: Completion;
  readonly text: string;
  readonly reward: number;
  readonly components: Readonly<Record<string, number>>;
}

export interface Rollout {
  /** prompt-major: the group of prompt p is items p·group … p·group + group − 1 */
  readonly items: RolloutItem[];
  readonly problems: readonly RewardProblem[];
  readonly generateSeconds: number;
  readonly rewardSeconds: number;
}

/** Completion tokens the length rule counts: the stopping end-of-sequence id is not text. */
function textTokens(completion: Completion, eos: number): number {
  return completion.finish === 'eos' && completion.ids.at(-1) === eos ? completion.ids.length - 1 : completion.ids.length;
}

export async function rollout(
  model: ModelGraph,
  weights: DecodeSource,
  tokenizer: Tokenizer,
  scorer: RewardScorer,
  records: readonly DataRecord[],
  settings: RolloutSettings,
): Promise<Rollout> {
  const prompts = records.flatMap((r) => Array.from({ length: settings.group }, () => promptIds(r.prompt, tokenizer)));
  const started = performance.now();
  const completions = await generate(model, weights, prompts, {
    maxNewTokens: settings.maxNewTokens,
    sampling: settings.sampling,
    seed: settings.seed,
    ...textOptions(tokenizer, settings.stop),
  });
  const generated = performance.now();
  const texts = completions.map((c) => tokenizer.decode(c.ids));
  const owner = (i: number): DataRecord => records[Math.floor(i / settings.group)]!;
  const scores = await scorer.score(
    completions.map((c, i) => ({ completion: texts[i]!, sample: { ...owner(i) } as Record<string, unknown>, tokens: textTokens(c, tokenizer.eos) })),
  );
  const items = completions.map((completion, i) => ({
    record: owner(i),
    promptIds: prompts[i]!,
    completion,
    text: texts[i]!,
    reward: scores.total[i]!,
    components: Object.fromEntries(Object.entries(scores.components).map(([rule, values]) => [rule, values[i]!])),
  }));
  return { items, problems: scores.problems, generateSeconds: (generated - started) / 1000, rewardSeconds: (performance.now() - generated) / 1000 };
}

/** Mean of each reward component over the items. */
export function componentMeans(items: readonly RolloutItem[]): Record<string, number> {
  const sums: Record<string, number> = {};
  for (const item of items) for (const [rule, v] of Object.entries(item.components)) sums[rule] = (sums[rule] ?? 0) + v;
  return Object.fromEntries(Object.entries(sums).map(([rule, s]) => [rule, s / Math.max(items.length, 1)]));
}
