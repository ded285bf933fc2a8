/**
 * What an eval stage reports from its scored completions: accuracy, the share of prompts with at
 * least one completion (of n) whose answer rule scores 1 (pass@n; greedy n = 1 is plain accuracy),
 * and each rule's mean over every completion.
 */
import { RuntimeError } from '../errors.js';

export interface EvalFigures {
  /** prompts right / prompts */
  readonly accuracy: number;
  readonly right: number;
  readonly prompts: number;
  /** each rule's mean score over all completions, in the reward's order */
  readonly rules: Readonly<Record<string, number>>;
}

/** One completion's rule scores, prompt-major: prompt p's completions are items p·n … p·n + n − 1. */
export type ScoredItem = { readonly components: Readonly<Record<string, number>> };

export function evalFigures(items: readonly ScoredItem[], n: number, answer: string, ruleNames: readonly string[]): EvalFigures {
  if (!ruleNames.includes(answer)) throw new RuntimeError(`the answer rule \`${answer}\` is not a rule of the reward (${ruleNames.join(', ')})`, 'recompile the spec with `moe compile`');
  if (n < 1 || items.length % n !== 0) throw new RuntimeError(`internal: ${items.length} scored completions are not ${n} per prompt`);
  const prompts = items.length / n;
  let right = 0;
  for (let p = 0; p < prompts; p++) {
    // rule scores are clamped into [0, 1] (reward/score.ts): only a full 1 is a right answer
    if (items.slice(p * n, p * n + n).some((item) => item.components[answer] === 1)) right++;
  }
  const rules: Record<string, number> = {};
  for (const rule of ruleNames) rules[rule] = items.length === 0 ? 0 : items.reduce((sum, item) => sum + (item.components[rule] ?? 0), 0) / items.length;
  return { accuracy: prompts === 0 ? 0 : right / prompts, right, prompts, rules };
}

/** `accuracy 0.667 (2/3 prompts, rule accuracy); rules: accuracy 0.667, format 0.000` */
export function evalLine(figures: EvalFigures, answer: string, n: number): string {
  const rules = Object.entries(figures.rules).map(([name, mean]) => `${name} ${mean.toFixed(3)}`).join(', ');
  const pass = n > 1 ? `pass@${n}, ` : '';
  return `accuracy ${figures.accuracy.toFixed(3)} (${figures.right}/${figures.prompts} prompts, ${pass}rule ${answer}); rule means: ${rules}`;
}
