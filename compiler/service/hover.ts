/**
 * Hover: on a field name its schema entry (doc, type, unit, range, default) and the value it has
 * there; on a model's name its resolved numbers; on another block's name (a stage's above all) its
 * resolved settings; on variant cases, enum values, rules, units, consts and references what they
 * denote; and below, the long explanation of any diagnostic under the cursor.
 */
import type { IToken } from 'chevrotain';
import { tokenMatcher } from 'chevrotain';
import * as T from '../../grammar/tokens.js';
import { UNITS, type UnitName } from '../../grammar/tokens.js';
import { Elaborator } from '../check/elaborate.js';
import { describeRaw } from '../check/raw.js';
import { DiagnosticBag } from '../diagnostics/diagnostic.js';
import { blockSpecs } from '../schema/index.js';
import type { Analysis } from './analysis.js';
import { blockSummary } from './block-summary.js';
import { cursorAt, is, isName, type Frame } from './cursor.js';
import { documentDiagnostics } from './diagnostics.js';
import { blockMarkdown, fieldMarkdown } from './field-docs.js';
import { modelSummary } from './model-summary.js';
import { isBlockKindName, placeOf } from './place.js';
import { formatPlain, formatQuantity } from './values.js';
import type { HoverResult, TextRange } from './types.js';

const KEYWORDS: Readonly<Record<string, string>> = {
  import: '`import "file.moe"` reads another spec file, relative to this one; its declarations join this file\'s namespace.',
  const: '`const NAME = expression`: a named constant, folded at compile time, usable in any expression.',
  pipeline: '`pipeline NAME { a -> b -> c }`: stages in the order they run; each must come after the stage it starts `from`.',
  extends: '`KIND Derived extends Base { ... }` starts from Base\'s body; fields override by name, nested blocks merge.',
};

export function hover(analysis: Analysis, offset: number): HoverResult | undefined {
  const tokens = analysis.parse.tokens;
  const index = tokens.findIndex((t) => t.startOffset <= offset && offset <= (t.endOffset ?? t.startOffset));
  const token = tokens[index];
  const parts: string[] = [];
  let range: TextRange | undefined;
  const about = token ? describe(analysis, tokens, index) : undefined;
  if (token && about) {
    parts.push(about);
    range = { start: token.startOffset, end: (token.endOffset ?? token.startOffset) + 1 };
  }
  for (const d of documentDiagnostics(analysis)) {
    if (d.start <= offset && offset < Math.max(d.end, d.start + 1)) {
      parts.push(`**${d.code}** (\`moe explain ${d.code}\`): ${d.explain}`);
      range ??= { start: d.start, end: d.end };
    }
  }
  return range && parts.length > 0 ? { ...range, markdown: parts.join('\n\n---\n\n') } : undefined;
}

function describe(analysis: Analysis, tokens: readonly IToken[], index: number): string | undefined {
  const token = tokens[index]!;
  const next = tokens[index + 1];
  const cursor = cursorAt(analysis.text, tokens, analysis.parse.comments, token.startOffset);
  if (cursor.inTrivia) return undefined;
  const s = cursor.statement;
  const last = s[s.length - 1];
  if (tokenMatcher(token, T.Unit) && last?.tokenType === T.NumberLiteral) return unitDoc(token.image as UnitName);
  if (KEYWORDS[token.image] && (is(token, T.Import) || is(token, T.Const) || is(token, T.Extends) || (is(token, T.Pipeline) && s.length === 0 && isName(next)))) {
    return KEYWORDS[token.image];
  }
  if (!isName(token)) return undefined;
  const frames = cursor.frames;
  const inner = frames[frames.length - 1];
  if (!inner) return topLevel(analysis, s, token, next);
  if (inner.kind === 'pipeline') return blockDoc(analysis, token.image);
  const place = placeOf(frames, analysis.result.context);
  const spec = place.spec;
  if (spec && s.length === 0) {
    if (is(token, T.Layers) && spec.ranges && !is(next, T.Equals)) return blockMarkdown('layers a..b { ... }', spec.ranges);
    const field = spec.fields[token.image];
    if (field) return fieldMarkdown(token.image, field, place.config?.fields.get(token.image));
    if (spec.rules) return ruleDoc(place.config, token.image);
  }
  if (spec && s.length === 1 && isName(last)) {
    const field = spec.fields[last.image];
    const kase = field?.type === 'variant' ? field.cases[token.image] : undefined;
    if (kase) return blockMarkdown(`${last.image} ${token.image}`, kase);
  }
  const eq = s.findIndex((t) => is(t, T.Equals));
  if (spec && eq >= 0 && s.length === eq + 1 && !is(next, T.Dot) && !is(next, T.LParen)) {
    const rule = eq >= 2 ? spec.rules?.[token.image] : undefined;
    if (rule) return blockMarkdown(token.image, rule);
    const field = eq === 1 && isName(s[0]) ? spec.fields[s[0].image] : undefined;
    if (field?.type === 'variant' && field.cases[token.image]) return blockMarkdown(token.image, field.cases[token.image]!);
    if (field?.type === 'enum' && field.values.includes(token.image)) return `\`${token.image}\`: a value of \`${s[0]!.image}\`\n\n${fieldMarkdown(s[0]!.image, field)}`;
  }
  if (is(last, T.Dot) && isName(s[s.length - 2])) return qualifiedField(analysis, s[s.length - 2]!.image, token.image);
  return nameDoc(analysis, token.image, frames);
}

