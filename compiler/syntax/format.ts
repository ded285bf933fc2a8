/**
 * `moe fmt`: prints a parsed spec in its one canonical layout. The printer works from the AST, not
 * from tokens, so layout is decided in one place; literal text (numbers, strings, units) is taken
 * from the source so formatting never changes a value. Comments are not in the AST: each one is
 * placed by position relative to the items and members around it (see `place`).
 */
import type { IToken } from 'chevrotain';
import { DiagnosticBag } from '../diagnostics/diagnostic.js';
import type * as A from './ast.js';
import { parseText, type ParseResult } from './parse.js';
import type { Span } from './source.js';

export type FormatResult = { readonly text: string; readonly changed: boolean } | { readonly error: 'syntax' };

/** Widest line a body written on one line may keep when it stays on one line. */
export const MAX_WIDTH = 100;
const INDENT = '  ';

/** The original text and its line index: everything the printer reads besides the AST. */
interface Source {
  readonly text: string;
  /** offset of the first character of each line */
  readonly lineStarts: readonly number[];
}

interface Comment {
  readonly start: number;
  readonly end: number;
  /** the comment as printed: trailing whitespace removed from each of its lines */
  readonly text: string;
}

/**
 * Formats one file. A file with any syntax error is never touched: recovery may have dropped or
 * invented parts of it, and printing that tree would silently rewrite the user's text.
 */
export function formatText(path: string, text: string): FormatResult {
  const parsed = parseWithoutErrors(path, text);
  if (!parsed) return { error: 'syntax' };
  const comments = parsed.comments.map(toComment);
  const formatted = printFile(sourceOf(text), parsed.ast, comments);
  // A last guard for "formatting never changes meaning": should the printer ever get a construct
  // wrong, the file is left as written rather than rewritten into something else.
  if (!preservesMeaning(path, parsed, formatted)) return { text, changed: false };
  return { text: formatted, changed: formatted !== text };
}

function parseWithoutErrors(path: string, text: string): ParseResult | undefined {
  const diagnostics = new DiagnosticBag();
  const parsed = parseText(path, text, diagnostics);
  return diagnostics.errorCount === 0 ? parsed : undefined;
}

function preservesMeaning(path: string, original: ParseResult, formatted: string): boolean {
  const reparsed = parseWithoutErrors(path, formatted);
  if (!reparsed) return false;
  const before = original.comments.map((c) => toComment(c).text);
  const after = reparsed.comments.map((c) => toComment(c).text);
  return sameTree(original.ast, reparsed.ast) && sameTree(before, after);
}

/** Keys that carry positions only; two trees that differ only there mean the same. */
const POSITION_KEYS = new Set(['span', 'keyword', 'comments']);

/** Structural equality of two ASTs, ignoring spans. */
function sameTree(a: unknown, b: unknown): boolean {
  if (Object.is(a, b)) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  const left = a as Record<string, unknown>;
  const right = b as Record<string, unknown>;
  const keys = Object.keys(left).filter((k) => !POSITION_KEYS.has(k));
  const otherKeys = Object.keys(right).filter((k) => !POSITION_KEYS.has(k));
  return keys.length === otherKeys.length && keys.every((k) => k in right && sameTree(left[k], right[k]));
}

// ── source positions ─────────────────────────────────────────────────────────────────────────────
function sourceOf(text: string): Source {
  const lineStarts = [0];
  for (let i = 0; i < text.length; i++) if (text.charCodeAt(i) === 10) lineStarts.push(i + 1);
  return { text, lineStarts };
}

/** 0-based line of an offset. */
function lineOf(src: Source, offset: number): number {
  let lo = 0;
  let hi = src.lineStarts.length - 1;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if (src.lineStarts[mid]! <= offset) lo = mid;
    else hi = mid - 1;
  }
  return lo;
}

/** Line of the last character of a range (its end is exclusive). */
function endLineOf(src: Source, end: number): number {
  return lineOf(src, Math.max(0, end - 1));
}

/** Whether the source has an empty line between two offsets (two line breaks, only blanks between). */
function hasBlankLine(src: Source, from: number, to: number): boolean {
  if (to <= from) return false;
  return (src.text.slice(from, to).match(/\n/g)?.length ?? 0) >= 2;
}

