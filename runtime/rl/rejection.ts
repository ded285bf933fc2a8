/**
 * Rejection sampling's choice: which of each prompt's `n` scored completions survive (the sample
 * stage, runtime/stages/sample.ts, writes the survivors for an sft stage to train on).
 */
import type { RolloutItem } from './rollout.js';

/** Which items survive: `items` is prompt-major with `n` completions per prompt. */
export function keptItems(items: readonly RolloutItem[], n: number, keep: 'best' | 'all', minReward: number): RolloutItem[] {
  if (keep === 'all') return items.filter((it) => it.reward >= minReward);
  const kept: RolloutItem[] = [];
  for (let start = 0; start < items.length; start += n) {
    const group = items.slice(start, start + n);
    // the first of equally good completions wins, so the choice is reproducible
    const best = group.reduce((a, b) => (b.reward > a.reward ? b : a));
    if (best.reward >= minReward) kept.push(best);
  }
  return kept;
}
