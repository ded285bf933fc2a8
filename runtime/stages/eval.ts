/**
 * The `eval` stage: `n` completions (greedy by default) of every held-out prompt from the `from`
 * policy, scored by the reward's rules. It reports accuracy (share of prompts whose answer rule
 * scores 1; pass@n for n > 1) and each rule's mean, in the run summary and `summary.json`, and
 * writes every completion with its scores to `eval.jsonl`. It trains nothing and leaves no checkpoint.
 */
import { join } from 'node:path';
import { RuntimeError } from '../errors.js';
import { writeFileAtomic } from '../io/atomic.js';
import { claimEntry } from '../run/ownership.js';
import { createRewardScorer, type RewardProblem } from '../reward/index.js';
import type { StageContext, StageOutcome } from './stage-runner.js';
import type { RolloutItem } from '../rl/rollout.js';
import { EVAL_STAGE_HYPER, stageHyper } from '../../ir/plan-fields.js';
import { fromPlan } from '../run/stage.js';
import { generationStage, promptRecords, rewardBlock } from './generation.js';
import { rolloutInBatches } from './rollouts.js';
import { evalFigures, evalLine } from './eval-score.js';

const EVAL_FILE = 'eval.jsonl';

export async function evalRunner(ctx: StageContext): Promise<StageOutcome> {
  // listed as ours before anything is generated or written: an eval.jsonl of the user's is refused, never replaced
  claimEntry(ctx.runDir, EVAL_FILE);
  const stage = generationStage(ctx.document, ctx.stage, ctx.specDir);
  const records = promptRecords(ctx.document, ctx.stage, ctx.specDir);
  const { n, answer } = fromPlan(() => stageHyper(ctx.stage, EVAL_STAGE_HYPER));
  const policy = ctx.loadInitial();
  if (!policy) throw new RuntimeError(`eval stage ${ctx.stage.name} has no model to evaluate`, 'set `from = STAGE` (or a checkpoint path)');
  const scorer = await createRewardScorer(rewardBlock(ctx.document, ctx.stage), { specDir: ctx.specDir });
  const items: RolloutItem[] = [];
  const problems: RewardProblem[] = [];
  const ruleNames = scorer.rules;
  try {
    await rolloutInBatches(ctx, { stage, policy, scorer, records, n, verb: 'evaluate' }, (result) => {
      items.push(...result.items);
      problems.push(...result.problems);
      return '';
    });
  } finally {
    await scorer.close();
    policy.dispose();
  }
  const figures = evalFigures(items, n, answer, ruleNames);
  const path = join(ctx.runDir, EVAL_FILE);
  writeFileAtomic(path, items.map((it) => JSON.stringify({ ...it.record, prompt: it.record.prompt, completion: it.text, reward: it.reward, components: it.components })).join('\n') + (items.length ? '\n' : ''));
  // a rule that failed on a completion scored it 0; the user should know how often that happened
  // (the reasons may quote model output, which is hostile: only the rules' names are printed)
  if (problems.length > 0) {
    const rules = [...new Set(problems.map((p) => p.rule))].join(', ');
    ctx.log(`eval stage ${ctx.stage.name}: ${problems.length} rule score(s) could not be computed and count 0 (rules ${rules}; the completions are in ${EVAL_FILE})`);
  }
  return {
    outputs: [path],
    summary: [evalLine(figures, answer, n)],
    figures: { accuracy: figures.accuracy, rules: figures.rules },
  };
}
