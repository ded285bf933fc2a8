/**
 * Issue 17, item 10: the completion parsers of the rule rewards do bounded work on hostile text.
 * `lastBoxed` scanned forward from every `\boxed{`: O(n²), measured on 557c2c5 at 3.3 s for 64 KiB
 * of unclosed boxes, so about 50 s for the 256 KiB below (now ~12 ms for 64 KiB); the 1000 ms
 * timeout is a regression guard only, 50× under the old time. Regular expressions (user patterns,
 * V8 backtracking) are not made linear: a completion over MAX_REGEX_CHARS scores 0 with a problem.
 */
import { describe, expect, it } from 'vitest';
import { MAX_REGEX_CHARS, extractor, lastBoxed } from '../../../runtime/reward/rules/answer-extract.js';
import { regexRule } from '../../../runtime/reward/rules/regex.js';
import { perItem } from '../../../runtime/reward/types.js';

describe('lastBoxed', () => {
  it('keeps its meaning: the last balanced box, nested braces, unclosed boxes skipped', () => {
    expect(lastBoxed('\\boxed{1} then \\boxed{\\frac{3}{4}}')).toBe('\\frac{3}{4}');
    expect(lastBoxed('\\boxed{7} \\boxed{8')).toBe('7');
    expect(lastBoxed('\\boxed{a \\boxed{b}}')).toBe('b');
    expect(lastBoxed('{ \\boxed{x} }')).toBe('x');
    expect(lastBoxed('} \\boxed{}')).toBe('');
    expect(lastBoxed('no box {here}')).toBeUndefined();
  });

  it('finds the one balanced box behind 256 KiB of unclosed ones in one pass', { timeout: 1000 }, () => {
    const hostile = '\\boxed{42}' + '\\boxed{'.repeat((256 * 1024) / 7);
    expect(lastBoxed(hostile)).toBe('42');
  });
});

describe('regular expressions on long completions', () => {
  const item = (completion: string) => ({ completion, sample: { answer: '1' }, tokens: 1 });

  it('scores a completion over the bound 0 with a logged problem, without running the pattern', async () => {
    const long = '<think>' + '</think><answer>'.repeat(MAX_REGEX_CHARS / 16 + 1);
    const format = perItem(regexRule({ name: 'format', pattern: '^<think>[\\s\\S]*</think>\\s*<answer>[\\s\\S]*</answer>$' }));
    const [outcome] = await format.score([item(long)]);
    expect(outcome).toEqual({ value: 0, problem: `the completion is ${long.length} characters, over the ${MAX_REGEX_CHARS} a regular expression is run on` });
    expect(() => extractor('<answer>([\\s\\S]*?)</answer>')('<answer>'.repeat(MAX_REGEX_CHARS / 8 + 1))).toThrow(/over the 65536/);
  });

  it('still runs the pattern on a completion within the bound', async () => {
    const format = perItem(regexRule({ name: 'format', pattern: '^<think>[\\s\\S]*</think>$' }));
    expect(await format.score([item('<think>' + 'x'.repeat(MAX_REGEX_CHARS - 20) + '</think>')])).toEqual([{ value: 1 }]);
  });
});
