/**
 * Checked values: what a spec means after names are resolved, units converted and defaults applied.
 * Every field keeps the span of the source that set it, so rules can point at the exact text.
 */
import type { BlockKindName, Dimension } from '../../grammar/tokens.js';
import type { BlockSpec, QuantityValue } from '../schema/dsl.js';
import type { Span } from '../syntax/source.js';

export interface PairValue {
  readonly kind: 'pair';
  readonly key: Value;
  readonly value: Value;
}
/** A named reference to a block, or (for `from`) a checkpoint path string. */
export type RefValue =
  | { readonly kind: 'ref'; readonly name: string; readonly blockKind: BlockKindName }
  | { readonly kind: 'path'; readonly path: string };

export type Value =
  | number
  | string
  | boolean
  | null
  | QuantityValue
  | Config
  | PairValue
  | RefValue
  | readonly Value[];

export interface Entry {
  readonly value: Value;
  /** the source of the value; for defaults, the enclosing block's span */
  readonly span: Span;
  /** false when the value is the schema default */
  readonly explicit: boolean;
}

export interface LayerRangeConfig {
  readonly from: number;
  readonly to: number;
  readonly span: Span;
  readonly rangeSpan: Span;
  readonly config: Config;
}

export interface RuleConfig {
  readonly name: string;
  readonly nameSpan: Span;
  readonly weight: number;
  readonly weightSpan: Span;
  readonly ruleKind: string;
  readonly config: Config;
}

export class Config {
  readonly fields = new Map<string, Entry>();
  /** fields the source sets, including those whose value was invalid (and is already reported) */
  readonly written = new Set<string>();
  readonly ranges: LayerRangeConfig[] = [];
  readonly rules: RuleConfig[] = [];

  constructor(
    readonly spec: BlockSpec,
    /** the block's span (its body, or the name it was declared with) */
    readonly span: Span,
    /** the variant case (`mla`, `bias`, …) when the block is a variant */
    readonly tag?: string,
  ) {}

  has(name: string): boolean {
    return this.fields.has(name);
  }

  /** Whether the source sets the field, validly or not: a rule about its absence must not fire. */
  sets(name: string): boolean {
    return this.written.has(name);
  }

  get(name: string): Value | undefined {
    return this.fields.get(name)?.value;
  }

  /** The span of a field's value, or of the block when the field was defaulted or absent. */
  spanOf(name: string): Span {
    return this.fields.get(name)?.span ?? this.span;
  }

  num(name: string): number | undefined {
    const v = this.get(name);
    if (typeof v === 'number') return v;
    if (isQuantity(v)) return v.value;
    return undefined;
  }

  quantity(name: string): QuantityValue | undefined {
    const v = this.get(name);
    return isQuantity(v) ? v : undefined;
  }

  str(name: string): string | undefined {
    const v = this.get(name);
    return typeof v === 'string' ? v : undefined;
  }

  bool(name: string): boolean | undefined {
    const v = this.get(name);
    return typeof v === 'boolean' ? v : undefined;
  }

  sub(name: string): Config | undefined {
    const v = this.get(name);
    return v instanceof Config ? v : undefined;
  }

  ref(name: string): RefValue | undefined {
    const v = this.get(name);
    return isRef(v) ? v : undefined;
  }

  list(name: string): readonly Value[] | undefined {
    const v = this.get(name);
    return Array.isArray(v) ? v : undefined;
  }
}

export function isQuantity(v: Value | undefined): v is QuantityValue {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof Config) && 'dim' in v;
}

export function isRef(v: Value | undefined): v is RefValue {
  return (
    typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof Config) && 'kind' in v && (v.kind === 'ref' || v.kind === 'path')
  );
}

export function isPair(v: Value | undefined): v is PairValue {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof Config) && 'kind' in v && v.kind === 'pair';
}

export function describeQuantity(q: QuantityValue): string {
  return `${formatNumber(q.value)} ${q.dim}`;
}

export function formatNumber(n: number): string {
  if (Number.isInteger(n) && Math.abs(n) < 1e15) return String(n);
  return Number(n.toPrecision(6)).toString();
}

export type { Dimension };
