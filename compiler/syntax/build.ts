/**
 * CST → AST. Tolerates recovered nodes: anything the parser could not read becomes a `Missing`
 * expression or is dropped, and the parse error that caused it has already been reported.
 */
import type { CstNode, IToken } from 'chevrotain';
import type * as C from '../../grammar/cst.js';
import type * as A from './ast.js';
import type { Span } from './source.js';
import { DiagnosticBag } from '../diagnostics/diagnostic.js';

const MULTIPLIERS: Record<string, number> = { K: 1e3, M: 1e6, B: 1e9, T: 1e12 };
/** Longest operator chain accepted in one expression (deeper trees would exhaust the stack later). */
export const MAX_CHAIN = 1000;

export class AstBuilder {
  constructor(
    private readonly file: string,
    private readonly diagnostics: DiagnosticBag,
  ) {}

  file_(cst: C.FileCstNode, textLength: number, comments: IToken[]): A.SpecFile {
    const items: A.TopItem[] = [];
    for (const top of cst.children.topItem ?? []) {
      const item = this.topItem(top);
      if (item) items.push(item);
    }
    return { kind: 'File', span: this.span(0, textLength), path: this.file, items, comments };
  }

  private topItem(node: C.TopItemCstNode): A.TopItem | undefined {
    const c = node.children;
    if (c.importDecl?.[0]) return this.importDecl(c.importDecl[0]);
    if (c.constDecl?.[0]) return this.constDecl(c.constDecl[0]);
    if (c.pipelineDecl?.[0]) return this.pipelineDecl(c.pipelineDecl[0]);
    if (c.blockDecl?.[0]) return this.blockDecl(c.blockDecl[0]);
    return undefined;
  }

  private importDecl(node: C.ImportDeclCstNode): A.Import | undefined {
    const token = usable(node.children.StringLiteral?.[0]);
    if (!token) return undefined;
    return { kind: 'Import', span: this.nodeSpan(node), path: this.string(token, false) };
  }

  private constDecl(node: C.ConstDeclCstNode): A.Const | undefined {
    const name = this.ident(node.children.Name?.[0]);
    if (!name) return undefined;
    return { kind: 'Const', span: this.nodeSpan(node), name, value: this.expression(node.children.expression?.[0], node) };
  }

  private pipelineDecl(node: C.PipelineDeclCstNode): A.Pipeline | undefined {
    const name = this.ident(node.children.Name?.[0]);
    if (!name) return undefined;
    const chains = (node.children.chain ?? []).map((chain) =>
      (chain.children.Name ?? []).map((t) => this.ident(t)).filter((i): i is A.Ident => i !== undefined),
    );
    return {
      kind: 'Pipeline',
      span: this.nodeSpan(node),
      keyword: this.tokenSpan(node.children.Kw_pipeline[0]!),
      name,
      chains: chains.filter((c) => c.length > 0),
    };
  }

  private blockDecl(node: C.BlockDeclCstNode): A.Block | undefined {
    const blockKind = this.ident(node.children.kind?.[0]);
    const name = this.ident(node.children.name?.[0]);
    if (!blockKind || !name) return undefined;
    const base = this.ident(node.children.base?.[0]);
    return {
      kind: 'Block',
      span: this.nodeSpan(node),
      blockKind,
      name,
      ...(base ? { base } : {}),
      body: this.body(node.children.body?.[0], node),
    };
  }

  body(node: C.BodyCstNode | undefined, parent: CstNode): A.Body {
    if (!node) return { kind: 'Body', span: this.nodeSpan(parent), members: [] };
    const members: A.Member[] = [];
    for (const m of node.children.member ?? []) {
      const member = this.member(m);
      if (member) members.push(member);
    }
    return { kind: 'Body', span: this.nodeSpan(node), members };
  }

