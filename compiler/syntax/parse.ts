/**
 * Text → AST with every lexical and syntax error as a coded diagnostic. Never throws on any input.
 */
import { createTokenInstance, type ILexingResult, type IRecognitionException, type IToken } from 'chevrotain';
import type { FileCstNode } from '../../grammar/cst.js';
import { decodeParseError } from '../../grammar/errors.js';
import { parser } from '../../grammar/parser.js';
import * as T from '../../grammar/tokens.js';
import { DiagnosticBag } from '../diagnostics/diagnostic.js';
import type { SpecFile } from './ast.js';
import { AstBuilder } from './build.js';
import type { Span } from './source.js';
import { findUnclosedBlock } from './unclosed.js';

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
  const { tokens, badLines } = readLexErrors(path, text, lexed, diagnostics);
  const comments = lexed.groups.comments ?? [];
  const tooDeep = findExcessiveNesting(tokens);
  if (tooDeep) {
    diagnostics.report('MOE1006', tokenSpan(path, tooDeep), { limit: MAX_NESTING });
    return { ast: empty, tokens, comments };
  }

  parser.input = tokens;
  const cst = parser.file() as FileCstNode;
  const parseErrors = parser.errors;
  // an unclosed block is reported at its `{`; what the parser tripped over after it is its consequence
  const cutoff = parseErrors.length > 0 ? reportUnclosedBlock(path, text, tokens, diagnostics) : undefined;
  reportParseErrors(path, text, parseErrors, badLines, diagnostics, cutoff);
  const ast = new AstBuilder(path, diagnostics).file_(cst, text.length, comments);
  if (ast.items.length === 0 && diagnostics.errorCount === 0) {
    diagnostics.report('MOE1009', { file: path, start: 0, end: Math.min(1, text.length) }, {});
  }
  return { ast, tokens, comments };
}

/** What a character that starts no token was probably meant to be. */
const CHARACTER_HELP: Readonly<Record<string, string>> = {
  '#': 'comments start with `//`',
  ';': 'fields end at a line break or a comma',
  '\u201c': 'strings use straight double quotes `"`',
  '\u201d': 'strings use straight double quotes `"`',
};

/**
 * Reports the lexer's errors and returns the tokens to parse, repaired so that one mistake makes one
 * error: a `#` comment (a habit from YAML, TOML and Python) hides the rest of its line, and an
 * unterminated string is still read as a string, to the end of its line. `badLines` are the lines
 * with an unexpected character, where a further unexpected character or a parse error is its
 * consequence rather than a second cause.
 */
function readLexErrors(path: string, text: string, lexed: ILexingResult, diagnostics: DiagnosticBag): { tokens: IToken[]; badLines: Set<number> } {
  const hashComments = lexed.errors.filter((e) => text[e.offset] === '#').map((e) => ({ start: e.offset, end: lineEnd(text, e.offset) }));
  const commentedOut = (offset: number): boolean => hashComments.some((c) => offset > c.start && offset < c.end);
  const badLines = new Set<number>();
  for (const error of lexed.errors) {
    if (commentedOut(error.offset) || badLines.has(error.line ?? 0)) continue;
    const span: Span = { file: path, start: error.offset, end: error.offset + Math.max(1, error.length) };
    const help = CHARACTER_HELP[text[error.offset]!];
    diagnostics.report('MOE1001', span, { char: describeChar(text, error.offset) }, help ? { help } : {});
    if (text[error.offset] !== '#') badLines.add(error.line ?? 0);
  }
  const strings: IToken[] = [];
  for (const token of lexed.groups.errors ?? []) {
    if (commentedOut(token.startOffset)) continue;
    const span: Span = { file: path, start: token.startOffset, end: token.startOffset + Math.min(token.image.length, 2) };
    if (token.tokenType === T.UnclosedComment) {
      diagnostics.report('MOE1008', span, {}, { label: 'comment starts here' });
    } else {
      diagnostics.report('MOE1003', span, {}, { label: 'string starts here', help: 'close it with `"` on the same line' });
      strings.push(asString(token));
    }
  }
  const tokens = [...lexed.tokens.filter((t) => !commentedOut(t.startOffset)), ...strings].sort((a, b) => a.startOffset - b.startOffset);
  return { tokens, badLines };
}

