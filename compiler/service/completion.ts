/**
 * Completion from the cursor's context and the schema: block kinds at the top level, the fields a
 * block may still take, variant cases after a field name, values after `=` (enum values, variant
 * cases, names of blocks of the kinds a reference field accepts, consts), units after a number,
 * reward rules after a weight, stage names in a pipeline, bases after `extends`.
 */
import type { IToken } from 'chevrotain';
import { BLOCK_KINDS, STAGE_KINDS, UNITS, type UnitName } from '../../grammar/tokens.js';
import * as T from '../../grammar/tokens.js';
import type { Decl } from '../bind/program.js';
import { blockSpecs } from '../schema/index.js';
import { describeSpec, type BlockSpec, type FieldSpec } from '../schema/dsl.js';
import type { Analysis } from './analysis.js';
import { cursorAt, is, isName, type CursorContext, type Frame } from './cursor.js';
import { blockMarkdown, fieldMarkdown } from './field-docs.js';
import { placeOf } from './place.js';
import type { CompletionItem, CompletionKind, TextRange } from './types.js';

interface Env {
  readonly analysis: Analysis;
  readonly cursor: CursorContext;
  readonly replace: TextRange;
}

const OPERATORS = [T.Plus, T.Minus, T.Star, T.Slash, T.Modulo, T.LParen, T.Comma, T.Arrow];

export function completions(analysis: Analysis, offset: number): CompletionItem[] {
  const cursor = cursorAt(analysis.text, analysis.parse.tokens, analysis.parse.comments, offset);
  if (cursor.inTrivia) return [];
  const replace = cursor.word ? { start: cursor.word.startOffset, end: offset } : { start: offset, end: offset };
  const env: Env = { analysis, cursor, replace };
  const inner = cursor.frames[cursor.frames.length - 1];
  if (!inner) return topLevel(env);
  switch (inner.kind) {
    case 'pipeline':
      return declItems(env, (d) => d.kind === 'block' && (STAGE_KINDS as readonly string[]).includes(d.blockKind));
    case 'list':
      return listItems(env, inner);
    case 'unknown':
      return [];
    default: {
      const spec = placeOf(cursor.frames).spec;
      return spec ? memberItems(env, spec) : [];
    }
  }
}

function topLevel(env: Env): CompletionItem[] {
  const s = env.cursor.statement;
  if (s.length === 0) {
    const kinds = BLOCK_KINDS.map((kind, i) =>
      item(env, kind, 'keyword', `${kind} \${1:Name} {\n\t$0\n}`, { detail: `${kind} block`, documentation: blockSpecs[kind].doc, sort: i }),
    );
    return [
      ...kinds,
      item(env, 'import', 'keyword', 'import "${1:common.moe}"', { detail: 'import another spec file' }),
      item(env, 'const', 'keyword', 'const ${1:NAME} = $0', { detail: 'a named constant' }),
      item(env, 'pipeline', 'keyword', 'pipeline ${1:name} { ${2:first} -> ${3:second} }', { detail: 'stages in order' }),
    ];
  }
  const [kind, name, keyword] = s;
  if (s.length === 3 && isName(kind) && is(keyword, T.Extends)) {
    return declItems(env, (d) => d.kind === 'block' && d.blockKind === kind.image && d.node.name.name !== name!.image);
  }
  if (is(kind, T.Const) && s.some((t) => is(t, T.Equals))) return afterValue(env, s.slice(s.findIndex((t) => is(t, T.Equals)) + 1), undefined);
  return [];
}

function memberItems(env: Env, spec: BlockSpec): CompletionItem[] {
  const s = env.cursor.statement;
  const [head] = s;
  if (s.length === 0) return fieldItems(env, spec);
  if (!isName(head)) return [];
  if (s.length === 1) {
    const field = spec.fields[head.image];
    return field?.type === 'variant' ? caseItems(env, field.cases, ' {\n\t$0\n}') : [];
  }
  const eq = s.findIndex((t) => is(t, T.Equals));
  if (eq === 1) return afterValue(env, s.slice(2), spec.fields[head.image]);
  if (eq >= 2 && spec.rules && s.length === eq + 1) return caseItems(env, spec.rules, ' { $0 }', 'rule');
  return [];
}

