/**
 * The schema language: every block kind and field is described once, as data, with its type, unit,
 * default, range and doc string. The evaluator checks specs against it; hover, completion and the
 * reference in docs/reference.md are generated from it.
 */
import type { BlockKindName, Dimension } from '../../grammar/tokens.js';

interface Documented {
  readonly doc: string;
  /** absent fields without a default are errors unless optional */
  readonly optional?: boolean;
}

export interface IntSpec extends Documented {
  readonly type: 'int';
  readonly min?: number;
  readonly max?: number;
  readonly default?: number;
}
export interface NumberSpec extends Documented {
  readonly type: 'number';
  readonly min?: number;
  readonly max?: number;
  /** the bound itself is not allowed */
  readonly exclusiveMin?: boolean;
  readonly default?: number | null;
  /** `none` is accepted and stored as null */
  readonly nullable?: boolean;
}
export interface BoolSpec extends Documented {
  readonly type: 'bool';
  readonly default?: boolean;
}
export interface StringSpec extends Documented {
  readonly type: 'string';
  readonly default?: string;
  /** checked as a JavaScript regular expression */
  readonly regex?: boolean;
  /** a file path relative to the spec (checked to stay inside the spec folder) */
  readonly path?: boolean;
  /** a bare word (`target = en`) is accepted as a string */
  readonly word?: boolean;
}
export interface EnumSpec extends Documented {
  readonly type: 'enum';
  readonly values: readonly string[];
  readonly default?: string;
}
/** A reference to a top-level block by name; with `orPath`, a string (a checkpoint path) too. */
export interface RefSpec extends Documented {
  readonly type: 'ref';
  readonly to: readonly BlockKindName[];
  readonly orPath?: boolean;
}
/** A number with a unit. A plain number takes `dims[0]`. */
export interface QuantitySpec extends Documented {
  readonly type: 'quantity';
  readonly dims: readonly Dimension[];
  readonly integer?: boolean;
  readonly min?: number;
  readonly exclusiveMin?: boolean;
  /** the largest value in each dimension's base unit (`{ seconds: 3600 }`); a dimension absent here is unbounded */
  readonly max?: Readonly<Partial<Record<Dimension, number>>>;
  readonly default?: QuantityValue;
}
export interface QuantityValue {
  readonly value: number;
  readonly dim: Dimension;
}
export interface ListSpec extends Documented {
  readonly type: 'list';
  readonly of: ValueSpec;
  readonly length?: number;
  readonly default?: readonly (number | string)[];
}
/** `key -> value` items of a list */
export interface PairSpec extends Documented {
  readonly type: 'pair';
  readonly key: ValueSpec;
  readonly value: ValueSpec;
}
/** One of several value shapes, tried in order (e.g. `clip = 0.2` or `clip = [0.2, 0.28]`). */
export interface UnionSpec extends Documented {
  readonly type: 'union';
  readonly options: readonly ValueSpec[];
  /** a value of one of the options */
  readonly default?: number | readonly number[];
}
export interface BlockSpec extends Documented {
  readonly type: 'block';
  readonly fields: Readonly<Record<string, FieldSpec>>;
  /** `layers a..b { ... }` members, described by this block spec */
  readonly ranges?: BlockSpec;
  /** `name weight = rule { ... }` members: the rule kinds */
  readonly rules?: Readonly<Record<string, BlockSpec>>;
}
/** A tagged block: `attention mla { ... }`, `balance = bias { rate = 1e-3 }`, `aux_loss = none`. */
export interface VariantSpec extends Documented {
  readonly type: 'variant';
  readonly cases: Readonly<Record<string, BlockSpec>>;
  /** the case used when the field is absent */
  readonly default?: string;
}

export type ValueSpec =
  | IntSpec
  | NumberSpec
  | BoolSpec
  | StringSpec
  | EnumSpec
  | RefSpec
  | QuantitySpec
  | ListSpec
  | PairSpec
  | UnionSpec;
export type FieldSpec = ValueSpec | BlockSpec | VariantSpec;

type Opts<S> = Omit<S, 'type' | 'doc'>;

