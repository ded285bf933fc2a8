/**
 * The abstract syntax tree: read-only nodes, each with a `kind` and a `span`. Recovered (broken)
 * input yields `Missing` nodes where the parser inserted something, so later phases never see
 * `undefined` holes.
 */
import type { IToken } from 'chevrotain';
import type { Span } from './source.js';

export interface Ident {
  readonly kind: 'Ident';
  readonly span: Span;
  readonly name: string;
}

// ── expressions ────────────────────────────────────────────────────────────────────────────────
export interface NumberLit {
  readonly kind: 'Number';
  readonly span: Span;
  /** the value after suffixes (`14.8T` → 1.48e13, `80%` → 0.8) but before the unit */
  readonly value: number;
  readonly text: string;
  readonly percent: boolean;
  readonly unit?: Ident;
}
export interface StringLit {
  readonly kind: 'String';
  readonly span: Span;
  readonly value: string;
  readonly raw: boolean;
}
export interface BoolLit {
  readonly kind: 'Bool';
  readonly span: Span;
  readonly value: boolean;
}
export interface NoneLit {
  readonly kind: 'None';
  readonly span: Span;
}
export interface ListExpr {
  readonly kind: 'List';
  readonly span: Span;
  readonly items: readonly Expr[];
}
/** `80% -> 0.316` inside a list */
export interface PairExpr {
  readonly kind: 'Pair';
  readonly span: Span;
  readonly key: Expr;
  readonly value: Expr;
}
/** `{ k = v, ... }` as a value */
export interface MapExpr {
  readonly kind: 'Map';
  readonly span: Span;
  readonly body: Body;
}
/** `bias { rate = 1e-3 }`: a tagged block as a value */
export interface VariantExpr {
  readonly kind: 'Variant';
  readonly span: Span;
  readonly tag: Ident;
  readonly body: Body;
}
/** `dim` or `Base.dim` */
export interface RefExpr {
  readonly kind: 'Ref';
  readonly span: Span;
  readonly path: readonly Ident[];
}
export interface CallExpr {
  readonly kind: 'Call';
  readonly span: Span;
  readonly callee: Ident;
  readonly args: readonly Expr[];
}
export type BinaryOp = '+' | '-' | '*' | '/' | '%';
export interface BinaryExpr {
  readonly kind: 'Binary';
  readonly span: Span;
  readonly op: BinaryOp;
  readonly left: Expr;
  readonly right: Expr;
}
export interface NegExpr {
  readonly kind: 'Neg';
  readonly span: Span;
  readonly operand: Expr;
}
export interface ParenExpr {
  readonly kind: 'Paren';
  readonly span: Span;
  readonly inner: Expr;
}
/** Where the parser recovered from an error: the error is already reported. */
export interface MissingExpr {
  readonly kind: 'Missing';
  readonly span: Span;
}
export type Expr =
  | NumberLit
  | StringLit
  | BoolLit
  | NoneLit
  | ListExpr
  | PairExpr
  | MapExpr
  | VariantExpr
  | RefExpr
  | CallExpr
  | BinaryExpr
  | NegExpr
  | ParenExpr
  | MissingExpr;

// ── block members ──────────────────────────────────────────────────────────────────────────────
export interface Field {
  readonly kind: 'Field';
  readonly span: Span;
  readonly name: Ident;
  readonly value: Expr;
}
/** `norm rmsnorm { ... }`, `init { ... }` */
export interface Nested {
  readonly kind: 'Nested';
  readonly span: Span;
  readonly name: Ident;
  readonly variant?: Ident;
  readonly body: Body;
}
/** `layers 1..5 { ... }` */
export interface LayerRange {
  readonly kind: 'LayerRange';
  readonly span: Span;
  readonly keyword: Span;
  readonly from: Expr;
  readonly to: Expr;
  readonly body: Body;
}
/** `accuracy 0.4 = answer { ... }` */
export interface Weighted {
  readonly kind: 'Weighted';
  readonly span: Span;
  readonly name: Ident;
  readonly weight: Expr;
  readonly value: Expr;
}
export type Member = Field | Nested | LayerRange | Weighted;

export interface Body {
  readonly kind: 'Body';
  readonly span: Span;
  readonly members: readonly Member[];
}

// ── top level ──────────────────────────────────────────────────────────────────────────────────
export interface Import {
  readonly kind: 'Import';
  readonly span: Span;
  readonly path: StringLit;
}
export interface Const {
  readonly kind: 'Const';
  readonly span: Span;
  readonly name: Ident;
  readonly value: Expr;
}
export interface Block {
  readonly kind: 'Block';
  readonly span: Span;
  readonly blockKind: Ident;
  readonly name: Ident;
  readonly base?: Ident;
  readonly body: Body;
}
export interface Pipeline {
  readonly kind: 'Pipeline';
  readonly span: Span;
  readonly keyword: Span;
  readonly name: Ident;
  readonly chains: readonly (readonly Ident[])[];
}
export type TopItem = Import | Const | Block | Pipeline;

export interface SpecFile {
  readonly kind: 'File';
  readonly span: Span;
  readonly path: string;
  readonly items: readonly TopItem[];
  readonly comments: readonly IToken[];
}
