/**
 * `language_consistency`: the share of the chain of thought's letters that belong to the target's
 * script (scripts.ts), as in R1's language-consistency reward. The chain of thought is the text
 * inside `<think>…</think>` (up to the end when unclosed, or before a lone `</think>` when the
 * prompt opened it), else the whole completion. Only letters (Unicode category L) count: digits,
 * punctuation, symbols and whitespace are neutral, and text without letters scores 1.
 */
import { readString, type RuleAttrs } from '../attrs.js';
import type { ItemScorer } from '../types.js';
import { scriptLetter } from './scripts.js';

export function chainOfThought(completion: string): string {
  const open = completion.indexOf('<think>');
  const from = open < 0 ? 0 : open + '<think>'.length;
  const close = completion.indexOf('</think>', from);
  if (close >= 0) return completion.slice(from, close);
  return open < 0 ? completion : completion.slice(from);
}

export function languageRule(attrs: RuleAttrs): ItemScorer {
  const inTarget = scriptLetter(readString(attrs, 'target'));
  return ({ completion }) => {
    let letters = 0;
    let matching = 0;
    for (const [ch] of chainOfThought(completion).matchAll(/\p{L}/gu)) {
      letters++;
      if (inTarget.test(ch)) matching++;
    }
    return letters === 0 ? 1 : matching / letters;
  };
}
