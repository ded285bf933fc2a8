/**
 * Schema defaults for the lowering: the user-facing default of a field lives in the schema alone,
 * and where the lowering must write a value the spec left out (an optional block that is absent),
 * it reads the default from here instead of repeating the number.
 */
import type { BlockSpec, FieldSpec } from './dsl.js';

type Plain = number | string | boolean | null | readonly (number | string)[];

function fieldAt(spec: BlockSpec, path: readonly string[]): FieldSpec {
  let field: FieldSpec = spec;
  for (const name of path) {
    const fields: Readonly<Record<string, FieldSpec>> | undefined = field.type === 'block' ? field.fields : undefined;
    const next: FieldSpec | undefined = fields?.[name];
    if (!next) throw new Error(`the schema has no field ${path.join('.')}`);
    field = next;
  }
  return field;
}

/** The default of a scalar field as the IR writes it (a quantity in its base unit); throws when it has none. */
export function schemaDefault(spec: BlockSpec, ...path: string[]): Plain {
  const field = fieldAt(spec, path);
  const value = 'default' in field ? field.default : undefined;
  if (value === undefined) throw new Error(`the schema field ${path.join('.')} has no default`);
  if (value !== null && typeof value === 'object' && 'value' in value) return value.value;
  return value as Plain;
}

/** A numeric default (see schemaDefault). */
export function schemaNumber(spec: BlockSpec, ...path: string[]): number {
  const value = schemaDefault(spec, ...path);
  if (typeof value !== 'number') throw new Error(`the schema default of ${path.join('.')} is not a number`);
  return value;
}

/** Every field of a block at its default: what an absent optional block (`checkpoint`, `eval`) means. */
export function blockDefaults(spec: BlockSpec, ...path: string[]): { [k: string]: Plain } {
  const block = fieldAt(spec, path);
  if (block.type !== 'block') throw new Error(`the schema field ${path.join('.')} is not a block`);
  return Object.fromEntries(Object.keys(block.fields).map((name) => [name, schemaDefault(block, name)]));
}
