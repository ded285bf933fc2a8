/**
 * The attribute tables of specs/ir.md §4, generated from ir/attrs.ts: each op section holds
 * a region `<!-- attrs: OP -->` … `<!-- /attrs -->` rewritten from the table, so the spec and the
 * table cannot disagree (test/generated.test.ts). Likewise §1.10's regions `<!-- fields: TABLE -->` from
 * ir/plan-fields.ts (model config, stage settings, clusters).
 */
import { OP_ATTRS } from '../ir/attrs.js';
import { fieldType, type FieldSpec } from '../ir/fields.js';
import { PLAN_TABLES } from '../ir/plan-fields.js';

const REGION = /<!-- attrs: (\S+) -->\n[\s\S]*?<!-- \/attrs -->/g;
/** §1.10: the plan's declared maps (ir/plan-fields.ts), one region per table */
const FIELDS_REGION = /<!-- fields: ([^>]+?) -->\n[\s\S]*?<!-- \/fields -->/g;

function rows(table: Readonly<Record<string, FieldSpec>>, head: string): string {
  const fields = Object.entries(table);
  if (fields.length === 0) return 'No attributes (the map is empty).\n';
  const lines = fields.map(
    ([name, spec]) =>
      `| \`${name}\` | ${fieldType(spec)}${spec.optional ? ', optional' : ''}${'default' in spec ? `, default ${JSON.stringify(spec.default)}` : ''} | ${spec.doc.replaceAll('|', '\\|')} |`,
  );
  return [`| ${head} | type | meaning |`, '|---|---|---|', ...lines, ''].join('\n');
}

function table(op: string): string {
  return rows(OP_ATTRS[op as keyof typeof OP_ATTRS] as Readonly<Record<string, FieldSpec>>, 'attribute');
}

function planTables(text: string): string {
  const seen = new Set<string>();
  const out = text.replace(FIELDS_REGION, (_, name: string) => {
    if (!(name in PLAN_TABLES)) throw new Error(`specs/ir.md has a field region for unknown table ${name}`);
    seen.add(name);
    return `<!-- fields: ${name} -->\n${rows(PLAN_TABLES[name as keyof typeof PLAN_TABLES] as Readonly<Record<string, FieldSpec>>, 'field')}<!-- /fields -->`;
  });
  const missing = Object.keys(PLAN_TABLES).filter((t) => !seen.has(t));
  if (missing.length > 0) throw new Error(`specs/ir.md has no field region for ${missing.join(', ')}`);
  return out;
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
  return planTables(text);
}
