/**
 * `length`: an overlong penalty by token count n (the caller counts the completion's tokens):
 *
 *   score(n) = 1                              when n ≤ target
 *            = 0                              when n ≥ max
 *            = (max − n) / (max − target)     in between (linear from 1 down to 0)
 *
 * The conditions apply in that order, so a `max` not above `target` makes a step at `target`.
 */
import { readNumber, type RuleAttrs } from '../attrs.js';
import type { ItemScorer } from '../types.js';

export function lengthScore(tokens: number, target: number, max: number): number {
  if (tokens <= target) return 1;
  if (tokens >= max) return 0;
  return (max - tokens) / (max - target);
}

export function lengthRule(attrs: RuleAttrs): ItemScorer {
  const target = readNumber(attrs, 'target');
  const max = readNumber(attrs, 'max');
  return ({ tokens }) => {
    if (!Number.isFinite(tokens) || tokens < 0) throw new Error(`the token count ${tokens} is not a length`);
    return lengthScore(tokens, target, max);
  };
}
