/**
 * `answer`: 1 when the answer extracted from the completion matches the sample's reference field
 * (see answer-extract.ts and answer-compare.ts), else 0. Nothing extracted scores 0.
 */
import { RuntimeError } from '../../errors.js';
import { readNumber, readString, sampleField, type RuleAttrs } from '../attrs.js';
import type { ItemScorer } from '../types.js';
import { answersMatch, type Compare } from './answer-compare.js';
import { extractor } from './answer-extract.js';

const COMPARES: readonly Compare[] = ['exact', 'numeric', 'choice'];

export function answerRule(attrs: RuleAttrs): ItemScorer {
  const compare = readString(attrs, 'compare');
  if (!(COMPARES as readonly string[]).includes(compare)) {
    throw new RuntimeError(`reward rule \`${String(attrs['name'])}\`: unknown compare \`${compare}\``, `use one of ${COMPARES.join(', ')}`);
  }
  const extract = extractor(readString(attrs, 'extract'));
  const tolerance = readNumber(attrs, 'tolerance');
  const field = readString(attrs, 'field');
  return ({ completion, sample }) => {
    const reference = sampleField(sample, field);
    const answer = extract(completion);
    if (answer === undefined) return 0;
    return answersMatch(compare as Compare, answer, reference, tolerance) ? 1 : 0;
  };
}