function toComment(token: IToken): Comment {
  const text = token.image
    .split('\n')
    .map((line) => line.trimEnd())
    .join('\n');
  return { start: token.startOffset, end: token.startOffset + token.image.length, text };
}

function within(comment: Comment, span: Span): boolean {
  return comment.start >= span.start && comment.end <= span.end;
}

// ── comment placement ────────────────────────────────────────────────────────────────────────────
/** Where the comments of one container (the file or one body) go relative to its children. */
interface Placement {
  /** on the line of the opening `{`, before the first child: printed after `{` */
  readonly open: Comment[];
  /** per child: on their own lines before it */
  readonly leading: Comment[][];
  /** per child: inside its span, for the child to place */
  readonly inside: Comment[][];
  /** per child: after it on its last line */
  readonly trailing: Comment[][];
  /** after the last child: at the end of the container */
  readonly dangling: Comment[];
}

/**
 * Assigns every comment of a container exactly once. A comment that starts on the line where the
 * previous child (or its last trailing comment, or the opening `{`) ends trails it; any other
 * comment between children leads the next child, or dangles at the end when no child follows.
 */
function place(src: Source, children: readonly Span[], comments: readonly Comment[], openLine: number): Placement {
  const placement: Placement = {
    open: [],
    leading: children.map(() => []),
    inside: children.map(() => []),
    trailing: children.map(() => []),
    dangling: [],
  };
  let next = 0;
  let trailLine = openLine;
  for (const comment of comments) {
    while (next < children.length && children[next]!.end <= comment.start) {
      trailLine = endLineOf(src, children[next]!.end);
      next++;
    }
    const child = children[next];
    if (child && comment.start >= child.start) {
      placement.inside[next]!.push(comment);
    } else if (lineOf(src, comment.start) === trailLine) {
      (next === 0 ? placement.open : placement.trailing[next - 1]!).push(comment);
      trailLine = endLineOf(src, comment.end);
    } else if (child) {
      placement.leading[next]!.push(comment);
    } else {
      placement.dangling.push(comment);
    }
  }
  return placement;
}

// ── containers: the file and multi-line bodies ──────────────────────────────────────────────────
/** A line of output, or several when it holds a multi-line comment or raw string. */
type Lines = string[];

interface Element {
  readonly start: number;
  readonly end: number;
  readonly lines: Lines;
}

/**
 * Lays out the children of a container one per line, with their comments. A blank line is kept
 * where the source had one (runs collapse to one); `forceBlank(i)` asks for one before child `i`
 * regardless, which is how top-level items become paragraphs.
 */
function printChildren(
  src: Source,
  indent: number,
  children: readonly Span[],
  placement: Placement,
  startOffset: number,
  printChild: (index: number, inside: Comment[]) => Lines,
  forceBlank: (index: number) => boolean,
): Lines {
  const out: Lines = [];
  let previousEnd = startOffset;
  const emit = (element: Element, blank: boolean): void => {
    if (out.length > 0 && blank) out.push('');
    out.push(...element.lines);
    previousEnd = element.end;
  };
  children.forEach((span, i) => {
    const leading = placement.leading[i]!.map((c) => commentElement(c, indent));
    const trailing = placement.trailing[i]!;
    const lines = appendTrailing(printChild(i, placement.inside[i]!), trailing);
    const end = trailing.length > 0 ? trailing[trailing.length - 1]!.end : span.end;
    [...leading, { start: span.start, end, lines }].forEach((element, k) => {
      emit(element, (k === 0 && forceBlank(i)) || hasBlankLine(src, previousEnd, element.start));
    });
  });
  for (const comment of placement.dangling) {
    emit(commentElement(comment, indent), hasBlankLine(src, previousEnd, comment.start));
  }
  return out;
}

function commentElement(comment: Comment, indent: number): Element {
  return { start: comment.start, end: comment.end, lines: [pad(indent) + comment.text] };
}

function appendTrailing(lines: Lines, trailing: readonly Comment[]): Lines {
  if (trailing.length === 0 || lines.length === 0) return lines;
  const last = lines.length - 1;
  return [...lines.slice(0, last), [lines[last]!, ...trailing.map((c) => c.text)].join(' ')];
}

