/**
 * A reward's scorer, built from the plan (`document.plan.rewards[name]`) and the spec's folder.
 * `score` takes a whole batch (GRPO: group × prompts completions) and returns, per item, the total
 *
 *   total = Σ weightᵢ · scoreᵢ            (divided by Σ weightᵢ when the reward sets `normalize`)
 *
 * and every rule's component scores, so a trainer can log them apart. A rule's score that is not a
 * finite number in [0, 1], or a rule that throws, is logged in `problems` with the rule's name and
 * the item's index; the score is clamped into [0, 1] (NaN, non-numbers and throws count 0). `score`
 * itself never throws: a rule that fails for the whole batch is a problem on every item.
 */
import type { AttrValue } from '../../ir/types.js';
import { RuntimeError } from '../errors.js';
import type { RuleAttrs } from './attrs.js';
import { makeRule, type RuleOptions } from './rules/index.js';
import type { Outcome, RewardItem, RuleScorer } from './types.js';

export interface RewardProblem {
  readonly rule: string;
  readonly index: number;
  readonly reason: string;
}

export interface RewardScores {
  readonly total: number[];
  readonly components: Record<string, number[]>;
  readonly problems: RewardProblem[];
}

export interface RewardScorer {
  /** the rules' names, in the spec's order */
  readonly rules: readonly string[];
  score(items: readonly RewardItem[]): Promise<RewardScores>;
  /** stops the sandbox workers; call when training ends */
  close(): Promise<void>;
}

interface WeightedRule {
  readonly name: string;
  readonly weight: number;
  readonly scorer: RuleScorer;
}

/** A rule's value as a score in [0, 1], and what was wrong with it, if anything. */
export function clampScore(value: unknown): { score: number; problem?: string } {
  if (typeof value !== 'number') return { score: 0, problem: `returned ${value === null ? 'null' : typeof value}, not a number` };
  if (Number.isNaN(value)) return { score: 0, problem: 'returned NaN' };
  if (value < 0 || value > 1) return { score: Math.min(1, Math.max(0, value)), problem: `returned ${value}, outside [0, 1]` };
  return { score: value };
}

function rulesOf(reward: { readonly [k: string]: AttrValue }): RuleAttrs[] {
  const rules = reward['rules'];
  if (!Array.isArray(rules)) throw new RuntimeError('the reward has no `rules` list', 'recompile the spec with `moe compile`');
  return rules.map((r: AttrValue) => {
    if (r === null || typeof r !== 'object' || Array.isArray(r)) throw new RuntimeError('a reward rule is not an object');
    return r as RuleAttrs;
  });
}

async function scoreRule(rule: WeightedRule, items: readonly RewardItem[]): Promise<readonly Outcome[]> {
  try {
    const outcomes = await rule.scorer.score(items);
    if (outcomes.length === items.length) return outcomes;
    return items.map(() => ({ value: 0, problem: `gave ${outcomes.length} scores for ${items.length} items` }));
  } catch (e) {
    return items.map(() => ({ value: 0, problem: `failed for the whole batch: ${e instanceof Error ? e.message : String(e)}` }));
  }
}

/** Builds every rule (loading custom functions, checking targets and patterns); throws RuntimeError on a bad rule. */
export async function createRewardScorer(reward: { readonly [k: string]: AttrValue }, options: RuleOptions): Promise<RewardScorer> {
  const built: WeightedRule[] = [];
  try {
    for (const attrs of rulesOf(reward)) {
      const name = String(attrs['name']);
      const weight = attrs['weight'];
      if (typeof weight !== 'number' || !(weight >= 0)) throw new RuntimeError(`reward rule \`${name}\` has no valid weight`);
      built.push({ name, weight, scorer: await makeRule(attrs, options) });
    }
  } catch (e) {
    await Promise.all(built.map((r) => r.scorer.close()));
    throw e;
  }
  const weightSum = built.reduce((s, r) => s + r.weight, 0);
  const divisor = reward['normalize'] === true && weightSum > 0 ? weightSum : 1;

  return {
    rules: built.map((r) => r.name),
    async score(items) {
      const outcomes = await Promise.all(built.map((rule) => scoreRule(rule, items)));
      const total = items.map(() => 0);
      const components: Record<string, number[]> = {};
      const problems: RewardProblem[] = [];
      built.forEach((rule, r) => {
        components[rule.name] = outcomes[r]!.map((outcome, index) => {
          const { score, problem } = clampScore(outcome.value);
          const reason = outcome.problem ?? problem;
          if (reason !== undefined) problems.push({ rule: rule.name, index, reason });
          total[index]! += (rule.weight * score) / divisor;
          return score;
        });
      });
      problems.sort((a, b) => a.index - b.index);
      return { total, components, problems };
    },
    async close() {
      await Promise.all(built.map((r) => r.scorer.close()));
    },
  };
}