/**
 * One error per token (recovery can fail several rules at the same one), none on `badLines`. What is
 * missing at the end of a line is pointed at there, not at the next line's token.
 */
function reportParseErrors(path: string, text: string, errors: readonly IRecognitionException[], badLines: ReadonlySet<number>, diagnostics: DiagnosticBag, cutoff?: number): void {
  const reportedAt = new Set<number>();
  for (const error of errors) {
    const { expected, found } = decodeParseError(error.message);
    const token = error.token;
    const atEnd = Number.isNaN(token.startOffset);
    if (cutoff !== undefined && (atEnd || token.startOffset >= cutoff)) continue;
    if (!atEnd && badLines.has(token.startLine ?? 0)) continue;
    const previous = 'previousToken' in error ? (error.previousToken as IToken | undefined) : undefined;
    const lineBreakBefore = previous !== undefined && (atEnd || (token.startLine ?? 0) > (previous.endLine ?? 0));
    const span = lineBreakBefore ? afterToken(path, text, previous) : atEnd ? endOfFile(path, text) : tokenSpan(path, token);
    if (reportedAt.has(span.start)) continue;
    reportedAt.add(span.start);
    // chevrotain names the end of input `EOF`
    diagnostics.report('MOE1002', span, { expected: expected === 'EOF' ? 'end of file' : expected, found });
  }
}

/**
 * Reports a block whose `}` is missing at its `{`, with the line where indentation says it should
 * have closed; returns the offset from which parse errors are its consequences (that line, or the
 * end of the file; undefined when every block is closed).
 */
function reportUnclosedBlock(path: string, text: string, tokens: readonly IToken[], diagnostics: DiagnosticBag): number | undefined {
  const unclosed = findUnclosedBlock(text, tokens);
  if (!unclosed) return undefined;
  const { open, closeBefore } = unclosed;
  const opened = `line ${open.startLine ?? 0}`;
  const where = closeBefore ? `before line ${closeBefore.startLine ?? 0}` : 'at the end of the file';
  diagnostics.report('MOE1002', tokenSpan(path, open), { expected: `\`}\` to close the block opened on ${opened}`, found: closeBefore ? `\`${closeBefore.image}\`` : 'end of file' }, {
    label: 'this block is never closed',
    related: closeBefore ? [{ span: tokenSpan(path, closeBefore), message: 'indentation says the block ends before this' }] : [],
    help: `add \`}\` ${where}`,
  });
  return closeBefore?.startOffset ?? text.length;
}

function describeChar(text: string, offset: number): string {
  const code = text.codePointAt(offset) ?? 0;
  const char = String.fromCodePoint(code);
  if (code < 32 || code === 0x7f) return `U+${code.toString(16).toUpperCase().padStart(4, '0')}`;
  return `\`${char}\``;
}

/** Offset of the end of the line holding `offset` (its line break, or the end of the text). */
function lineEnd(text: string, offset: number): number {
  const end = text.indexOf('\n', offset);
  return end < 0 ? text.length : end;
}

/** The token of an unterminated string, retyped as the string it was meant to be. */
function asString(token: IToken): IToken {
  const type = token.image.startsWith('r') ? T.RawString : T.StringLiteral;
  const { startOffset, endOffset, startLine, endLine, startColumn, endColumn } = token;
  return createTokenInstance(type, token.image, startOffset, endOffset ?? startOffset, startLine ?? 1, endLine ?? 1, startColumn ?? 1, endColumn ?? 1);
}

function tokenSpan(path: string, token: IToken): Span {
  return { file: path, start: token.startOffset, end: token.startOffset + Math.max(1, token.image.length) };
}

/** The character just after a token (the end of the file when there is none). */
function afterToken(path: string, text: string, token: IToken): Span {
  const start = (token.endOffset ?? token.startOffset) + 1;
  return start < text.length && !Number.isNaN(start) ? { file: path, start, end: start + 1 } : endOfFile(path, text);
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
