/** Checked values as spec text, for hovers: `15360 sequences`, `14.8T tokens`, `adamw { lr = 2.2e-4 }`. */
import { Config, isPair, isQuantity, isRef, type Value } from '../check/values.js';
import type { FieldSpec, QuantityValue } from '../schema/dsl.js';
import { formatBytes, formatFlops } from '../stats/format.js';

/** `spec`, when known, says whether a string is written bare (an enum value, a word). */
export function formatValue(value: Value, spec?: FieldSpec): string {
  if (value === null) return 'none';
  if (typeof value === 'number') return formatPlain(value);
  if (typeof value === 'boolean') return String(value);
  if (typeof value === 'string') return bare(spec) ? value : JSON.stringify(value);
  if (Array.isArray(value)) return `[${value.map((v) => formatValue(v, spec?.type === 'list' ? spec.of : undefined)).join(', ')}]`;
  if (value instanceof Config) return formatConfigInline(value);
  if (isQuantity(value)) return formatQuantity(value);
  if (isPair(value)) return `${formatValue(value.key)} -> ${formatValue(value.value)}`;
  if (isRef(value)) return value.kind === 'ref' ? value.name : JSON.stringify(value.path);
  return '?';
}

/** A number as a spec would write it: whole numbers in full below a trillion, else compactly. */
export function formatPlain(n: number): string {
  if (!Number.isFinite(n)) return String(n);
  if (Number.isInteger(n) && Math.abs(n) < 1e12) return String(n);
  if (Number.isInteger(n) && Math.abs(n) < 1e16) return `${Number((n / 1e12).toPrecision(4))}T`;
  return String(Number(n.toPrecision(6)));
}

export function formatQuantity(q: QuantityValue): string {
  switch (q.dim) {
    case 'bytes':
      return formatBytes(q.value);
    case 'flops':
      return formatFlops(q.value);
    case 'seconds':
      return `${formatPlain(q.value)} s`;
    default:
      return `${formatPlain(q.value)} ${q.dim}`;
  }
}

/** `tag { a = 1, b = 2 }`, `{ ... }`, or just the tag when the case has no fields. */
export function formatConfigInline(config: Config): string {
  const fields = [...config.fields].map(([name, entry]) => `${name} = ${formatValue(entry.value, config.spec.fields[name])}`);
  const tag = config.tag ? `${config.tag}` : '';
  if (fields.length === 0) return tag || '{}';
  return `${tag ? `${tag} ` : ''}{ ${fields.join(', ')} }`;
}

/**
 * A config as spec lines, fields in schema order, nested blocks indented, defaults marked, so that a
 * hover shows what a stage will really run with.
 */
export function configLines(config: Config, indent = ''): string[] {
  const lines: string[] = [];
  const order = Object.keys(config.spec.fields);
  const names = [...config.fields.keys()].sort((a, b) => order.indexOf(a) - order.indexOf(b));
  for (const name of names) {
    const entry = config.fields.get(name)!;
    const mark = entry.explicit ? '' : '  // default';
    const value = entry.value;
    if (value instanceof Config && value.fields.size > 0) {
      lines.push(`${indent}${name}${value.tag ? ` ${value.tag}` : ''} {${mark}`, ...configLines(value, `${indent}  `), `${indent}}`);
    } else {
      lines.push(`${indent}${name} = ${formatValue(value, config.spec.fields[name])}${mark}`);
    }
  }
  return lines;
}

function bare(spec: FieldSpec | undefined): boolean {
  return spec?.type === 'enum' || (spec?.type === 'string' && spec.word === true);
}
