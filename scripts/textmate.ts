/**
 * The editor's TextMate grammar, generated from the token vocabulary of grammar/tokens.ts (and the
 * expression functions of the checker), so the editor and the compiler never disagree on a keyword
 * or a unit. TextMate matches line by line, which is exactly the rule for units: a unit follows its
 * number on the same line. Soft keywords (block kinds, `layers`, `pipeline`, units) are highlighted
 * as keywords only where they act as such; `model = X` and `pipeline = 16` are fields.
 */
import { FUNCTIONS } from '../compiler/check/raw.js';
import { BLOCK_KINDS, vocabulary } from '../grammar/tokens.js';

const NAME = '[A-Za-z_][A-Za-z0-9_]*';
/** not preceded by a name character: the start of a word */
const WORD_START = '(?<![A-Za-z0-9_])';
/** not followed by a name character: the end of a word */
const WORD_END = '(?![A-Za-z0-9_])';
/** the lexer's NumberLiteral: `4_096`, `3e-4`, `0.1`, `14.8T` (suffix only when no letter follows), `80%` */
const NUMBER = '\\d[\\d_]*(?:\\.\\d[\\d_]*)?(?:[eE][+-]?\\d+)?(?:[KMBT](?![A-Za-z0-9_]))?%?';

function alternation(words: readonly string[]): string {
  const sorted = [...words].sort((a, b) => b.length - a.length || a.localeCompare(b));
  return sorted.map((w) => w.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('|');
}

type Rule = Record<string, unknown>;

/** The scope of each reserved word; a word the vocabulary gains must be given one here. */
const RESERVED_SCOPES: Readonly<Record<string, string>> = {
  import: 'keyword.control.import.moe',
  const: 'storage.type.const.moe',
  extends: 'keyword.other.extends.moe',
  true: 'constant.language.boolean.moe',
  false: 'constant.language.boolean.moe',
  none: 'constant.language.none.moe',
};
/** Soft keywords with a rule of their own below (`layers a..b {`, `pipeline NAME {`). */
const SOFT_WITH_RULES = ['layers', 'pipeline'];

/** Reserved words grouped by scope, one rule per scope. */
function reservedRules(): Rule[] {
  const byScope = new Map<string, string[]>();
  for (const word of vocabulary.reserved) {
    const scope = RESERVED_SCOPES[word];
    if (!scope) throw new Error(`scripts/textmate.ts: give the reserved word \`${word}\` a scope in RESERVED_SCOPES`);
    byScope.set(scope, [...(byScope.get(scope) ?? []), word]);
  }
  return [...byScope].map(([name, words]) => ({ match: `${WORD_START}(?:${alternation(words)})${WORD_END}`, name }));
}

export function textmateGrammar(): string {
  const unhandled = vocabulary.soft.filter((w) => !SOFT_WITH_RULES.includes(w));
  if (unhandled.length > 0) throw new Error(`scripts/textmate.ts: add a rule for the soft keyword(s) ${unhandled.join(', ')}`);
  const units = alternation(vocabulary.units);
  const blockKinds = alternation(BLOCK_KINDS);
  const functions = alternation(Object.keys(FUNCTIONS));
  const repository: Record<string, Rule> = {
    comments: {
      patterns: [
        { name: 'comment.line.double-slash.moe', match: '(//).*$', captures: { 1: { name: 'punctuation.definition.comment.moe' } } },
        {
          name: 'comment.block.moe',
          begin: '/\\*',
          end: '\\*/',
          beginCaptures: { 0: { name: 'punctuation.definition.comment.begin.moe' } },
          endCaptures: { 0: { name: 'punctuation.definition.comment.end.moe' } },
        },
      ],
    },
    strings: {
      patterns: [
        {
          name: 'string.quoted.raw.moe',
          begin: `${WORD_START}r#"`,
          end: '"#',
          beginCaptures: { 0: { name: 'punctuation.definition.string.begin.moe' } },
          endCaptures: { 0: { name: 'punctuation.definition.string.end.moe' } },
        },
        {
          name: 'string.quoted.raw.moe',
          match: `${WORD_START}(r")[^"]*(")`,
          captures: { 1: { name: 'punctuation.definition.string.begin.moe' }, 2: { name: 'punctuation.definition.string.end.moe' } },
        },
        {
          name: 'string.quoted.double.moe',
          match: '(")((?:[^"\\\\]|\\\\.)*)(")',
          captures: {
            1: { name: 'punctuation.definition.string.begin.moe' },
            2: { patterns: [{ include: '#escapes' }] },
            3: { name: 'punctuation.definition.string.end.moe' },
          },
        },
        { name: 'invalid.illegal.unterminated-string.moe', match: `${WORD_START}r?"(?:[^"\\\\]|\\\\.)*$` },
      ],
    },
    escapes: {
      patterns: [
        { name: 'constant.character.escape.moe', match: '\\\\(?:["\\\\/bfnrt]|u[0-9A-Fa-f]{4})' },
        { name: 'invalid.illegal.escape.moe', match: '\\\\.' },
      ],
    },
    numbers: {
      patterns: [
        {
          match: `${WORD_START}(${NUMBER})(?:\\s*(${units})${WORD_END})?`,
          captures: { 1: { name: 'constant.numeric.moe' }, 2: { name: 'keyword.other.unit.moe' } },
        },
      ],
    },
    declarations: {
      patterns: [
        {
          match: `${WORD_START}(const)\\s+(${NAME})`,
          captures: { 1: { name: 'storage.type.const.moe' }, 2: { name: 'variable.other.constant.moe' } },
        },
        {
          match: `${WORD_START}(pipeline)\\s+(${NAME})(?=\\s*\\{)`,
          captures: { 1: { name: 'storage.type.pipeline.moe' }, 2: { name: 'entity.name.type.pipeline.moe' } },
        },
        {
          match: `${WORD_START}(${blockKinds})\\s+(?!extends${WORD_END})(${NAME})(?:\\s+(extends)\\s+(${NAME}))?(?=\\s*(?:\\{|//|/\\*|$))`,
          captures: {
            1: { name: 'storage.type.block.moe' },
            2: { name: 'entity.name.type.moe' },
            3: { name: 'keyword.other.extends.moe' },
            4: { name: 'entity.other.inherited-class.moe' },
          },
        },
      ],
    },
    members: {
      patterns: [
        // `name =` before anything else, so soft keywords used as field names stay fields
        { match: `${WORD_START}(${NAME})\\s*(?==)`, captures: { 1: { name: 'variable.other.property.moe' } } },
        { match: `${WORD_START}(layers)(?=\\s+[^\\s=])`, captures: { 1: { name: 'keyword.other.layers.moe' } } },
        // `accuracy 0.6 = answer { ... }`: a weighted reward rule
        { match: `^\\s*(?!layers${WORD_END})(${NAME})(?=\\s+[\\d.(])`, captures: { 1: { name: 'variable.other.property.moe' } } },
        // `attention mla {`, `init {`
        {
          match: `${WORD_START}(${NAME})(?:\\s+(${NAME}))?(?=\\s*\\{)`,
          captures: { 1: { name: 'variable.other.property.moe' }, 2: { name: 'entity.name.tag.variant.moe' } },
        },
      ],
    },
    values: {
      patterns: [
        ...reservedRules(),
        { match: `${WORD_START}(${functions})(?=\\s*\\()`, captures: { 1: { name: 'support.function.moe' } } },
        // `balance = bias { ... }`: a variant written as a value
        {
          match: `(=)\\s*(${NAME})(?=\\s*\\{)`,
          captures: { 1: { name: 'keyword.operator.assignment.moe' }, 2: { name: 'entity.name.tag.variant.moe' } },
        },
        { match: NAME, name: 'variable.other.moe' },
      ],
    },
    punctuation: {
      patterns: [
        { match: '->', name: 'keyword.operator.arrow.moe' },
        { match: '\\.\\.', name: 'keyword.operator.range.moe' },
        { match: '=', name: 'keyword.operator.assignment.moe' },
        { match: '[-+*/%]', name: 'keyword.operator.arithmetic.moe' },
        { match: '\\.', name: 'punctuation.accessor.moe' },
        { match: ',', name: 'punctuation.separator.comma.moe' },
        { match: '\\{', name: 'punctuation.section.block.begin.moe' },
        { match: '\\}', name: 'punctuation.section.block.end.moe' },
        { match: '\\[', name: 'punctuation.section.brackets.begin.moe' },
        { match: '\\]', name: 'punctuation.section.brackets.end.moe' },
        { match: '\\(', name: 'punctuation.section.parens.begin.moe' },
        { match: '\\)', name: 'punctuation.section.parens.end.moe' },
        // anything the lexer rejects (`#`, `;`, `@`, smart quotes, …)
        { match: '[^\\s]', name: 'invalid.illegal.character.moe' },
      ],
    },
  };
  const grammar = {
    information_for_contributors: ['Generated by `npm run gen` from grammar/tokens.ts (scripts/textmate.ts). DO NOT EDIT.'],
    name: 'MoE spec',
    scopeName: 'source.moe',
    fileTypes: ['moe'],
    patterns: ['comments', 'strings', 'numbers', 'declarations', 'members', 'values', 'punctuation'].map((r) => ({ include: `#${r}` })),
    repository,
  };
  return `${JSON.stringify(grammar, null, 2)}\n`;
}
