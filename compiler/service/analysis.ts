/**
 * One check of one document: the compiler's result plus what the editor features read next to it
 * (the document's tokens and line index). Every feature is a pure function of an `Analysis`.
 */
import { resolve } from 'node:path';
import type { CompilerHost } from '../bind/program.js';
import { checkFile, type CheckResult } from '../check/index.js';
import type { SpecFile } from '../syntax/ast.js';
import type { ParseResult } from '../syntax/parse.js';
import type { SourceFile, Span } from '../syntax/source.js';
import { overlayHost } from './host.js';
import { LineIndex } from './positions.js';
import type { Location } from './types.js';

export interface Analysis {
  /** the document's absolute path */
  readonly path: string;
  readonly text: string;
  readonly result: CheckResult;
  /** the document's own tokens, comments and tree */
  readonly parse: ParseResult;
  readonly lines: LineIndex;
}

/** Checks `text` as the content of `path`; imports are read through `host`. */
export function analyze(path: string, text: string, host: CompilerHost): Analysis {
  const absolute = resolve(path);
  const result = checkFile(absolute, overlayHost(new Map([[absolute, text]]), host));
  const parse = result.program.files.get(absolute) ?? emptyParse(absolute, text);
  return { path: absolute, text, result, parse, lines: new LineIndex(text) };
}

function emptyParse(path: string, text: string): ParseResult {
  const ast: SpecFile = { kind: 'File', span: { file: path, start: 0, end: text.length }, path, items: [], comments: [] };
  return { ast, tokens: [], comments: [] };
}

const importedLines = new WeakMap<SourceFile, LineIndex>();

/** A line index for any file of the program (the document's own, or an import's source text). */
export function linesOf(analysis: Analysis, file: string): LineIndex {
  if (file === analysis.path) return analysis.lines;
  const source = analysis.result.program.sources.get(file);
  if (!source) return new LineIndex('');
  let lines = importedLines.get(source);
  if (!lines) {
    lines = new LineIndex(source.text);
    importedLines.set(source, lines);
  }
  return lines;
}

/** A span anywhere in the program as a location with line/character positions. */
export function locationOf(analysis: Analysis, span: Span): Location {
  return { file: span.file, start: span.start, end: span.end, range: linesOf(analysis, span.file).rangeOf(span) };
}
