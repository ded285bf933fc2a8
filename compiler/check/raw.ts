/**
 * Constant folding with units: an expression evaluates to a raw value before the schema says what
 * the field needs. Errors are reported once, where they arise; the result is then `error`, which
 * every later step accepts silently (one error per cause).
 */
import { UNITS, type Dimension, type UnitName } from '../../grammar/tokens.js';
import type * as A from '../syntax/ast.js';
import type { Span } from '../syntax/source.js';

export type Raw =
  | { readonly t: 'num'; readonly v: number; readonly dim?: Dimension; readonly span: Span; readonly expr: A.Expr }
  | { readonly t: 'str'; readonly v: string; readonly raw: boolean; readonly span: Span }
  | { readonly t: 'bool'; readonly v: boolean; readonly span: Span }
  | { readonly t: 'none'; readonly span: Span }
  | { readonly t: 'list'; readonly items: readonly Raw[]; readonly span: Span }
  | { readonly t: 'pair'; readonly key: Raw; readonly value: Raw; readonly span: Span }
  /** a bare name that is not in scope: an enum value or a block name, decided by the schema */
  | { readonly t: 'symbol'; readonly name: string; readonly span: Span }
  | { readonly t: 'variant'; readonly tag: A.Ident; readonly body: A.Body; readonly span: Span }
  | { readonly t: 'map'; readonly body: A.Body; readonly span: Span }
  | { readonly t: 'error'; readonly span: Span };

export function describeRaw(raw: Raw): string {
  switch (raw.t) {
    case 'num':
      return raw.dim ? `a quantity in ${raw.dim}` : 'a number';
    case 'str':
      return 'a string';
    case 'bool':
      return 'a boolean';
    case 'none':
      return '`none`';
    case 'list':
      return 'a list';
    case 'pair':
      return 'a pair `a -> b`';
    case 'symbol':
      return `the name \`${raw.name}\``;
    case 'variant':
      return `\`${raw.tag.name} { ... }\``;
    case 'map':
      return 'a block `{ ... }`';
    case 'error':
      return 'an invalid value';
  }
}

export function unitOf(name: string): { dim: Dimension; factor: number } | undefined {
  return Object.hasOwn(UNITS, name) ? UNITS[name as UnitName] : undefined;
}

export const FUNCTIONS: Readonly<Record<string, { arity: [number, number]; fn: (...xs: number[]) => number }>> = {
  min: { arity: [1, Infinity], fn: (...xs) => Math.min(...xs) },
  max: { arity: [1, Infinity], fn: (...xs) => Math.max(...xs) },
  ceil: { arity: [1, 1], fn: Math.ceil },
  floor: { arity: [1, 1], fn: Math.floor },
  round: { arity: [1, 1], fn: Math.round },
  sqrt: { arity: [1, 1], fn: Math.sqrt },
  log2: { arity: [1, 1], fn: Math.log2 },
  pow: { arity: [2, 2], fn: Math.pow },
};
