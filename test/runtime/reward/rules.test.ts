import { describe, expect, it } from 'vitest';
import { answersMatch, parseChoice, parseNumber } from '../../../runtime/reward/rules/answer-compare.js';
import { extractor, lastBoxed } from '../../../runtime/reward/rules/answer-extract.js';
import { answerRule } from '../../../runtime/reward/rules/answer.js';
import { chainOfThought, languageRule } from '../../../runtime/reward/rules/language.js';
import { lengthRule, lengthScore } from '../../../runtime/reward/rules/length.js';
import { regexRule } from '../../../runtime/reward/rules/regex.js';
import { repetitionScore, words } from '../../../runtime/reward/rules/repetition.js';
import { RuntimeError } from '../../../runtime/errors.js';

const item = (completion: string, sample: Record<string, unknown> = {}, tokens = 0) => ({ completion, sample, tokens });
const answer = (attrs: Record<string, string | number>) =>
  answerRule({ name: 'accuracy', extract: '<answer>([\\s\\S]*?)</answer>', compare: 'exact', tolerance: 1e-6, field: 'answer', ...attrs });

describe('answer extraction', () => {
  it('takes the last balanced \\boxed{}', () => {
    expect(lastBoxed('first \\boxed{1} then \\boxed{\\frac{3}{4}} done')).toBe('\\frac{3}{4}');
    expect(lastBoxed('\\boxed{a{b}c}')).toBe('a{b}c');
    expect(lastBoxed('no box here')).toBeUndefined();
    expect(lastBoxed('\\boxed{unclosed {')).toBeUndefined();
    // an unclosed last box falls back to the closed one before it
    expect(lastBoxed('\\boxed{7} and \\boxed{oops')).toBe('7');
  });

  it('uses the first group of the first match', () => {
    const extract = extractor('<answer>(.*?)</answer>');
    expect(extract('<answer>12</answer><answer>13</answer>')).toBe('12');
    expect(extract('no tags')).toBeUndefined();
  });
});

describe('answer comparison', () => {
  it('parses the usual number forms', () => {
    expect(parseNumber('42')).toBe(42);
    expect(parseNumber(' -3.5 ')).toBe(-3.5);
    expect(parseNumber('1,000')).toBe(1000);
    expect(parseNumber('1,000,000.5')).toBe(1000000.5);
    expect(parseNumber('3/4')).toBe(0.75);
    expect(parseNumber('\\frac{3}{4}')).toBe(0.75);
    expect(parseNumber('-\\dfrac{1}{2}')).toBe(-0.5);
    expect(parseNumber('$12$.')).toBe(12);
    expect(parseNumber('1e-3')).toBe(0.001);
    expect(parseNumber('1/0')).toBeUndefined();
    expect(parseNumber('12 apples')).toBeUndefined();
    expect(parseNumber('1,00')).toBeUndefined();
  });

  it('parses letter choices', () => {
    expect(parseChoice('(b)')).toBe('B');
    expect(parseChoice('C.')).toBe('C');
    expect(parseChoice(' [d] ')).toBe('D');
    expect(parseChoice('AB')).toBeUndefined();
  });

  it('compares exactly, numerically within the tolerance, and by letter', () => {
    expect(answersMatch('exact', ' 42 ', '42', 0)).toBe(true);
    expect(answersMatch('exact', '42.0', '42', 0)).toBe(false);
    expect(answersMatch('numeric', '42.0', '42', 0)).toBe(true);
    expect(answersMatch('numeric', '0.7501', '3/4', 1e-3)).toBe(true);
    expect(answersMatch('numeric', '0.76', '3/4', 1e-3)).toBe(false);
    expect(answersMatch('numeric', '1,000', 1000, 0)).toBe(true);
    expect(answersMatch('choice', '(B)', 'b', 0)).toBe(true);
    expect(answersMatch('choice', 'A', 'B', 0)).toBe(false);
    expect(() => answersMatch('numeric', '1', 'many', 0)).toThrow(/not a number/);
  });

  it('scores 1 on a match, 0 on a mismatch or when nothing is extracted', () => {
    const rule = answer({ compare: 'numeric' });
    expect(rule(item('<think>6*7</think><answer>42</answer>', { answer: '42' }))).toBe(1);
    expect(rule(item('<answer>41</answer>', { answer: '42' }))).toBe(0);
    expect(rule(item('42', { answer: '42' }))).toBe(0);
    expect(answer({ extract: 'boxed', compare: 'numeric' })(item('so \\boxed{\\frac{1}{2}}', { answer: '0.5' }))).toBe(1);
  });

  it('throws for a sample without the field, and refuses an unknown comparison', () => {
    expect(() => answer({})(item('<answer>1</answer>', { other: 1 }))).toThrow(/no field `answer`/);
    expect(() => answer({ compare: 'fuzzy' })).toThrow(RuntimeError);
  });
});

