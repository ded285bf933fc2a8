/**
 * Diagnostics are data: a code from the catalog, a severity, the primary span with a label, related
 * spans, notes and a help line. Rendering (terminal, JSON, LSP) happens late, in `render.ts`.
 */
import type { Span } from '../syntax/source.js';
import { catalog, formatMessage, type Code, type MessageArgs, type Severity } from './catalog.js';

export interface Related {
  readonly span: Span;
  readonly message: string;
}

export interface Diagnostic {
  readonly code: Code;
  readonly severity: Severity;
  readonly message: string;
  readonly span: Span;
  /** stands alone under the underlined span */
  readonly label?: string;
  readonly related: readonly Related[];
  readonly notes: readonly string[];
  readonly help?: string;
}

export interface DiagnosticExtras {
  readonly label?: string;
  readonly related?: readonly Related[];
  readonly notes?: readonly string[];
  readonly help?: string;
}

export function diagnostic<C extends Code>(
  code: C,
  span: Span,
  args: MessageArgs<C>,
  extras: DiagnosticExtras = {},
): Diagnostic {
  return {
    code,
    severity: catalog[code].severity,
    message: formatMessage(code, args),
    span,
    ...(extras.label === undefined ? {} : { label: extras.label }),
    related: extras.related ?? [],
    notes: extras.notes ?? [],
    ...(extras.help === undefined ? {} : { help: extras.help }),
  };
}

/** Collects diagnostics from every phase, deduplicating identical reports and capping the count. */
export class DiagnosticBag {
  private readonly items: Diagnostic[] = [];
  private readonly seen = new Set<string>();

  constructor(private readonly limit = 500) {}

  add(d: Diagnostic): void {
    const key = `${d.code}|${d.span.file}|${d.span.start}|${d.span.end}|${d.message}`;
    if (this.seen.has(key)) return;
    this.seen.add(key);
    this.items.push(d);
  }

  report<C extends Code>(code: C, span: Span, args: MessageArgs<C>, extras?: DiagnosticExtras): void {
    this.add(diagnostic(code, span, args, extras));
  }

  get all(): readonly Diagnostic[] {
    return this.items;
  }

  get errorCount(): number {
    return this.items.filter((d) => d.severity === 'error').length;
  }

  /**
   * Sorted by file and position; capped at the limit with a final MOE7001. Errors are kept before
   * warnings when capping, so a spec with hundreds of warnings still shows its errors; the note says
   * how many were left out.
   */
  sorted(): Diagnostic[] {
    const byPosition = (a: Diagnostic, b: Diagnostic): number =>
      a.span.file.localeCompare(b.span.file) || a.span.start - b.span.start || a.code.localeCompare(b.code);
    const sorted = [...this.items].sort(byPosition);
    if (sorted.length <= this.limit) return sorted;
    const errors = sorted.filter((d) => d.severity === 'error');
    const kept = [...errors, ...sorted.filter((d) => d.severity !== 'error')].slice(0, this.limit).sort(byPosition);
    const leftErrors = Math.max(0, errors.length - this.limit);
    const left = sorted.length - kept.length;
    const notes = [`${left} more not shown (${leftErrors} error${leftErrors === 1 ? '' : 's'}, ${left - leftErrors} warning${left - leftErrors === 1 ? '' : 's'}); errors are shown before warnings`];
    kept.push(diagnostic('MOE7001', kept[kept.length - 1]!.span, { count: this.limit }, { notes }));
    return kept;
  }
}
