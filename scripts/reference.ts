/** docs/reference.md: every block kind and field, generated from the schemas (compiler/schema). */
import { blockSpecs, describeRange, describeSpec, type BlockSpec, type FieldSpec } from '../compiler/schema/index.js';
import { UNITS } from '../grammar/tokens.js';

function defaultText(spec: FieldSpec): string {
  if (spec.type === 'block') return spec.optional ? 'absent' : '(defaults)';
  if (spec.type === 'variant') return spec.default === undefined ? (spec.optional ? 'absent' : 'required') : `\`${spec.default}\``;
  if (!('default' in spec) || spec.default === undefined) return spec.optional ? 'absent' : 'required';
  const d = spec.default;
  if (d === null) return '`none`';
  if (typeof d === 'object' && 'dim' in d) return `\`${d.value} ${d.dim}\``;
  return `\`${JSON.stringify(d)}\``;
}

function escape(text: string): string {
  return text.replace(/\|/g, '\\|');
}

function blockSection(title: string, spec: BlockSpec, depth: number, out: string[]): void {
  out.push(`${'#'.repeat(Math.min(depth, 6))} ${title}`, '', spec.doc, '');
  const fields = Object.entries(spec.fields);
  if (fields.length > 0) {
    out.push('| field | type | default | range | meaning |', '|---|---|---|---|---|');
    for (const [name, field] of fields) {
      out.push(`| \`${name}\` | ${escape(describeSpec(field))} | ${escape(defaultText(field))} | ${describeRange(field) ?? ''} | ${escape(field.doc)} |`);
    }
    out.push('');
  }
  for (const [name, field] of fields) {
    if (field.type === 'block') blockSection(`${title} › \`${name}\``, field, depth + 1, out);
    if (field.type === 'variant') {
      for (const [tag, caseSpec] of Object.entries(field.cases)) {
        if (Object.keys(caseSpec.fields).length === 0) continue;
        blockSection(`${title} › \`${name} ${tag}\``, caseSpec, depth + 1, out);
      }
    }
  }
  if (spec.ranges) blockSection(`${title} › \`layers a..b\``, spec.ranges, depth + 1, out);
  if (spec.rules) {
    for (const [rule, ruleSpec] of Object.entries(spec.rules)) blockSection(`${title} › rule \`${rule}\``, ruleSpec, depth + 1, out);
  }
}

export function referenceMarkdown(header: string): string {
  const out = [`<!-- ${header} -->`, '', '# Field reference', '', 'Every block kind of the `.moe` language and its fields, generated from the schemas that drive the checker.', ''];
  out.push('## Units', '', '| unit | dimension | factor |', '|---|---|---|');
  for (const [unit, { dim, factor }] of Object.entries(UNITS)) out.push(`| \`${unit}\` | ${dim} | ${factor} |`);
  out.push('');
  for (const [kind, spec] of Object.entries(blockSpecs)) blockSection(`\`${kind}\``, spec, 2, out);
  return `${out.join('\n')}\n`;
}
