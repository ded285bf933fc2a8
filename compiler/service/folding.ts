/** Folding ranges: every block, layer range, pipeline and list spanning lines, and multi-line comments. */
import type * as A from '../syntax/ast.js';
import type { Analysis } from './analysis.js';

export interface FoldingRange {
  /** 0-based lines */
  readonly startLine: number;
  readonly endLine: number;
  readonly comment: boolean;
}

export function foldingRanges(analysis: Analysis): FoldingRange[] {
  const out: FoldingRange[] = [];
  const lines = analysis.lines;
  const add = (start: number, end: number, comment = false): void => {
    const startLine = lines.positionAt(start).line;
    const endLine = lines.positionAt(Math.max(start, end - 1)).line;
    if (endLine > startLine) out.push({ startLine, endLine, comment });
  };
  const expr = (e: A.Expr): void => {
    if (e.kind === 'Map' || e.kind === 'Variant') body(e.body);
    else if (e.kind === 'List') {
      add(e.span.start, e.span.end);
      e.items.forEach(expr);
    }
  };
  const body = (b: A.Body): void => {
    add(b.span.start, b.span.end);
    for (const m of b.members) {
      if (m.kind === 'Nested' || m.kind === 'LayerRange') body(m.body);
      else expr(m.value);
    }
  };
  for (const item of analysis.parse.ast.items) {
    if (item.kind === 'Block') body(item.body);
    else if (item.kind === 'Pipeline') add(item.span.start, item.span.end);
    else if (item.kind === 'Const') expr(item.value);
  }
  for (const c of analysis.parse.comments) add(c.startOffset, (c.endOffset ?? c.startOffset) + 1, true);
  return out;
}
