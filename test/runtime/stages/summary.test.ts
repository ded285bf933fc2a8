/**
 * OUT/summary.json's entries (issue 22): each stage kind's figures, and GRPO's reward over the first
 * and last fifth of its steps, the number the recipe's "GRPO improves the reward" claim rests on.
 */
import { describe, expect, it } from 'vitest';
import { rewardFifths } from '../../../runtime/stages/grpo.js';
import { summaryEntry } from '../../../runtime/stages/summary.js';

describe('summary.json entries', () => {
  it('gives a GRPO stage its steps and its mean reward over the first and the last fifth of the steps', () => {
    const rewards = [0.1, 0.3, 0.2, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0];
    const reward = rewardFifths(rewards)!;
    expect(reward.first_fifth).toBeCloseTo(0.2, 12); // steps 1–2
    expect(reward.last_fifth).toBeCloseTo(0.95, 12); // steps 9–10
    const entry = summaryEntry({ name: 'reason', kind: 'grpo', status: 'ran', seconds: 3, checkpoint: '/o/reason/checkpoint-10', figures: { steps: 10, reward } }, undefined, '/o');
    expect(entry).toEqual({ name: 'reason', kind: 'grpo', status: 'ran', seconds: 3, checkpoint: 'reason/checkpoint-10', steps: 10, reward });
  });

  it('takes one step for each fifth when fewer than five ran, and none when no step ran', () => {
    expect(rewardFifths([0.25, 0.75])).toEqual({ first_fifth: 0.25, last_fifth: 0.75 });
    expect(rewardFifths([])).toBeUndefined();
    const entry = summaryEntry({ name: 'reason', kind: 'grpo', status: 'failed', seconds: 1 }, undefined, '/o');
    expect(entry).toMatchObject({ steps: null, reward: null, checkpoint: null });
  });

  it('keeps training stages to steps, sample stages to kept', () => {
    expect(summaryEntry({ name: 'base', kind: 'pretrain', status: 'ran', seconds: 1, figures: { steps: 5 } }, undefined, '/o')).not.toHaveProperty('reward');
    expect(summaryEntry({ name: 'rs', kind: 'sample', status: 'ran', seconds: 1, figures: { kept: 42 } }, undefined, '/o')).toMatchObject({ kept: 42 });
  });
});
