/**
 * Rendering diagnostics late: rustc-style text for terminals (colour only when asked) and plain
 * JSON objects for `--json` and tools. The LSP mapping lives with the language server.
 */
import { relative } from 'node:path';
import type { SourceFile, Span } from '../syntax/source.js';
import type { Diagnostic } from './diagnostic.js';

export interface RenderOptions {
  readonly color: boolean;
  /** paths are shown relative to this folder */
  readonly cwd: string;
}

type Paint = (text: string) => string;
const ansi = (code: string): Paint => (text) => `\u001b[${code}m${text}\u001b[0m`;
const plain: Paint = (text) => text;

function palette(color: boolean) {
  return {
    error: color ? ansi('1;31') : plain,
    warning: color ? ansi('1;33') : plain,
    blue: color ? ansi('1;34') : plain,
    bold: color ? ansi('1') : plain,
  };
}

export function displayPath(file: string, cwd: string): string {
  const rel = relative(cwd, file);
  return rel === '' || rel.startsWith('..') ? file : rel;
}

export function renderText(d: Diagnostic, sources: ReadonlyMap<string, SourceFile>, options: RenderOptions): string {
  const p = palette(options.color);
  const sev = d.severity === 'error' ? p.error : p.warning;
  const lines: string[] = [`${sev(`${d.severity}[${d.code}]`)}${p.bold(`: ${d.message}`)}`];
  const spans = [{ span: d.span, label: d.label ?? '', primary: true }, ...d.related.map((r) => ({ span: r.span, label: r.message, primary: false }))];
  const gutter = Math.max(
    ...spans.map((s) => String(sources.get(s.span.file)?.positionAt(s.span.start).line ?? 1).length),
  );
  const pad = ' '.repeat(gutter);
  spans.forEach((s, i) => {
    const source = sources.get(s.span.file);
    const pos = source?.positionAt(s.span.start) ?? { line: 1, col: 1 };
    const arrow = i === 0 ? '-->' : ':::';
    lines.push(`${pad}${p.blue(arrow)} ${displayPath(s.span.file, options.cwd)}:${pos.line}:${pos.col}`);
    if (!source) return;
    lines.push(`${pad} ${p.blue('|')}`);
    lines.push(...snippet(source, s.span, s.label, s.primary, gutter, p.blue, s.primary ? sev : p.blue));
  });
  if (d.notes.length || d.help) lines.push(`${pad} ${p.blue('|')}`);
  for (const note of d.notes) lines.push(`${pad} ${p.blue('=')} ${p.bold('note')}: ${note}`);
  if (d.help) lines.push(`${pad} ${p.blue('=')} ${p.bold('help')}: ${d.help}`);
  return lines.join('\n');
}

/** The source line with the span underlined (first line only for multi-line spans). */
function snippet(source: SourceFile, span: Span, label: string, primary: boolean, gutter: number, blue: Paint, mark: Paint): string[] {
  const start = source.positionAt(span.start);
  const end = source.positionAt(Math.max(span.start, span.end));
  const text = source.lineText(start.line).replace(/\t/g, ' ');
  const shown = text.length > 160 ? `${text.slice(0, 160)}…` : text;
  const endCol = end.line === start.line ? end.col : text.length + 1;
  const width = Math.max(1, Math.min(endCol - start.col, shown.length - start.col + 2));
  const underline = `${' '.repeat(Math.max(0, Math.min(start.col - 1, shown.length)))}${(primary ? '^' : '-').repeat(width)}`;
  return [
    `${String(start.line).padStart(gutter)} ${blue('|')} ${shown}`,
    `${' '.repeat(gutter)} ${blue('|')} ${mark(underline)}${label ? ` ${mark(label)}` : ''}`,
  ];
}

export interface JsonLocation {
  readonly file: string;
  readonly line: number;
  readonly col: number;
  readonly endLine: number;
  readonly endCol: number;
}

export interface JsonDiagnostic extends JsonLocation {
  readonly code: string;
  readonly severity: string;
  readonly message: string;
  readonly label?: string;
  readonly help?: string;
  readonly notes: readonly string[];
  readonly related: readonly (JsonLocation & { readonly message: string })[];
}

export function toJson(d: Diagnostic, sources: ReadonlyMap<string, SourceFile>, cwd: string): JsonDiagnostic {
  return {
    code: d.code,
    severity: d.severity,
    message: d.message,
    ...locate(d.span, sources, cwd),
    ...(d.label ? { label: d.label } : {}),
    ...(d.help ? { help: d.help } : {}),
    notes: d.notes,
    related: d.related.map((r) => ({ ...locate(r.span, sources, cwd), message: r.message })),
  };
}

function locate(span: Span, sources: ReadonlyMap<string, SourceFile>, cwd: string): JsonLocation {
  const source = sources.get(span.file);
  const start = source?.positionAt(span.start) ?? { line: 1, col: 1 };
  const end = source?.positionAt(span.end) ?? start;
  return { file: displayPath(span.file, cwd), line: start.line, col: start.col, endLine: end.line, endCol: end.col };
}
