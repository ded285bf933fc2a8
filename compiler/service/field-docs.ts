/** Markdown describing a schema entry: a field's type, unit, range, default and doc string. */
import type { BlockSpec, FieldSpec, QuantitySpec } from '../schema/dsl.js';
import { describeRange, describeSpec } from '../schema/dsl.js';
import { formatQuantity, formatValue } from './values.js';
import type { Entry } from '../check/values.js';

export function fieldMarkdown(name: string, spec: FieldSpec, entry?: Entry): string {
  const facts: string[] = [];
  const unit = unitOf(spec);
  if (unit) facts.push(`unit: ${unit}`);
  const range = describeRange(spec);
  if (range) facts.push(`range: ${range}`);
  const fallback = defaultOf(spec);
  if (fallback !== undefined) facts.push(`default: \`${fallback}\``);
  else if (spec.optional) facts.push('optional');
  if (entry) facts.push(`${entry.explicit ? 'value here' : 'value here (default)'}: \`${formatValue(entry.value, spec)}\``);
  return [`\`\`\`moe\n${name}: ${plainType(spec)}\n\`\`\``, spec.doc, facts.map((f) => `- ${f}`).join('\n')].filter(Boolean).join('\n\n');
}

/** A variant case, a block kind or a reward rule: its doc and its fields. */
export function blockMarkdown(title: string, spec: BlockSpec): string {
  const fields = Object.entries(spec.fields).map(([name, f]) => `- \`${name}\` — ${describeSpec(f)}`);
  return [`\`\`\`moe\n${title}\n\`\`\``, spec.doc, fields.length ? `fields:\n${fields.join('\n')}` : ''].filter(Boolean).join('\n\n');
}

function plainType(spec: FieldSpec): string {
  return describeSpec(spec).replace(/`/g, '');
}

function unitOf(spec: FieldSpec): string | undefined {
  if (spec.type !== 'quantity') return undefined;
  const dims = (spec as QuantitySpec).dims;
  return `${dims.join(' | ')} (a plain number is ${dims[0]})`;
}

function defaultOf(spec: FieldSpec): string | undefined {
  switch (spec.type) {
    case 'quantity':
      return spec.default ? formatQuantity(spec.default) : undefined;
    case 'variant':
      return spec.default;
    case 'list':
      return spec.default ? formatValue(spec.default) : undefined;
    case 'union':
      return spec.default === undefined ? undefined : formatValue(typeof spec.default === 'object' ? [...spec.default] : spec.default);
    case 'block':
    case 'ref':
    case 'pair':
      return undefined;
    default:
      return spec.default === undefined ? undefined : formatValue(spec.default, spec);
  }
}
