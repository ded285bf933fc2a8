/**
 * The document's diagnostics for the editor. Those of the document itself keep their spans; those
 * of a file it imports are shown on the `import` that leads to that file (with the real place as
 * related information), since an editor can only underline the document it shows.
 */
import { catalog } from '../diagnostics/catalog.js';
import type { Diagnostic } from '../diagnostics/diagnostic.js';
import { resolveSpecPath } from '../bind/program.js';
import { displayPath } from '../diagnostics/render.js';
import { dirname } from 'node:path';
import type * as A from '../syntax/ast.js';
import { locationOf, type Analysis } from './analysis.js';
import type { ServiceDiagnostic, TextRange } from './types.js';

/** Codes that report something unused: editors fade the text instead of underlining it. */
const UNNECESSARY = new Set(['MOE2016']);

export function documentDiagnostics(analysis: Analysis): ServiceDiagnostic[] {
  const importsOf = importTargets(analysis);
  const out: ServiceDiagnostic[] = [];
  for (const d of analysis.result.diagnostics) {
    if (d.span.file === analysis.path) {
      out.push(toService(analysis, d, visible(analysis.text, d.span)));
      continue;
    }
    const via = importsOf.find((i) => i.reaches.has(d.span.file));
    if (!via) continue;
    const where = locationOf(analysis, d.span);
    const shown = `${displayPath(d.span.file, dirname(analysis.path))}:${where.range.start.line + 1}:${where.range.start.character + 1}`;
    const moved: Diagnostic = {
      ...d,
      message: `${d.message} (in ${shown})`,
      related: [{ span: d.span, message: d.label ?? d.message }, ...d.related],
    };
    out.push({ ...toService(analysis, moved, via.node.path.span), origin: where });
  }
  return out;
}

function toService(analysis: Analysis, d: Diagnostic, at: TextRange): ServiceDiagnostic {
  const lines = [d.message];
  if (d.label) lines.push(d.label);
  for (const note of d.notes) lines.push(`note: ${note}`);
  if (d.help) lines.push(`help: ${d.help}`);
  return {
    start: at.start,
    end: at.end,
    code: d.code,
    severity: d.severity,
    message: lines.join('\n'),
    explain: catalog[d.code].explain,
    ...(d.help === undefined ? {} : { help: d.help }),
    related: d.related.map((r) => ({ ...locationOf(analysis, r.span), message: r.message })),
    unnecessary: UNNECESSARY.has(d.code),
  };
}

/** A span an editor can show: inside the text and at least one character wide where possible. */
function visible(text: string, span: TextRange): TextRange {
  const start = Math.max(0, Math.min(span.start, text.length));
  const end = Math.max(start, Math.min(span.end, text.length));
  if (end > start || text.length === 0) return { start, end };
  return start < text.length ? { start, end: start + 1 } : { start: start - 1, end: start };
}

interface ImportReach {
  readonly node: A.Import;
  /** every file this import brings in, directly or through further imports */
  readonly reaches: ReadonlySet<string>;
}

function importTargets(analysis: Analysis): ImportReach[] {
  const files = analysis.result.program.files;
  const reachable = (start: string): Set<string> => {
    const seen = new Set<string>();
    const stack = [start];
    while (stack.length > 0) {
      const file = stack.pop()!;
      if (seen.has(file)) continue;
      seen.add(file);
      for (const item of files.get(file)?.ast.items ?? []) {
        if (item.kind === 'Import') stack.push(resolveSpecPath(file, item.path.value));
      }
    }
    return seen;
  };
  return analysis.parse.ast.items
    .filter((i): i is A.Import => i.kind === 'Import')
    .map((node) => ({ node, reaches: reachable(resolveSpecPath(analysis.path, node.path.value)) }));
}
