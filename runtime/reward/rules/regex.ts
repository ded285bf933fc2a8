/**
 * `regex`: 1 when the pattern matches the completion, else 0. The pattern is compiled as the checker
 * compiled it (no flags) and tested once; anchoring is the pattern's own business, so
 * `^<think>[\s\S]*</think>$` demands the whole completion and `<answer>` only somewhere in it. A
 * completion over MAX_REGEX_CHARS scores 0 with a problem (see answer-extract.ts).
 */
import { readString, type RuleAttrs } from '../attrs.js';
import type { ItemScorer } from '../types.js';
import { boundForRegex } from './answer-extract.js';

export function regexRule(attrs: RuleAttrs): ItemScorer {
  const pattern = new RegExp(readString(attrs, 'pattern'));
  return ({ completion }) => (pattern.test(boundForRegex(completion)) ? 1 : 0);
}