describe('regex', () => {
  it('lets the pattern anchor itself', () => {
    const whole = regexRule({ name: 'format', pattern: '^<think>[\\s\\S]*</think>\\s*<answer>[\\s\\S]*</answer>$' });
    expect(whole(item('<think>a</think>\n<answer>1</answer>'))).toBe(1);
    expect(whole(item('<think>a</think>\n<answer>1</answer> trailing'))).toBe(0);
    const somewhere = regexRule({ name: 'format', pattern: '<answer>' });
    expect(somewhere(item('x <answer> y'))).toBe(1);
  });
});

describe('language consistency', () => {
  const en = languageRule({ name: 'lang', target: 'en' });
  const zh = languageRule({ name: 'lang', target: 'zh' });

  it('scores the chain of thought only', () => {
    expect(chainOfThought('<think>abc</think><answer>中文</answer>')).toBe('abc');
    expect(chainOfThought('reasoning</think>answer')).toBe('reasoning');
    expect(chainOfThought('<think>unclosed')).toBe('unclosed');
    expect(chainOfThought('plain')).toBe('plain');
    expect(en(item('<think>only english</think><answer>中文中文中文</answer>'))).toBe(1);
  });

  it('is the share of letters in the target script; digits and punctuation are neutral', () => {
    expect(en(item('abcd 中文'))).toBeCloseTo(4 / 6);
    expect(zh(item('abcd 中文'))).toBeCloseTo(2 / 6);
    expect(en(item('1 + 2 = 3 !!!'))).toBe(1);
    expect(languageRule({ name: 'lang', target: 'ja' })(item('ひらがなカタカナ漢字ー'))).toBe(1);
    expect(languageRule({ name: 'lang', target: 'ru' })(item('привет hi'))).toBeCloseTo(6 / 8);
  });

  it('rejects an unknown target at construction', () => {
    expect(() => languageRule({ name: 'lang', target: 'klingon' })).toThrow(/unknown target `klingon`/);
  });
});

describe('length', () => {
  it('is 1 up to target, linear to 0 at max, 0 beyond', () => {
    expect(lengthScore(10, 48, 96)).toBe(1);
    expect(lengthScore(48, 48, 96)).toBe(1);
    expect(lengthScore(72, 48, 96)).toBe(0.5);
    expect(lengthScore(96, 48, 96)).toBe(0);
    expect(lengthScore(500, 48, 96)).toBe(0);
    expect(lengthScore(50, 48, 48)).toBe(0);
  });

  it('reads the token count the caller passes', () => {
    const rule = lengthRule({ name: 'brevity', target: 4, max: 8 });
    expect(rule(item('ignored text', {}, 6))).toBe(0.5);
    expect(() => rule(item('', {}, Number.NaN))).toThrow(/not a length/);
  });
});

describe('repetition', () => {
  it('splits words, and every Han character apart', () => {
    expect(words('Hello, world 42 中文abc')).toEqual(['hello', 'world', '42', '中', '文', 'abc']);
  });

  it('is distinct n-grams over all n-grams', () => {
    expect(repetitionScore('a b c d e', 3)).toBe(1);
    // 7 trigrams, 3 distinct
    expect(repetitionScore('a b c a b c a b c', 3)).toBeCloseTo(3 / 7);
    expect(repetitionScore('the the the the', 1)).toBe(0.25);
    expect(repetitionScore('too short', 3)).toBe(1);
  });
});
