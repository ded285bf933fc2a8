/**
 * Quick fixes for did-you-mean diagnostics: a help line `did you mean `x`?` (or `` `a`, `b` or `c` ``)
 * offers to replace the diagnostic's span with each suggestion, the closest first.
 */
import type { Analysis } from './analysis.js';
import { documentDiagnostics } from './diagnostics.js';
import type { QuickFix, ServiceDiagnostic, TextRange } from './types.js';

const DID_YOU_MEAN = /^did you mean (.+)\?$/;

export function quickFixes(analysis: Analysis, range: TextRange, diagnostics = documentDiagnostics(analysis)): QuickFix[] {
  const fixes: QuickFix[] = [];
  for (const d of diagnostics) {
    if (d.end < range.start || d.start > range.end || d.origin || !analysis.text.slice(d.start, d.end).match(/^[^\n]+$/)) continue;
    suggestions(d).forEach((name, i) => {
      fixes.push({ title: `Replace with \`${name}\``, diagnostic: d, edit: { start: d.start, end: d.end, newText: name }, preferred: i === 0 });
    });
  }
  return fixes;
}

/** The names a diagnostic's help suggests, when it is a did-you-mean on a name. */
export function suggestions(d: ServiceDiagnostic): string[] {
  const match = d.help === undefined ? null : DID_YOU_MEAN.exec(d.help);
  if (!match) return [];
  return [...match[1]!.matchAll(/`([^`]+)`/g)].map((m) => m[1]!);
}
