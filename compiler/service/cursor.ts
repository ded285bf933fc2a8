/**
 * Where the cursor is, read from tokens rather than from the tree: while a user types, the text is
 * usually broken, and the parser's recovery may drop exactly the member being written. Tokens are
 * always there, so the enclosing blocks (`model X {`, `attention mla {`, `layers 3..60 {`,
 * `balance = bias {`, `accuracy 0.6 = answer {`) are read from the header in front of each open
 * brace, and the member being written from the tokens since the last separator.
 */
import { tokenMatcher, type IToken, type TokenType } from 'chevrotain';
import * as T from '../../grammar/tokens.js';

export type Frame =
  | { readonly kind: 'block'; readonly blockKind: string; readonly name: string; readonly open: number }
  | { readonly kind: 'pipeline'; readonly name: string; readonly open: number }
  | { readonly kind: 'field'; readonly field: string; readonly variant?: string; readonly open: number }
  | { readonly kind: 'layers'; readonly open: number }
  | { readonly kind: 'rule'; readonly name: string; readonly rule: string; readonly open: number }
  /** `[` or `(`: `header` is the member the list or call belongs to */
  | { readonly kind: 'list'; readonly header: readonly IToken[]; readonly open: number }
  | { readonly kind: 'unknown'; readonly open: number };

export interface CursorContext {
  /** enclosing frames, outermost first */
  readonly frames: readonly Frame[];
  /** tokens of the member being written, before the cursor (without `word`) */
  readonly statement: readonly IToken[];
  /** the name the cursor is in or just after: what a completion replaces */
  readonly word?: IToken;
  /** inside a comment or a string, where nothing is completed */
  readonly inTrivia: boolean;
  /** member names the innermost block already has (before and after the cursor) */
  readonly siblings: ReadonlySet<string>;
}

/** Tokens after which a line break does not end the member (`x =` ⏎ `4`). */
const CONTINUES: readonly TokenType[] = [T.Equals, T.Plus, T.Minus, T.Star, T.Slash, T.Modulo, T.Arrow, T.DotDot, T.Dot, T.Comma, T.Extends];

export function isName(token: IToken | undefined): token is IToken {
  return token !== undefined && tokenMatcher(token, T.Name);
}

export function is(token: IToken | undefined, type: TokenType): token is IToken {
  return token !== undefined && token.tokenType === type;
}

function end(token: IToken): number {
  return (token.endOffset ?? token.startOffset) + 1;
}

export function cursorAt(text: string, tokens: readonly IToken[], comments: readonly IToken[], offset: number): CursorContext {
  const inTrivia = comments.some((c) => insideComment(c, offset)) || tokens.some((t) => insideString(t, offset));
  const word = tokens.find((t) => isName(t) && t.startOffset < offset && offset <= end(t));
  const before = tokens.filter((t) => end(t) <= offset && t !== word);
  const stack: { frame: Frame; saved: IToken[]; index: number }[] = [];
  let statement: IToken[] = [];
  let previous: IToken | undefined;
  before.forEach((token, index) => {
    const inList = stack[stack.length - 1]?.frame.kind === 'list';
    if (previous && !inList && lineBreakBetween(text, end(previous), token.startOffset) && !CONTINUES.includes(previous.tokenType)) statement = [];
    previous = token;
    const type = token.tokenType;
    if (type === T.LBrace) {
      stack.push({ frame: classify(statement, stack.map((s) => s.frame), token.startOffset), saved: statement, index });
      statement = [];
    } else if (type === T.LBracket || type === T.LParen) {
      stack.push({ frame: { kind: 'list', header: statement, open: token.startOffset }, saved: statement, index });
      statement = [];
    } else if (type === T.RBrace || type === T.RBracket || type === T.RParen) {
      const closed = stack.pop();
      // after a list the member goes on (`decay = [...]`); after a block it has ended
      statement = type === T.RBrace || !closed ? [] : [...closed.saved, token];
    } else if (type === T.Comma) {
      statement = [];
    } else {
      statement.push(token);
    }
  });
  if (previous && !CONTINUES.includes(previous.tokenType) && lineBreakBetween(text, end(previous), word?.startOffset ?? offset)) statement = [];
  const innermost = stack[stack.length - 1];
  const siblings = innermost ? memberNames(tokens, tokens.indexOf(before[innermost.index]!), word) : new Set<string>();
  return { frames: stack.map((s) => s.frame), statement, ...(word ? { word } : {}), inTrivia, siblings };
}

