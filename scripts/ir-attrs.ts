/**
 * The attribute tables of specs/ir.md §4, generated from ir/attrs.ts: each op section holds
 * a region `<!-- attrs: OP -->` … `<!-- /attrs -->` rewritten from the table, so the spec and the
 * table cannot disagree (test/generated.test.ts).
 */
import { OP_ATTRS } from '../ir/attrs.js';
import { fieldType, type FieldSpec } from '../ir/fields.js';

const REGION = /<!-- attrs: (\S+) -->\n[\s\S]*?<!-- \/attrs -->/g;

function table(op: string): string {
  const fields = Object.entries(OP_ATTRS[op as keyof typeof OP_ATTRS] as Readonly<Record<string, FieldSpec>>);
  if (fields.length === 0) return 'No attributes (the map is empty).\n';
  const rows = fields.map(([name, spec]) => `| \`${name}\` | ${fieldType(spec)} | ${spec.doc.replaceAll('|', '\\|')} |`);
  return ['| attribute | type | meaning |', '|---|---|---|', ...rows, ''].join('\n');
}

/** specs/ir.md with every op's attribute region regenerated; throws when an op has no region. */
export function irSpecMarkdown(current: string): string {
  const seen = new Set<string>();
  const text = current.replace(REGION, (_, op: string) => {
    if (!(op in OP_ATTRS)) throw new Error(`specs/ir.md has an attribute region for unknown op ${op}`);
    seen.add(op);
    return `<!-- attrs: ${op} -->\n${table(op)}<!-- /attrs -->`;
  });
  const missing = Object.keys(OP_ATTRS).filter((op) => !seen.has(op));
  if (missing.length > 0) throw new Error(`specs/ir.md has no attribute region for ${missing.join(', ')}`);
  return text;
}
