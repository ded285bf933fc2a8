/**
 * The language service an editor talks to: it keeps the open buffers (overlaid on the file system,
 * so imports see unsaved text), caches one analysis per buffer version, and answers every request
 * through a guard, so no text can make a request throw. The features themselves are the pure
 * functions of the files beside this one.
 */
import { resolve } from 'node:path';
import type { CompilerHost } from '../bind/program.js';
import { nodeHost } from '../bind/node-host.js';
import { analyze, type Analysis } from './analysis.js';
import { completions } from './completion.js';
import { documentDiagnostics } from './diagnostics.js';
import { foldingRanges, type FoldingRange } from './folding.js';
import { formatDocument } from './formatting.js';
import { guard, type ErrorSink } from './guard.js';
import { overlayHost } from './host.js';
import { hover } from './hover.js';
import { definition, references } from './navigation.js';
import { quickFixes } from './quick-fixes.js';
import { documentSymbols } from './symbols.js';
import type { CompletionItem, DocumentSymbol, HoverResult, Location, QuickFix, ServiceDiagnostic, TextEdit, TextRange } from './types.js';

export interface LanguageServiceOptions {
  /** where files that are not open are read from; the real file system by default */
  readonly host?: CompilerHost;
  /** told about any exception a request swallowed */
  readonly onError?: ErrorSink;
}

const decoder = new TextDecoder();

export class LanguageService {
  private readonly buffers = new Map<string, string>();
  /** bumped on every buffer change: an analysis depends on every open buffer it imports */
  private generation = 0;
  private readonly cache = new Map<string, { generation: number; analysis: Analysis }>();
  private readonly host: CompilerHost;
  private readonly onError: ErrorSink | undefined;

  constructor(options: LanguageServiceOptions = {}) {
    this.host = overlayHost(this.buffers, options.host ?? nodeHost);
    this.onError = options.onError;
  }

  /** Opens or updates a buffer. */
  setText(path: string, text: string): void {
    this.buffers.set(resolve(path), text);
    this.generation++;
  }

  close(path: string): void {
    this.buffers.delete(resolve(path));
    this.cache.delete(resolve(path));
    this.generation++;
  }

  /** Files on disk changed (an import, a data file, a reward module): every analysis is stale. */
  invalidate(): void {
    this.generation++;
  }

  /** Open buffers, by absolute path. */
  openPaths(): string[] {
    return [...this.buffers.keys()];
  }

  /** The checked document: the open buffer, else the file on disk. */
  analysis(path: string): Analysis | undefined {
    const absolute = resolve(path);
    const cached = this.cache.get(absolute);
    if (cached?.generation === this.generation) return cached.analysis;
    const text = this.textOf(absolute);
    if (text === undefined) return undefined;
    const analysis = analyze(absolute, text, this.host);
    this.cache.set(absolute, { generation: this.generation, analysis });
    return analysis;
  }

  diagnostics(path: string): ServiceDiagnostic[] {
    return this.run('diagnostics', [], path, documentDiagnostics);
  }

  hover(path: string, offset: number): HoverResult | undefined {
    return this.run('hover', undefined, path, (a) => hover(a, offset));
  }

  completions(path: string, offset: number): CompletionItem[] {
    return this.run('completion', [], path, (a) => completions(a, offset));
  }

  definition(path: string, offset: number): Location[] {
    return this.run('definition', [], path, (a) => definition(a, offset));
  }

  references(path: string, offset: number, includeDeclaration = true): Location[] {
    return this.run('references', [], path, (a) => references(a, offset, includeDeclaration));
  }

  symbols(path: string): DocumentSymbol[] {
    return this.run('symbols', [], path, documentSymbols);
  }

  format(path: string): TextEdit[] {
    return this.run('formatting', [], path, (a) => formatDocument(a.path, a.text));
  }

  folding(path: string): FoldingRange[] {
    return this.run('folding', [], path, foldingRanges);
  }

  quickFixes(path: string, range: TextRange): QuickFix[] {
    return this.run('quick fixes', [], path, (a) => quickFixes(a, range));
  }

  private run<T>(feature: string, fallback: T, path: string, answer: (analysis: Analysis) => T): T {
    return guard(
      feature,
      fallback,
      () => {
        const analysis = this.analysis(path);
        return analysis ? answer(analysis) : fallback;
      },
      this.onError,
    );
  }

  private textOf(path: string): string | undefined {
    const open = this.buffers.get(path);
    if (open !== undefined) return open;
    const bytes = this.host.readFile(path);
    return typeof bytes === 'string' ? undefined : decoder.decode(bytes);
  }
}
