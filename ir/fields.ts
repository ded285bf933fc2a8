/**
 * Declared fields of IR attribute maps (node attributes, stage settings): a tiny schema language
 * like ONNX's OpSchema attributes or MLIR ODS, from which both the TypeScript type of a map and its
 * checked reader are derived. One declaration per field: name, type, domain, default, one-line doc.
 */
import { parseRope, type RopeConfig } from './rope.js';
import type { AttrValue } from './types.js';

export type AttrMap = { readonly [k: string]: AttrValue };

interface Common {
  readonly doc: string;
  /** the value when the field is absent; a field without one is required */
  readonly default?: unknown;
  /** null is a value of the field (e.g. `capacity = null`: dropless) */
  readonly nullable?: boolean;
  /** absent reads as undefined (a field with neither a default nor this is required) */
  readonly optional?: boolean;
}

export type FieldSpec = Common &
  (
    | { readonly type: 'int'; readonly min?: number; readonly max?: number }
    | { readonly type: 'num'; readonly min?: number; readonly exclusiveMin?: boolean; readonly max?: number }
    | { readonly type: 'bool' }
    | { readonly type: 'str' }
    | { readonly type: 'enum'; readonly values: readonly string[] }
    | { readonly type: 'nums' }
    | { readonly type: 'strs' }
    | { readonly type: 'rope' }
    | { readonly type: 'map' }
    | { readonly type: 'any' }
  );

export type FieldTable = { readonly [name: string]: FieldSpec };

type Base<S extends FieldSpec> = S extends { type: 'int' | 'num' }
  ? number
  : S extends { type: 'bool' }
    ? boolean
    : S extends { type: 'str' }
      ? string
      : S extends { type: 'enum'; values: readonly (infer V)[] }
        ? V
        : S extends { type: 'nums' }
          ? readonly number[]
          : S extends { type: 'strs' }
            ? readonly string[]
            : S extends { type: 'rope' }
              ? RopeConfig
              : S extends { type: 'map' }
                ? AttrMap
                : AttrValue;

type Nullable<S extends FieldSpec> = S extends { nullable: true } ? null : never;
/** optional fields (no default, `optional`) read as undefined when absent */
type Absent<S extends FieldSpec> = S extends { default: unknown } ? never : S extends { optional: true } ? undefined : never;

/** The typed view of a map declared by table T. */
export type View<T extends FieldTable> = { readonly [K in keyof T]: Base<T[K]> | Nullable<T[K]> | Absent<T[K]> };

function describe(spec: FieldSpec): string {
  switch (spec.type) {
    case 'int':
      return `an integer${spec.min === undefined ? '' : ` >= ${spec.min}`}${spec.max === undefined ? '' : ` <= ${spec.max}`}`;
    case 'num':
      return `a number${spec.min === undefined ? '' : ` ${spec.exclusiveMin ? '>' : '>='} ${spec.min}`}${spec.max === undefined ? '' : ` <= ${spec.max}`}`;
    case 'bool':
      return 'a boolean';
    case 'str':
      return 'a string';
    case 'enum':
      return `one of ${spec.values.join(', ')}`;
    case 'nums':
      return 'a list of numbers';
    case 'strs':
      return 'a list of strings';
    case 'rope':
      return 'a rope object (specs/ir.md §3.2)';
    case 'map':
      return 'an object';
    case 'any':
      return 'any value';
  }
}

/** The type of a field as specs/ir.md writes it (also the checker's message). */
export function fieldType(spec: FieldSpec): string {
  return `${describe(spec)}${spec.nullable ? ' or null' : ''}`;
}

function accepts(spec: FieldSpec, v: AttrValue): boolean {
  switch (spec.type) {
    case 'int':
      return typeof v === 'number' && Number.isInteger(v) && (spec.min === undefined || v >= spec.min) && (spec.max === undefined || v <= spec.max);
    case 'num':
      return (
        typeof v === 'number' &&
        Number.isFinite(v) &&
        (spec.min === undefined || (spec.exclusiveMin ? v > spec.min : v >= spec.min)) &&
        (spec.max === undefined || v <= spec.max)
      );
    case 'bool':
      return typeof v === 'boolean';
    case 'str':
      return typeof v === 'string';
    case 'enum':
      return typeof v === 'string' && spec.values.includes(v);
    case 'nums':
      return Array.isArray(v) && v.every((x) => typeof x === 'number' && Number.isFinite(x));
    case 'strs':
      return Array.isArray(v) && v.every((x) => typeof x === 'string');
    case 'rope':
      return true; // parseRope says what is wrong, field by field
    case 'map':
      return typeof v === 'object' && v !== null && !Array.isArray(v);
    case 'any':
      return true;
  }
}

/**
 * Reads a map by its table: every declared field checked (absent → its default, or an error when
 * required), undeclared fields refused (nothing accepted and silently ignored). `what` names the
 * map in messages (`attention.mla`, `stage train`). An open map (`closed: false`, a stage's settings,
 * which the checker already validated field by field) may hold fields this reader does not need.
 */
export function readFields<T extends FieldTable>(table: T, map: AttrMap, what: string, options: { closed?: boolean } = {}): View<T> {
  const out: Record<string, unknown> = {};
  for (const [name, spec] of Object.entries(table)) {
    const v = map[name];
    if (v === undefined) {
      if ('default' in spec) out[name] = spec.default;
      else if (!spec.optional) throw new Error(`${what}: attribute ${name} is missing (${fieldType(spec)})`);
      continue;
    }
    if (v === null && spec.nullable) out[name] = null;
    else if (spec.type === 'rope') out[name] = parseRope(v);
    else if (accepts(spec, v)) out[name] = v;
    else throw new Error(`${what}: attribute ${name} must be ${fieldType(spec)}, found ${JSON.stringify(v)}`);
  }
  const unknown = options.closed === false ? [] : Object.keys(map).filter((k) => !(k in table));
  if (unknown.length > 0) throw new Error(`${what}: unknown attribute ${unknown.join(', ')}`);
  return out as View<T>;
}