function pad(indent: number): string {
  return INDENT.repeat(indent);
}

function printFile(src: Source, file: A.SpecFile, comments: readonly Comment[]): string {
  const spans = file.items.map((item) => item.span);
  const placement = place(src, spans, comments, -1);
  const lines = printChildren(
    src,
    0,
    spans,
    placement,
    0,
    (i, inside) => printShaped(src, itemShape(src, file.items[i]!), 0, inside),
    (i) => i > 0 && !groupsWith(file.items[i - 1]!, file.items[i]!),
  );
  return lines.length === 0 ? '' : `${lines.join('\n')}\n`;
}

/** Consecutive imports, and consecutive consts, may sit on consecutive lines. */
function groupsWith(previous: A.TopItem, item: A.TopItem): boolean {
  return previous.kind === item.kind && (item.kind === 'Import' || item.kind === 'Const');
}

// ── items and members ────────────────────────────────────────────────────────────────────────────
/**
 * An item or member as a one-line head and an optional body printed after it: `model X `,
 * `norm rmsnorm `, `balance = bias ` each end in a body that may span lines; anything else is all
 * head.
 */
interface Shape {
  readonly head: string;
  readonly tail?: A.Body;
}

function itemShape(src: Source, item: A.TopItem): Shape {
  switch (item.kind) {
    case 'Import':
      return { head: `import ${printExpr(src, item.path)}` };
    case 'Const':
      return valueShape(src, `const ${item.name.name} = `, item.value);
    case 'Pipeline':
      return { head: `pipeline ${item.name.name} ${printChains(item.chains)}` };
    case 'Block': {
      const base = item.base ? ` extends ${item.base.name}` : '';
      return { head: `${item.blockKind.name} ${item.name.name}${base} `, tail: item.body };
    }
  }
}

function printChains(chains: readonly (readonly A.Ident[])[]): string {
  if (chains.length === 0) return '{}';
  return `{ ${chains.map((chain) => chain.map((step) => step.name).join(' -> ')).join(', ')} }`;
}

function memberShape(src: Source, member: A.Member): Shape {
  switch (member.kind) {
    case 'Field':
      return valueShape(src, `${member.name.name} = `, member.value);
    case 'Nested': {
      const variant = member.variant ? ` ${member.variant.name}` : '';
      return { head: `${member.name.name}${variant} `, tail: member.body };
    }
    case 'LayerRange':
      return { head: `layers ${printExpr(src, member.from)}..${printExpr(src, member.to)} `, tail: member.body };
    case 'Weighted':
      return valueShape(src, `${member.name.name} ${printExpr(src, member.weight)} = `, member.value);
  }
}

/** `name = value`: a map or variant value ends in a body that lays out like a nested block's. */
function valueShape(src: Source, prefix: string, value: A.Expr): Shape {
  if (value.kind === 'Map') return { head: prefix, tail: value.body };
  if (value.kind === 'Variant') return { head: `${prefix}${value.tag.name} `, tail: value.body };
  return { head: prefix + printExpr(src, value) };
}

/**
 * Prints an item or member at `indent`. Its comments inside the tail body are placed by the body;
 * any other comment inside it (in the head or within an expression, which prints on one line) is
 * hoisted onto its own line just before it, so no comment is lost or split from its neighbours.
 */
function printShaped(src: Source, shape: Shape, indent: number, inside: readonly Comment[]): Lines {
  const tail = shape.tail;
  const inBody = tail ? inside.filter((c) => within(c, tail.span)) : [];
  const hoisted = inside.filter((c) => !inBody.includes(c)).map((c) => pad(indent) + c.text);
  const head = pad(indent) + shape.head;
  if (!tail) return [...hoisted, head];
  const body = printTailBody(src, tail, indent, lastLineWidth(head), inBody);
  return [...hoisted, head + body[0]!, ...body.slice(1)];
}

function lastLineWidth(text: string): number {
  return text.length - (text.lastIndexOf('\n') + 1);
}

// ── bodies ───────────────────────────────────────────────────────────────────────────────────────
/**
 * A body that ends an item or member: `{}` when empty, one line when it was written on one line,
 * holds only simple fields and fits; otherwise one member per line. The first returned line is
 * appended to the head at `column`.
 */
