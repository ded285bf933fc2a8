/** Source locations for IR nodes: file relative to the working folder, 1-based line and column. */
import { relative } from 'node:path';
import type { Program } from '../bind/program.js';
import type { SourceLoc } from '../../ir/types.js';
import type { Span } from '../syntax/source.js';

export type Locate = (span: Span) => SourceLoc;

export function locator(program: Program, cwd: string): Locate {
  return (span) => {
    const pos = program.sources.get(span.file)?.positionAt(span.start) ?? { line: 1, col: 1 };
    const rel = relative(cwd, span.file);
    return { file: rel.startsWith('..') ? span.file : rel, line: pos.line, col: pos.col };
  };
}