  private member(node: C.MemberCstNode): A.Member | undefined {
    const c = node.children;
    const field = c.field?.[0];
    if (field) {
      const name = this.ident(field.children.Name?.[0]);
      if (!name) return undefined;
      return { kind: 'Field', span: this.nodeSpan(field), name, value: this.expression(field.children.expression?.[0], field) };
    }
    const nested = c.nested?.[0];
    if (nested) {
      const name = this.ident(nested.children.name?.[0]);
      if (!name) return undefined;
      const variant = this.ident(nested.children.variant?.[0]);
      return {
        kind: 'Nested',
        span: this.nodeSpan(nested),
        name,
        ...(variant ? { variant } : {}),
        body: this.body(nested.children.body?.[0], nested),
      };
    }
    const range = c.layerRange?.[0];
    if (range) {
      return {
        kind: 'LayerRange',
        span: this.nodeSpan(range),
        keyword: this.tokenSpan(range.children.Kw_layers[0]!),
        from: this.additive(range.children.from?.[0], range),
        to: this.additive(range.children.to?.[0], range),
        body: this.body(range.children.body?.[0], range),
      };
    }
    const weighted = c.weighted?.[0];
    if (weighted) {
      const name = this.ident(weighted.children.Name?.[0]);
      if (!name) return undefined;
      return {
        kind: 'Weighted',
        span: this.nodeSpan(weighted),
        name,
        weight: this.primary(weighted.children.weight?.[0], weighted),
        value: this.expression(weighted.children.expression?.[0], weighted),
      };
    }
    return undefined;
  }

  // ── expressions ─────────────────────────────────────────────────────────────────────────────
  expression(node: C.ExpressionCstNode | undefined, parent: CstNode): A.Expr {
    if (!node) return this.missing(parent);
    return this.additive(node.children.additive?.[0], node);
  }

  private additive(node: C.AdditiveCstNode | undefined, parent: CstNode): A.Expr {
    if (!node) return this.missing(parent);
    const operands = (node.children.operands ?? []).map((o) => this.multiplicative(o));
    return this.chain(operands, node.children.ops ?? [], node);
  }

  private multiplicative(node: C.MultiplicativeCstNode): A.Expr {
    const operands = (node.children.operands ?? []).map((o) => this.unary(o));
    return this.chain(operands, node.children.ops ?? [], node);
  }

  /** Left-associative chain `a op b op c`, operators and operands in source order. */
  private chain(operands: A.Expr[], ops: IToken[], node: CstNode): A.Expr {
    if (operands.length === 0) return this.missing(node);
    const sortedOps = [...ops].sort((a, b) => a.startOffset - b.startOffset);
    if (operands.length > MAX_CHAIN) {
      this.diagnostics.report('MOE1006', this.nodeSpan(node), { limit: MAX_CHAIN });
      return this.missing(node);
    }
    let result = operands[0]!;
    for (let i = 1; i < operands.length; i++) {
      const right = operands[i]!;
      const op = (sortedOps[i - 1]?.image ?? '+') as A.BinaryOp;
      result = { kind: 'Binary', span: this.join(result.span, right.span), op, left: result, right };
    }
    return result;
  }

  private unary(node: C.UnaryCstNode): A.Expr {
    const sign = node.children.sign?.[0];
    if (sign) {
      const operand = node.children.unary?.[0] ? this.unary(node.children.unary[0]) : this.missing(node);
      return { kind: 'Neg', span: this.join(this.tokenSpan(sign), operand.span), operand };
    }
    return this.primary(node.children.primary?.[0], node);
  }

  private primary(node: C.PrimaryCstNode | undefined, parent: CstNode): A.Expr {
    if (!node) return this.missing(parent);
    const c = node.children;
    if (c.quantity?.[0]) return this.quantity(c.quantity[0]);
    const str = usable(c.StringLiteral?.[0]);
    if (str) return this.string(str, false);
    const raw = usable(c.RawString?.[0]);
    if (raw) return this.string(raw, true);
    const t = usable(c.Kw_true?.[0]);
    if (t) return { kind: 'Bool', span: this.tokenSpan(t), value: true };
    const f = usable(c.Kw_false?.[0]);
    if (f) return { kind: 'Bool', span: this.tokenSpan(f), value: false };
    const n = usable(c.Kw_none?.[0]);
    if (n) return { kind: 'None', span: this.tokenSpan(n) };
    if (c.list?.[0]) return this.list(c.list[0]);
    if (c.body?.[0]) return { kind: 'Map', span: this.nodeSpan(c.body[0]), body: this.body(c.body[0], node) };
    if (c.nameExpr?.[0]) return this.nameExpr(c.nameExpr[0]);
    if (c.expression?.[0]) {
      const inner = this.expression(c.expression[0], node);
      return { kind: 'Paren', span: this.nodeSpan(node), inner };
    }
    return this.missing(node);
  }

  private quantity(node: C.QuantityCstNode): A.Expr {
    const token = usable(node.children.NumberLiteral?.[0]);
    if (!token) return this.missing(node);
    const unit = this.ident(node.children.Unit?.[0]);
    const { value, percent } = numberValue(token.image);
    return {
      kind: 'Number',
      span: this.nodeSpan(node),
      value,
      text: token.image,
      percent,
      ...(unit ? { unit } : {}),
    };
  }

