/**
 * `repetition`: 1 minus the share of repeated word n-grams. Words are runs of letters, digits and
 * marks; a Han, kana or Thai character is a word of its own, since those scripts do not separate
 * words with spaces. With W words there are W − n + 1 n-grams; each one equal to an earlier one is
 * repeated, so score = distinct / total. Fewer than n words score 1 (nothing can repeat).
 */
import { readNumber, type RuleAttrs } from '../attrs.js';
import type { ItemScorer } from '../types.js';

const UNSPACED = String.raw`[\p{scx=Han}\p{scx=Hiragana}\p{scx=Katakana}\p{scx=Thai}]`;
const WORD = new RegExp(`${UNSPACED}|(?:(?!${UNSPACED})[\\p{L}\\p{N}\\p{M}])+`, 'gu');

export function words(text: string): string[] {
  return [...text.toLowerCase().matchAll(WORD)].map((m) => m[0]);
}

export function repetitionScore(text: string, n: number): number {
  const w = words(text);
  const total = w.length - n + 1;
  if (total <= 0) return 1;
  const seen = new Set<string>();
  // the unit separator cannot occur inside a word, so joined n-grams are unambiguous
  for (let i = 0; i < total; i++) seen.add(w.slice(i, i + n).join('\u001f'));
  return seen.size / total;
}

export function repetitionRule(attrs: RuleAttrs): ItemScorer {
  const n = readNumber(attrs, 'n');
  return ({ completion }) => repetitionScore(completion, n);
}
