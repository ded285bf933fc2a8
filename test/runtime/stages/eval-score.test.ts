/**
 * The eval stage's numbers from scored completions (fake scores, no model): accuracy counts the
 * prompts whose answer rule scores exactly 1 (pass@n over a prompt's n completions), rule means
 * average every completion, and an answer rule the reward lacks is an error, not a 0.
 */
import { describe, expect, it } from 'vitest';
import { RuntimeError } from '../../../runtime/errors.js';
import { evalFigures, evalLine } from '../../../runtime/stages/eval-score.js';

const item = (accuracy: number, format: number) => ({ components: { accuracy, format } });

describe('evalFigures', () => {
  it('greedy (n = 1): the share of prompts whose answer rule is 1, partial scores not counted; each rule\'s mean', () => {
    const items = [item(1, 0), item(0, 1), item(0.99, 1), item(1, 1)];
    const f = evalFigures(items, 1, 'accuracy', ['accuracy', 'format']);
    expect(f.right).toBe(2);
    expect(f.prompts).toBe(4);
    expect(f.accuracy).toBe(0.5);
    expect(f.rules.accuracy).toBeCloseTo((1 + 0 + 0.99 + 1) / 4, 12);
    expect(f.rules.format).toBeCloseTo(0.75, 12);
    expect(evalLine(f, 'accuracy', 1)).toBe('accuracy 0.500 (2/4 prompts, rule accuracy); rule means: accuracy 0.748, format 0.750');
  });

  it('pass@n: a prompt counts when any of its n completions is right; completions of other prompts never count', () => {
    // prompt 0: right on its second try; prompt 1: never; prompt 2: right on its first
    const items = [item(0, 0), item(1, 0), item(0, 1), item(0, 1), item(1, 1), item(0, 0)];
    const f = evalFigures(items, 2, 'accuracy', ['accuracy', 'format']);
    expect([f.right, f.prompts]).toEqual([2, 3]);
    expect(f.accuracy).toBeCloseTo(2 / 3, 12);
    expect(f.rules.accuracy).toBeCloseTo(2 / 6, 12);
    // by another answer rule, the format one: prompts 1 and 2 pass
    expect(evalFigures(items, 2, 'format', ['accuracy', 'format']).right).toBe(2);
    expect(evalFigures(items, 3, 'accuracy', ['accuracy', 'format']).right).toBe(2);
    expect(evalLine(f, 'accuracy', 2)).toMatch(/^accuracy 0\.667 \(2\/3 prompts, pass@2, rule accuracy\)/);
  });

  it('refuses an answer rule the reward does not have and completions that are not n per prompt', () => {
    expect(() => evalFigures([item(1, 1)], 1, 'correct', ['accuracy', 'format'])).toThrow(RuntimeError);
    expect(() => evalFigures([item(1, 1), item(1, 1), item(1, 1)], 2, 'accuracy', ['accuracy', 'format'])).toThrow(/not 2 per prompt/);
  });
});