function topLevel(analysis: Analysis, s: readonly IToken[], token: IToken, next: IToken | undefined): string | undefined {
  const [first] = s;
  if (s.length === 0) {
    if (isBlockKindName(token.image) && isName(next)) return blockMarkdown(`${token.image} NAME { ... }`, blockSpecs[token.image]);
    return undefined;
  }
  if (s.length === 1 && is(first, T.Const)) return constDoc(analysis, token.image);
  if (s.length === 1 && isName(first)) return blockDoc(analysis, token.image);
  return nameDoc(analysis, token.image, []);
}

/** A model's numbers, or another block's resolved settings. */
function blockDoc(analysis: Analysis, name: string): string | undefined {
  const ctx = analysis.result.context;
  const block = ctx.blocks.get(name);
  if (!block) return undefined;
  if (block.kind !== 'model') return blockSummary(ctx, name);
  const numbers = modelSummary(ctx, name);
  if (numbers) return numbers;
  const settings = blockSummary(ctx, name);
  return settings && `${settings}\n\n_parameter counts and KV cache appear once the model checks without errors_`;
}

/** A bare name in an expression: a block, a const, or a field of an enclosing block. */
function nameDoc(analysis: Analysis, name: string, frames: readonly Frame[]): string | undefined {
  const decl = analysis.result.program.decls.get(name);
  if (decl?.kind === 'block') return blockDoc(analysis, name);
  for (let depth = frames.length; depth > 0; depth--) {
    const place = placeOf(frames.slice(0, depth), analysis.result.context);
    const entry = place.config?.fields.get(name);
    const field = place.spec?.fields[name];
    if (entry?.explicit && field) return fieldMarkdown(name, field, entry);
  }
  if (decl?.kind === 'const') return constDoc(analysis, name);
  return undefined;
}

function qualifiedField(analysis: Analysis, block: string, field: string): string | undefined {
  const checked = analysis.result.context.blocks.get(block);
  const spec = checked ? blockSpecs[checked.kind].fields[field] : undefined;
  return spec ? fieldMarkdown(`${block}.${field}`, spec, checked!.config.fields.get(field)) : undefined;
}

/** A const with its folded value (evaluated afresh, so the analysis is not touched). */
function constDoc(analysis: Analysis, name: string): string | undefined {
  const program = analysis.result.program;
  const decl = program.decls.get(name);
  if (decl?.kind !== 'const') return undefined;
  const source = program.sources.get(decl.node.span.file)?.text ?? '';
  const text = source.slice(decl.node.span.start, decl.node.span.end);
  const elaborator = new Elaborator(program, new DiagnosticBag());
  const raw = elaborator.eval(decl.node.value, elaborator.global);
  const value = raw.t === 'num' ? (raw.dim ? formatQuantity({ value: raw.v, dim: raw.dim }) : formatPlain(raw.v)) : raw.t === 'error' ? undefined : describeRaw(raw);
  return [`\`\`\`moe\n${text}\n\`\`\``, value === undefined ? '' : `value: \`${value}\``].filter(Boolean).join('\n\n');
}

function ruleDoc(config: ReturnType<typeof placeOf>['config'], name: string): string | undefined {
  const rule = config?.rules.find((r) => r.name === name);
  if (!rule) return undefined;
  const spec = config!.spec.rules?.[rule.ruleKind];
  return [`\`\`\`moe\n${rule.name} ${rule.weight} = ${rule.ruleKind}\n\`\`\``, `reward rule \`${rule.name}\`, weight ${rule.weight}`, spec?.doc ?? ''].filter(Boolean).join('\n\n');
}

function unitDoc(unit: UnitName): string {
  const { dim, factor } = UNITS[unit];
  const base = { steps: 'step', tokens: 'token', epochs: 'epoch', sequences: 'sequence', prompts: 'prompt', bytes: 'byte', flops: 'FLOP', seconds: 'second' }[dim];
  return factor === 1 ? `\`${unit}\`: a unit of ${dim}` : `\`${unit}\` = ${factor.toLocaleString('en-US')} ${base}s (a unit of ${dim})`;
}
