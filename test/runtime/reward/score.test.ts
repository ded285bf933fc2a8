import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import type { AttrValue } from '../../../ir/types.js';
import { clampScore, createRewardScorer } from '../../../runtime/reward/index.js';
import { RuntimeError } from '../../../runtime/errors.js';

const specDir = join(dirname(fileURLToPath(import.meta.url)), 'specs');
const golden = JSON.parse(readFileSync(join(dirname(fileURLToPath(import.meta.url)), '../../golden-ir/r1-tiny.graph.json'), 'utf8')) as {
  plan: { rewards: Record<string, { readonly [k: string]: AttrValue }> };
};

const custom = (name: string, weight = 1) => ({ name, weight, kind: 'custom', function: `rewards.ts#${name}` });
const item = (completion: string, sample: Record<string, unknown> = {}, tokens = 10) => ({ completion, sample, tokens });

describe('the reward scorer', () => {
  it('scores the r1-tiny plan: weighted components, logged apart', async () => {
    const scorer = await createRewardScorer(golden.plan.rewards['r1']!, { specDir });
    expect(scorer.rules).toEqual(['accuracy', 'format']);
    const result = await scorer.score([
      item('<think>most b</think><answer>b</answer>', { answer: 'b' }),
      item('<think>most c</think><answer>c</answer>', { answer: 'b' }),
      item('<think>most b</think>\n<answer>b</answer>', { answer: 'b' }),
      item('b', { answer: 'b' }),
    ]);
    expect(result.components).toEqual({ accuracy: [1, 0, 1, 0], format: [1, 1, 0, 0] });
    expect(result.total[0]).toBeCloseTo(1);
    expect(result.total[1]).toBeCloseTo(0.3);
    expect(result.total[2]).toBeCloseTo(0.7);
    expect(result.total[3]).toBe(0);
    expect(result.problems).toEqual([]);
    await scorer.close();
  });

  it('divides by the sum of weights when normalize is set', async () => {
    const rules = [custom('mentionsAnswer', 0.5), custom('halfLater', 1.5)];
    const plain = await createRewardScorer({ normalize: false, rules }, { specDir });
    const normalized = await createRewardScorer({ normalize: true, rules }, { specDir });
    const items = [item('it is 42', { answer: 42 })];
    expect((await plain.score(items)).total[0]).toBeCloseTo(0.5 + 0.75);
    expect((await normalized.score(items)).total[0]).toBeCloseTo(1.25 / 2);
  });

  it('loads JavaScript rewards as they are', async () => {
    const scorer = await createRewardScorer({ normalize: false, rules: [{ name: 'js', weight: 1, kind: 'custom', function: 'plain.mjs#nonEmpty' }] }, { specDir });
    expect((await scorer.score([item('x'), item('')])).total).toEqual([1, 0]);
  });

  it('clamps and logs scores out of range, non-numbers and throws, and keeps scoring', async () => {
    const scorer = await createRewardScorer(
      { normalize: true, rules: [custom('tooBig'), custom('notANumber'), custom('throws'), { name: 'len', weight: 1, kind: 'length', target: 5, max: 15 }] },
      { specDir },
    );
    const result = await scorer.score([item('boom'), item('fine', {}, Number.NaN)]);
    expect(result.components).toEqual({ tooBig: [1, 1], notANumber: [0, 0], throws: [0, 1], len: [0.5, 0] });
    expect(result.total).toEqual([1.5 / 4, 2 / 4]);
    expect(result.problems).toEqual([
      { rule: 'tooBig', index: 0, reason: 'returned 3, outside [0, 1]' },
      { rule: 'notANumber', index: 0, reason: 'returned string, not a number' },
      { rule: 'throws', index: 0, reason: 'threw boom' },
      { rule: 'tooBig', index: 1, reason: 'returned 3, outside [0, 1]' },
      { rule: 'notANumber', index: 1, reason: 'returned string, not a number' },
      { rule: 'len', index: 1, reason: 'the token count NaN is not a length' },
    ]);
  });

  it('fails at construction for a bad rule', async () => {
    await expect(createRewardScorer({ rules: [custom('notAFunction')] }, { specDir })).rejects.toThrow(/exports no function `notAFunction`/);
    await expect(createRewardScorer({ rules: [custom('missing')] }, { specDir: '/nowhere' })).rejects.toThrow(/cannot load/);
    await expect(createRewardScorer({ rules: [{ name: 'x', weight: 1, kind: 'vibes' }] }, { specDir })).rejects.toThrow(RuntimeError);
    await expect(createRewardScorer({ rules: [{ name: 'l', weight: 1, kind: 'language_consistency', target: 'xx' }] }, { specDir })).rejects.toThrow(
      /unknown target `xx`/,
    );
    await expect(createRewardScorer({ rules: [{ name: 'a', weight: 1, kind: 'answer', compare: 'exact' }] }, { specDir })).rejects.toThrow(/`extract` should be a string/);
  });
});

describe('clampScore', () => {
  it('keeps scores in [0, 1] and says what was wrong', () => {
    expect(clampScore(0.25)).toEqual({ score: 0.25 });
    expect(clampScore(-1)).toEqual({ score: 0, problem: 'returned -1, outside [0, 1]' });
    expect(clampScore(Number.POSITIVE_INFINITY)).toEqual({ score: 1, problem: 'returned Infinity, outside [0, 1]' });
    expect(clampScore(Number.NaN)).toEqual({ score: 0, problem: 'returned NaN' });
    expect(clampScore(undefined)).toEqual({ score: 0, problem: 'returned undefined, not a number' });
  });
});