/** What the tokens in front of a `{` say the block is. */
function classify(header: readonly IToken[], outer: readonly Frame[], open: number): Frame {
  const [a, b, c, d] = header;
  if (outer.length === 0) {
    if (is(a, T.Pipeline) && isName(b) && header.length === 2) return { kind: 'pipeline', name: b.image, open };
    if (isName(a) && isName(b) && (header.length === 2 || (header.length === 4 && is(c, T.Extends) && isName(d)))) {
      return { kind: 'block', blockKind: a.image, name: b.image, open };
    }
    return { kind: 'unknown', open };
  }
  if (outer[outer.length - 1]!.kind === 'list') return { kind: 'unknown', open };
  if (is(a, T.Layers) && header.some((t) => is(t, T.DotDot))) return { kind: 'layers', open };
  if (!isName(a)) return { kind: 'unknown', open };
  if (header.length === 1) return { kind: 'field', field: a.image, open };
  if (header.length === 2 && isName(b)) return { kind: 'field', field: a.image, variant: b.image, open };
  if (header.length === 2 && is(b, T.Equals)) return { kind: 'field', field: a.image, open };
  if (header.length === 3 && is(b, T.Equals) && isName(c)) return { kind: 'field', field: a.image, variant: c.image, open };
  const last = header[header.length - 1];
  if (header.length >= 4 && is(header[header.length - 2], T.Equals) && isName(last) && !is(b, T.Equals)) {
    return { kind: 'rule', name: a.image, rule: last.image, open };
  }
  return { kind: 'unknown', open };
}

/**
 * Names that head a member directly inside the block opened at `tokens[open]`: `name =`,
 * `name {` and `name variant {` (but not the `bias` of `balance = bias {`, nor the word being typed).
 */
function memberNames(tokens: readonly IToken[], open: number, word: IToken | undefined): Set<string> {
  const names = new Set<string>();
  let depth = 0;
  for (let i = open + 1; i < tokens.length; i++) {
    const t = tokens[i]!;
    const type = t.tokenType;
    if (type === T.LBrace || type === T.LBracket || type === T.LParen) depth++;
    else if (type === T.RBrace || type === T.RBracket || type === T.RParen) {
      if (depth === 0) break;
      depth--;
    } else if (depth === 0 && t !== word && isName(t) && !is(tokens[i - 1], T.Equals)) {
      const next = tokens[i + 1];
      if (is(next, T.Equals) || is(next, T.LBrace) || (isName(next) && is(tokens[i + 2], T.LBrace))) names.add(t.image);
    }
  }
  return names;
}

function lineBreakBetween(text: string, from: number, to: number): boolean {
  const i = text.indexOf('\n', from);
  return i >= 0 && i < to;
}

function insideComment(comment: IToken, offset: number): boolean {
  if (offset <= comment.startOffset) return false;
  // a line comment runs to the end of its line, so the cursor just after it is still inside
  return comment.image.startsWith('//') ? offset <= end(comment) : offset < end(comment);
}

function insideString(token: IToken, offset: number): boolean {
  if (token.tokenType !== T.StringLiteral && token.tokenType !== T.RawString) return false;
  if (offset <= token.startOffset) return false;
  return closedString(token.image) ? offset < end(token) : offset <= end(token);
}

function closedString(image: string): boolean {
  if (image.startsWith('r#"')) return image.length >= 5 && image.endsWith('"#');
  if (image.startsWith('r"')) return image.length >= 3 && image.endsWith('"');
  return /^"(?:[^"\\\n\r]|\\.)*"$/.test(image);
}