export const int = (doc: string, o: Opts<IntSpec> = {}): IntSpec => ({ type: 'int', doc, ...o });
export const num = (doc: string, o: Opts<NumberSpec> = {}): NumberSpec => ({ type: 'number', doc, ...o });
export const bool = (doc: string, o: Opts<BoolSpec> = {}): BoolSpec => ({ type: 'bool', doc, ...o });
export const str = (doc: string, o: Opts<StringSpec> = {}): StringSpec => ({ type: 'string', doc, ...o });
export const oneOf = (values: readonly string[], doc: string, o: Opts<Omit<EnumSpec, 'values'>> = {}): EnumSpec => ({
  type: 'enum',
  values,
  doc,
  ...o,
});
export const ref = (to: readonly BlockKindName[], doc: string, o: Opts<Omit<RefSpec, 'to'>> = {}): RefSpec => ({
  type: 'ref',
  to,
  doc,
  ...o,
});
export const qty = (
  dims: readonly Dimension[],
  doc: string,
  o: Opts<Omit<QuantitySpec, 'dims'>> = {},
): QuantitySpec => ({ type: 'quantity', dims, doc, ...o });
export const list = (of: ValueSpec, doc: string, o: Opts<Omit<ListSpec, 'of'>> = {}): ListSpec => ({
  type: 'list',
  of,
  doc,
  ...o,
});
export const pair = (key: ValueSpec, value: ValueSpec, doc: string): PairSpec => ({ type: 'pair', key, value, doc });
export const union = (options: readonly ValueSpec[], doc: string, o: Opts<Omit<UnionSpec, 'options'>> = {}): UnionSpec => ({
  type: 'union',
  options,
  doc,
  ...o,
});
export const block = (
  fields: Record<string, FieldSpec>,
  doc: string,
  o: Opts<Omit<BlockSpec, 'fields'>> = {},
): BlockSpec => ({ type: 'block', fields, doc, ...o });
export const variant = (
  cases: Record<string, BlockSpec>,
  doc: string,
  o: Opts<Omit<VariantSpec, 'cases'>> = {},
): VariantSpec => ({ type: 'variant', cases, doc, ...o });
export const empty = (doc: string): BlockSpec => block({}, doc);

export const quantity = (value: number, dim: Dimension): QuantityValue => ({ value, dim });

/** Human name of a field's type, for messages and hover: `int`, `number (steps)`, `sigmoid | softmax`. */
export function describeSpec(spec: FieldSpec): string {
  switch (spec.type) {
    case 'int':
      return 'whole number';
    case 'number':
      return spec.nullable ? 'number or `none`' : 'number';
    case 'bool':
      return '`true` or `false`';
    case 'string':
      return spec.regex ? 'regular expression string' : spec.path ? 'path string' : 'string';
    case 'enum':
      return spec.values.map((v) => `\`${v}\``).join(' | ');
    case 'ref':
      return `name of a ${spec.to.join(' or ')} block${spec.orPath ? ' or a checkpoint path string' : ''}`;
    case 'quantity':
      return `${spec.integer ? 'whole ' : ''}quantity in ${spec.dims.join(' | ')}`;
    case 'list':
      return `list of ${spec.length ?? ''}${spec.length ? ' ' : ''}${describeSpec(spec.of)}`;
    case 'pair':
      return `${describeSpec(spec.key)} -> ${describeSpec(spec.value)}`;
    case 'union':
      return spec.options.map(describeSpec).join(' or ');
    case 'block':
      return 'block `{ ... }`';
    case 'variant':
      return Object.keys(spec.cases)
        .map((c) => `\`${c}\``)
        .join(' | ');
  }
}

/**
 * A field's range for hover and the reference: `[1, 10000]`, `> 0`, or per dimension for a
 * quantity (`> 0; ≤ 1e+12 steps, ≤ 1e+16 tokens`); undefined when it has none.
 */
export function describeRange(spec: FieldSpec): string | undefined {
  if (spec.type !== 'int' && spec.type !== 'number' && spec.type !== 'quantity') return undefined;
  const { min } = spec;
  const exclusiveMin = spec.type !== 'int' && spec.exclusiveMin === true;
  const lower = min === undefined ? undefined : `${exclusiveMin ? '>' : '≥'} ${min}`;
  if (spec.type === 'quantity') {
    const maxes = Object.entries(spec.max ?? {}).map(([dim, m]) => `≤ ${boundText(m)} ${dim}`);
    const parts = [lower, maxes.join(', ')].filter((p) => p !== undefined && p !== '');
    return parts.length ? parts.join('; ') : undefined;
  }
  const { max } = spec;
  if (min !== undefined && max !== undefined) return `${exclusiveMin ? '(' : '['}${min}, ${boundText(max)}]`;
  if (max !== undefined) return `≤ ${boundText(max)}`;
  return lower;
}

function boundText(n: number): string {
  return Math.abs(n) >= 1e15 ? n.toExponential() : String(n);
}
