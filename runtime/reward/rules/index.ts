/** The rule registry: a rule kind of the plan → its scorer. One file per kind beside this one. */
import { RuntimeError } from '../../errors.js';
import type { RuleAttrs } from '../attrs.js';
import { perItem, type ItemScorer, type RuleScorer } from '../types.js';
import { answerRule } from './answer.js';
import { customRule } from './custom.js';
import { languageRule } from './language.js';
import { lengthRule } from './length.js';
import { regexRule } from './regex.js';
import { repetitionRule } from './repetition.js';
import { testsRule } from './tests.js';

export interface RuleOptions {
  /** the folder of the spec that declares the reward; `custom` paths are relative to it */
  readonly specDir: string;
  /** sandboxed programs (and custom calls) in flight at once */
  readonly parallelism?: number;
}

const PURE: Readonly<Record<string, (attrs: RuleAttrs) => ItemScorer>> = {
  answer: answerRule,
  regex: regexRule,
  language_consistency: languageRule,
  length: lengthRule,
  repetition: repetitionRule,
};

export const RULE_KINDS = [...Object.keys(PURE), 'tests', 'custom'] as const;

export async function makeRule(attrs: RuleAttrs, options: RuleOptions): Promise<RuleScorer> {
  const kind = attrs['kind'];
  const pure = typeof kind === 'string' && Object.hasOwn(PURE, kind) ? PURE[kind] : undefined;
  if (pure) return perItem(pure(attrs));
  if (kind === 'tests') return testsRule(attrs, options.parallelism === undefined ? {} : { parallelism: options.parallelism });
  if (kind === 'custom') return customRule(attrs, options.specDir, options.parallelism ?? 8);
  throw new RuntimeError(`reward rule \`${String(attrs['name'])}\`: unknown kind \`${String(kind)}\``, `known kinds: ${RULE_KINDS.join(', ')}`);
}