  private nameExpr(node: C.NameExprCstNode): A.Expr {
    const head = this.ident(node.children.Name?.[0]);
    if (!head) return this.missing(node);
    const c = node.children;
    if (c.body?.[0]) {
      return { kind: 'Variant', span: this.nodeSpan(node), tag: head, body: this.body(c.body[0], node) };
    }
    if (c.LParen?.[0]) {
      const args = (c.args ?? []).map((a) => this.expression(a, node));
      return { kind: 'Call', span: this.nodeSpan(node), callee: head, args };
    }
    const path = [head, ...(c.path ?? []).map((t) => this.ident(t)).filter((i): i is A.Ident => i !== undefined)];
    return { kind: 'Ref', span: this.nodeSpan(node), path };
  }

  private list(node: C.ListCstNode): A.Expr {
    const items = (node.children.listItem ?? []).map((item): A.Expr => {
      const key = this.expression(item.children.key?.[0], item);
      const valueNode = item.children.value?.[0];
      if (!item.children.Arrow?.[0]) return key;
      const value = this.expression(valueNode, item);
      return { kind: 'Pair', span: this.nodeSpan(item), key, value };
    });
    return { kind: 'List', span: this.nodeSpan(node), items };
  }

  // ── leaves ──────────────────────────────────────────────────────────────────────────────────
  private string(token: IToken, raw: boolean): A.StringLit {
    const span = this.tokenSpan(token);
    // an unterminated string (MOE1003, already reported) runs to the end of its line
    const image = isClosed(token.image, raw) ? token.image : `${token.image}"`;
    if (raw) {
      const value = image.startsWith('r#') ? image.slice(3, -2) : image.slice(2, -1);
      return { kind: 'String', span, value, raw: true };
    }
    return { kind: 'String', span, value: this.unescape(image, span), raw: false };
  }

  private unescape(image: string, span: Span): string {
    try {
      return JSON.parse(image) as string;
    } catch {
      const bad = /\\(u(?![0-9a-fA-F]{4})|[^"\\/bfnrtu])/.exec(image);
      const at = bad ? span.start + bad.index : span.start;
      const escape = bad ? `\`${image.slice(bad.index, bad.index + 2)}\`` : 'sequence';
      this.diagnostics.report('MOE1004', { file: this.file, start: at, end: at + 2 }, { escape });
      return image.slice(1, -1);
    }
  }

  private ident(token: IToken | undefined): A.Ident | undefined {
    const t = usable(token);
    if (!t) return undefined;
    return { kind: 'Ident', span: this.tokenSpan(t), name: t.image };
  }

  private missing(node: CstNode): A.MissingExpr {
    return { kind: 'Missing', span: this.nodeSpan(node) };
  }

  private tokenSpan(token: IToken): Span {
    return this.span(token.startOffset, token.startOffset + token.image.length);
  }

  private nodeSpan(node: CstNode): Span {
    const loc = node.location;
    const start = loc?.startOffset;
    const end = loc?.endOffset;
    if (start === undefined || Number.isNaN(start)) return this.span(0, 0);
    if (end === undefined || Number.isNaN(end)) return this.span(start, start);
    return this.span(start, end + 1);
  }

  private join(a: Span, b: Span): Span {
    return this.span(Math.min(a.start, b.start), Math.max(a.end, b.end));
  }

  private span(start: number, end: number): Span {
    return { file: this.file, start, end };
  }
}

/** Whether a string token has its closing quote (`r"…"` cannot contain one; `r#"…"#` always closes). */
function isClosed(image: string, raw: boolean): boolean {
  if (raw) return image.startsWith('r#') || (image.length > 2 && image.endsWith('"'));
  return /^"(?:[^"\\]|\\.)*"$/.test(image);
}

/** A token the parser really read (not one it inserted while recovering). */
function usable(token: IToken | undefined): IToken | undefined {
  if (!token || token.isInsertedInRecovery || Number.isNaN(token.startOffset)) return undefined;
  return token;
}

export function numberValue(image: string): { value: number; percent: boolean } {
  let text = image.replace(/_/g, '');
  const percent = text.endsWith('%');
  if (percent) text = text.slice(0, -1);
  let multiplier = 1;
  const suffix = text[text.length - 1]!;
  if (suffix in MULTIPLIERS) {
    multiplier = MULTIPLIERS[suffix]!;
    text = text.slice(0, -1);
  }
  const value = Number(text) * multiplier;
  return { value: percent ? value / 100 : value, percent };
}
