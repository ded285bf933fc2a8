/**
 * A block left open (`grpo g { …` with its `}` missing) makes the parser fail only where the text
 * can no longer belong to it, often at the end of the file, far from the mistake. Indentation says
 * where the block was meant to end; this finds the open `{` and that place, so the error points at
 * the block and the parser's later consequences can be left out.
 */
import type { IToken } from 'chevrotain';
import * as T from '../../grammar/tokens.js';

export interface UnclosedBlock {
  /** the `{` that is never closed */
  readonly open: IToken;
  /** the first token on the first line that is indented no deeper than the block's opening line; none at the end of the file */
  readonly closeBefore: IToken | undefined;
}

function lineStartOf(text: string, offset: number): number {
  return text.lastIndexOf('\n', offset - 1) + 1;
}

/** Leading spaces and tabs of the line holding `offset`. */
function indentOf(text: string, offset: number): number {
  const start = lineStartOf(text, offset);
  let end = start;
  while (text[end] === ' ' || text[end] === '\t') end++;
  return end - start;
}

function firstOnLine(text: string, token: IToken): boolean {
  return text.slice(lineStartOf(text, token.startOffset), token.startOffset).trim() === '';
}

/** The first token after `open` that starts a line indented no deeper than `open`'s line. */
function dedentAfter(text: string, tokens: readonly IToken[], open: IToken): IToken | undefined {
  const indent = indentOf(text, open.startOffset);
  return tokens.find((t) => t.startOffset > open.startOffset && (t.startLine ?? 0) > (open.startLine ?? 0) && firstOnLine(text, t) && indentOf(text, t.startOffset) <= indent);
}

/**
 * The block that is left open when the file has more `{` than `}`: the first whose matching `}` (by
 * nesting) starts a line shallower than the block's opening line, the `}` having been meant for an
 * enclosing block; failing that, the innermost block still open at the end of the file.
 */
export function findUnclosedBlock(text: string, tokens: readonly IToken[]): UnclosedBlock | undefined {
  const stack: IToken[] = [];
  let mismatched: IToken | undefined;
  for (const token of tokens) {
    if (token.tokenType === T.LBrace) stack.push(token);
    else if (token.tokenType === T.RBrace) {
      const open = stack.pop();
      if (open && !mismatched && firstOnLine(text, token) && indentOf(text, token.startOffset) < indentOf(text, open.startOffset)) mismatched = open;
    }
  }
  if (stack.length === 0) return undefined;
  const open = mismatched ?? stack[stack.length - 1]!;
  return { open, closeBefore: dedentAfter(text, tokens, open) };
}
