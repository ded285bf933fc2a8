/**
 * Text → AST with every lexical and syntax error as a coded diagnostic. Never throws on any input.
 */
import type { IToken } from 'chevrotain';
import type { FileCstNode } from '../../grammar/cst.js';
import { decodeParseError } from '../../grammar/errors.js';
import { parser } from '../../grammar/parser.js';
import * as T from '../../grammar/tokens.js';
import { DiagnosticBag } from '../diagnostics/diagnostic.js';
import type { SpecFile } from './ast.js';
import { AstBuilder } from './build.js';
import type { Span } from './source.js';

/** Deepest nesting of braces, brackets and parentheses, and longest run of unary minus signs. */
export const MAX_NESTING = 64;
/** Largest spec file read (bytes of text). */
export const MAX_FILE_CHARS = 4 * 1024 * 1024;

export interface ParseResult {
  readonly ast: SpecFile;
  readonly tokens: readonly IToken[];
  readonly comments: readonly IToken[];
}

export function parseText(path: string, text: string, diagnostics: DiagnosticBag): ParseResult {
  const empty: SpecFile = { kind: 'File', span: { file: path, start: 0, end: text.length }, path, items: [], comments: [] };
  if (text.length > MAX_FILE_CHARS) {
    diagnostics.report('MOE1007', { file: path, start: 0, end: 1 }, {
      size: `${(text.length / 2 ** 20).toFixed(1)} MiB`,
      limit: '4 MiB',
    });
    return { ast: empty, tokens: [], comments: [] };
  }
  const lexed = T.lexer.tokenize(text);
  for (const error of lexed.errors) {
    const span: Span = { file: path, start: error.offset, end: error.offset + Math.max(1, error.length) };
    diagnostics.report('MOE1001', span, { char: describeChar(text, error.offset) });
  }
  for (const token of lexed.groups.errors ?? []) {
    const span: Span = { file: path, start: token.startOffset, end: token.startOffset + Math.min(token.image.length, 2) };
    if (token.tokenType === T.UnclosedComment) diagnostics.report('MOE1008', span, {}, { label: 'comment starts here' });
    else diagnostics.report('MOE1003', span, {}, { label: 'string starts here', help: 'close it with `"` on the same line' });
  }
  const comments = lexed.groups.comments ?? [];
  const tooDeep = findExcessiveNesting(lexed.tokens);
  if (tooDeep) {
    diagnostics.report('MOE1006', tokenSpan(path, tooDeep), { limit: MAX_NESTING });
    return { ast: empty, tokens: lexed.tokens, comments };
  }

  parser.input = lexed.tokens;
  const cst = parser.file() as FileCstNode;
  for (const error of parser.errors) {
    const { expected, found } = decodeParseError(error.message);
    const token = error.token;
    const span = Number.isNaN(token.startOffset) ? endOfFile(path, text) : tokenSpan(path, token);
    diagnostics.report('MOE1002', span, { expected, found });
  }
  const ast = new AstBuilder(path, diagnostics).file_(cst, text.length, comments);
  if (ast.items.length === 0 && diagnostics.errorCount === 0) {
    diagnostics.report('MOE1009', { file: path, start: 0, end: Math.min(1, text.length) }, {});
  }
  return { ast, tokens: lexed.tokens, comments };
}

function describeChar(text: string, offset: number): string {
  const code = text.codePointAt(offset) ?? 0;
  const char = String.fromCodePoint(code);
  if (code < 32 || code === 0x7f) return `U+${code.toString(16).toUpperCase().padStart(4, '0')}`;
  return `\`${char}\``;
}

function tokenSpan(path: string, token: IToken): Span {
  return { file: path, start: token.startOffset, end: token.startOffset + Math.max(1, token.image.length) };
}

function endOfFile(path: string, text: string): Span {
  const end = text.length;
  return { file: path, start: Math.max(0, end - 1), end };
}

function findExcessiveNesting(tokens: readonly IToken[]): IToken | undefined {
  let depth = 0;
  let minusRun = 0;
  for (const token of tokens) {
    const type = token.tokenType;
    if (type === T.LBrace || type === T.LBracket || type === T.LParen) depth++;
    else if (type === T.RBrace || type === T.RBracket || type === T.RParen) depth = Math.max(0, depth - 1);
    minusRun = type === T.Minus ? minusRun + 1 : 0;
    if (depth > MAX_NESTING || minusRun > MAX_NESTING) return token;
  }
  return undefined;
}