/** The fields a block may still take, plus `layers` ranges and reward rules where allowed. */
function fieldItems(env: Env, spec: BlockSpec): CompletionItem[] {
  const out = Object.entries(spec.fields)
    .filter(([name]) => !env.cursor.siblings.has(name))
    .map(([name, field], i) =>
      item(env, name, 'field', fieldSnippet(name, field), { detail: describeSpec(field).replace(/`/g, ''), documentation: fieldMarkdown(name, field), sort: i }),
    );
  if (spec.ranges) {
    out.push(item(env, 'layers', 'snippet', 'layers ${1:0}..${2:0} {\n\t$0\n}', { detail: 'the feed-forward of layers a..b', documentation: spec.ranges.doc, sort: 90 }));
  }
  for (const [rule, ruleSpec] of Object.entries(spec.rules ?? {})) {
    out.push(
      item(env, `${rule} rule`, 'rule', `\${1:${rule}} \${2:0.5} = ${rule} { $0 }`, { detail: 'a weighted reward rule', documentation: blockMarkdown(`name weight = ${rule} { ... }`, ruleSpec), sort: 95 }),
    );
  }
  return out;
}

function fieldSnippet(name: string, field: FieldSpec): string {
  switch (field.type) {
    case 'block':
      return `${name} {\n\t$0\n}`;
    case 'variant':
      return `${name} \${1|${Object.keys(field.cases).join(',')}|} {\n\t$0\n}`;
    case 'enum':
      return `${name} = \${1|${field.values.join(',')}|}`;
    case 'bool':
      return `${name} = \${1|true,false|}`;
    default:
      return `${name} = $0`;
  }
}

/** What may follow `field =`: the field's values first, then units after a number, consts in expressions. */
function afterValue(env: Env, after: readonly IToken[], field: FieldSpec | undefined): CompletionItem[] {
  const last = after[after.length - 1];
  if (!last) return field ? valueItems(env, field) : constItems(env);
  if (last.tokenType === T.NumberLiteral) return field ? unitItems(env, field) : [];
  if (OPERATORS.includes(last.tokenType)) return constItems(env);
  return [];
}

function valueItems(env: Env, field: FieldSpec): CompletionItem[] {
  switch (field.type) {
    case 'enum':
      return field.values.map((v, i) => item(env, v, 'value', v, { detail: field.doc, sort: i }));
    case 'variant':
      return caseItems(env, field.cases, ' { $0 }');
    case 'ref':
      return declItems(env, (d) => d.kind === 'block' && field.to.includes(d.blockKind));
    case 'bool':
      return ['true', 'false'].map((v) => item(env, v, 'keyword', v, {}));
    case 'number':
      return [...(field.nullable ? [item(env, 'none', 'keyword', 'none', {})] : []), ...constItems(env)];
    case 'int':
    case 'quantity':
      return constItems(env);
    case 'union':
      return field.options.flatMap((o) => valueItems(env, o));
    default:
      return [];
  }
}

/** Variant cases or reward rules; a case with fields opens its block. */
function caseItems(env: Env, cases: Readonly<Record<string, BlockSpec>>, opener: string, kind: CompletionKind = 'variant'): CompletionItem[] {
  return Object.entries(cases).map(([name, spec], i) => {
    const hasFields = Object.keys(spec.fields).length > 0;
    return item(env, name, kind, hasFields ? `${name}${opener}` : name, { detail: spec.doc, documentation: blockMarkdown(name, spec), sort: i });
  });
}

function unitItems(env: Env, field: FieldSpec): CompletionItem[] {
  const dims: readonly string[] = field.type === 'quantity' ? field.dims : [];
  return (Object.keys(UNITS) as UnitName[])
    .filter((u) => dims.includes(UNITS[u].dim))
    .map((u, i) => item(env, u, 'unit', u, { detail: `${UNITS[u].dim}${UNITS[u].factor === 1 ? '' : ` × ${UNITS[u].factor}`}`, sort: i }));
}

function constItems(env: Env): CompletionItem[] {
  const program = env.analysis.result.program;
  return declItems(env, (d) => d.kind === 'const').map((c) => {
    const decl = program.decls.get(c.label);
    const value = decl?.kind === 'const' ? program.sources.get(decl.node.span.file)?.text.slice(decl.node.value.span.start, decl.node.value.span.end) : undefined;
    return { ...c, detail: `const ${c.label} = ${value ?? '…'}` };
  });
}

function listItems(env: Env, frame: Extract<Frame, { kind: 'list' }>): CompletionItem[] {
  const s = env.cursor.statement;
  const last = s[s.length - 1];
  if (frame.header.some((t) => is(t, T.Equals)) && (!last || OPERATORS.includes(last.tokenType))) return constItems(env);
  return [];
}

function declItems(env: Env, keep: (d: Decl) => boolean): CompletionItem[] {
  const out: CompletionItem[] = [];
  for (const [name, decl] of env.analysis.result.program.decls) {
    if (!keep(decl)) continue;
    const detail = decl.kind === 'block' ? `${decl.blockKind} ${name}` : decl.kind;
    out.push(item(env, name, decl.kind === 'const' ? 'const' : 'reference', name, { detail }));
  }
  return out;
}

function item(
  env: Env,
  label: string,
  kind: CompletionKind,
  insertText: string,
  extra: { detail?: string; documentation?: string; sort?: number },
): CompletionItem {
  return {
    label,
    kind,
    insertText,
    snippet: insertText.includes('$'),
    replace: env.replace,
    ...(extra.detail === undefined ? {} : { detail: extra.detail }),
    ...(extra.documentation === undefined ? {} : { documentation: extra.documentation }),
    ...(extra.sort === undefined ? {} : { sortText: String(extra.sort).padStart(3, '0') }),
  };
}