function printTailBody(src: Source, body: A.Body, indent: number, column: number, comments: readonly Comment[]): Lines {
  if (comments.length === 0) {
    if (body.members.length === 0) return ['{}'];
    if (mayStayOnOneLine(src, body)) {
      const flat = printInlineBody(src, body);
      if (column + flat.length <= MAX_WIDTH) return [flat];
    }
  }
  return printBlockBody(src, body, indent, comments);
}

function mayStayOnOneLine(src: Source, body: A.Body): boolean {
  const written = src.text.slice(body.span.start, body.span.end);
  return !written.includes('\n') && body.members.every((m) => m.kind === 'Field' && !containsBody(m.value));
}

function containsBody(expr: A.Expr): boolean {
  switch (expr.kind) {
    case 'Map':
    case 'Variant':
      return true;
    case 'List':
      return expr.items.some(containsBody);
    case 'Pair':
      return containsBody(expr.key) || containsBody(expr.value);
    case 'Call':
      return expr.args.some(containsBody);
    case 'Binary':
      return containsBody(expr.left) || containsBody(expr.right);
    case 'Neg':
      return containsBody(expr.operand);
    case 'Paren':
      return containsBody(expr.inner);
    default:
      return false;
  }
}

function printBlockBody(src: Source, body: A.Body, indent: number, comments: readonly Comment[]): Lines {
  const spans = body.members.map((m) => m.span);
  const placement = place(src, spans, comments, lineOf(src, body.span.start));
  const open = ['{', ...placement.open.map((c) => c.text)].join(' ');
  const lastOpen = placement.open[placement.open.length - 1];
  const members = printChildren(
    src,
    indent + 1,
    spans,
    placement,
    lastOpen ? lastOpen.end : body.span.start + 1,
    (i, inside) => printShaped(src, memberShape(src, body.members[i]!), indent + 1, inside),
    () => false,
  );
  return [open, ...members, `${pad(indent)}}`];
}

/** A body on one line, members separated by commas (so a number never takes the next name as unit). */
function printInlineBody(src: Source, body: A.Body): string {
  if (body.members.length === 0) return '{}';
  return `{ ${body.members.map((m) => printInlineMember(src, m)).join(', ')} }`;
}

function printInlineMember(src: Source, member: A.Member): string {
  const shape = memberShape(src, member);
  return shape.tail ? shape.head + printInlineBody(src, shape.tail) : shape.head;
}

// ── expressions ──────────────────────────────────────────────────────────────────────────────────
/** An expression on one line; bodies inside it print inline. */
function printExpr(src: Source, expr: A.Expr): string {
  switch (expr.kind) {
    case 'Number':
      return printNumber(src, expr);
    case 'String':
      // escapes and raw-string delimiters exactly as written
      return src.text.slice(expr.span.start, expr.span.end);
    case 'Bool':
      return expr.value ? 'true' : 'false';
    case 'None':
      return 'none';
    case 'List':
      return `[${expr.items.map((item) => printExpr(src, item)).join(', ')}]`;
    case 'Pair':
      return `${printExpr(src, expr.key)} -> ${printExpr(src, expr.value)}`;
    case 'Map':
      return printInlineBody(src, expr.body);
    case 'Variant':
      return `${expr.tag.name} ${printInlineBody(src, expr.body)}`;
    case 'Ref':
      return expr.path.map((part) => part.name).join('.');
    case 'Call':
      return `${expr.callee.name}(${expr.args.map((arg) => printExpr(src, arg)).join(', ')})`;
    case 'Binary':
      return `${printExpr(src, expr.left)} ${expr.op} ${printExpr(src, expr.right)}`;
    case 'Neg':
      return `-${printExpr(src, expr.operand)}`;
    case 'Paren':
      return `(${printExpr(src, expr.inner)})`;
    case 'Missing':
      return '';
  }
}

/** The literal as written; a unit keeps being attached (`80GiB`) or one space apart (`2000 steps`). */
function printNumber(src: Source, number: A.NumberLit): string {
  if (!number.unit) return number.text;
  const gap = src.text.slice(number.span.start + number.text.length, number.unit.span.start);
  return `${number.text}${gap === '' ? '' : ' '}${number.unit.name}`;
}
