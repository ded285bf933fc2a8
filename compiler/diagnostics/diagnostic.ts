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

  /** Sorted by file and position; capped at the limit with a final MOE7001. */
  sorted(): Diagnostic[] {
    const sorted = [...this.items].sort(
      (a, b) => a.span.file.localeCompare(b.span.file) || a.span.start - b.span.start || a.code.localeCompare(b.code),
    );
    if (sorted.length <= this.limit) return sorted;
    const kept = sorted.slice(0, this.limit);
    kept.push(diagnostic('MOE7001', kept[kept.length - 1]!.span, { count: this.limit }));
    return kept;
  }
}
