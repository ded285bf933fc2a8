/**
 * The rejection-sampling stage: `n` completions per prompt of the prompt set from the `from` policy,
 * scored by the reward; `keep = best` keeps each prompt's highest-scoring completion when it reaches
 * `min_reward`, `keep = all` every completion that does. The kept ones go to `samples.jsonl`
 * (the prompt record's fields, the completion, its reward and components): what an sft stage with
 * `data = THIS_STAGE` trains on.
 */
import { join } from 'node:path';
import { RuntimeError } from '../errors.js';
import { writeFileAtomic } from '../io/atomic.js';
import { claimEntry } from '../run/ownership.js';
import { createRewardScorer } from '../reward/index.js';
import type { StageContext, StageOutcome } from './stage-runner.js';
import { keptItems } from '../rl/rejection.js';
import type { RolloutItem } from '../rl/rollout.js';
import { SAMPLE_HYPER, stageHyper } from '../../ir/plan-fields.js';
import { fromPlan } from '../run/stage.js';
import { generationStage, promptRecords, rewardBlock } from './generation.js';
import { rolloutInBatches } from './rollouts.js';

const SAMPLES_FILE = 'samples.jsonl';

export async function sampleRunner(ctx: StageContext): Promise<StageOutcome> {
  // listed as ours before anything is sampled or written: a samples.jsonl of the user's is refused, never replaced
  claimEntry(ctx.runDir, SAMPLES_FILE);
  const stage = generationStage(ctx.document, ctx.stage, ctx.specDir);
  const records = promptRecords(ctx.document, ctx.stage, ctx.specDir);
  const { n, keep, min_reward: minReward } = fromPlan(() => stageHyper(ctx.stage, SAMPLE_HYPER));
  const policy = ctx.loadInitial();
  if (!policy) throw new RuntimeError(`sample stage ${ctx.stage.name} has no model to sample from`, 'set `from = STAGE` (or a checkpoint path)');
  const scorer = await createRewardScorer(rewardBlock(ctx.document, ctx.stage), { specDir: ctx.specDir });
  const kept: RolloutItem[] = [];
  let total = 0;
  let rewardSum = 0;
  try {
    await rolloutInBatches(ctx, { stage, policy, scorer, records, n, verb: 'sample' }, (result) => {
      kept.push(...keptItems(result.items, n, keep, minReward));
      total += result.items.length;
      rewardSum += result.items.reduce((a, it) => a + it.reward, 0);
      return `, kept ${kept.length}`;
    });
  } finally {
    await scorer.close();
    policy.dispose();
  }
  const path = join(ctx.runDir, SAMPLES_FILE);
  writeFileAtomic(path, kept.map((it) => JSON.stringify({ ...it.record, prompt: it.record.prompt, completion: it.text, reward: it.reward, components: it.components })).join('\n') + (kept.length ? '\n' : ''));
  if (kept.length === 0) ctx.log(`sample stage ${ctx.stage.name}: no completion reached min_reward ${minReward}; the samples file is empty`);
  return {
    samples: path,
    summary: [`${records.length} prompts × ${n}: mean reward ${(rewardSum / Math.max(total, 1)).toFixed(3)}, kept ${kept.length} (${keep}, reward ≥ ${minReward})`],
    figures: { kept: kept.length },
  };
}
