/**
 * Go to definition and find references for named blocks, consts and pipelines across the document
 * and the files it imports, and for fields read by name (`4 * dim`, `Tiny.dim`) within a file.
 */
import { declName, resolveSpecPath } from '../bind/program.js';
import type * as A from '../syntax/ast.js';
import { locationOf, type Analysis } from './analysis.js';
import { occurrenceAt, occurrences, sameTarget, type Occurrence, type Target } from './names.js';
import type { Location } from './types.js';

export function definition(analysis: Analysis, offset: number): Location[] {
  const found = occurrenceAt(occurrencesOf(analysis, analysis.path), offset);
  if (!found) return importTarget(analysis, offset);
  const ident = targetIdent(analysis, found.target);
  return ident ? [locationOf(analysis, ident.span)] : [];
}

export function references(analysis: Analysis, offset: number, includeDeclaration: boolean): Location[] {
  const found = occurrenceAt(occurrencesOf(analysis, analysis.path), offset);
  if (!found) return [];
  // a field can only be read by name from the file that declares it; declarations reach every file
  const files = found.target.kind === 'decl' ? [...analysis.result.program.files.keys()] : [analysis.path];
  const out: Location[] = [];
  const seen = new Set<A.Ident>();
  for (const file of files) {
    for (const o of occurrencesOf(analysis, file)) {
      if (!sameTarget(o.target, found.target) || seen.has(o.ident)) continue;
      if (!includeDeclaration && isDefinition(analysis, o)) continue;
      seen.add(o.ident);
      out.push(locationOf(analysis, o.ident.span));
    }
  }
  return out;
}

function occurrencesOf(analysis: Analysis, file: string): Occurrence[] {
  const parsed = analysis.result.program.files.get(file);
  return parsed ? occurrences(parsed.ast, analysis.result.program.decls) : [];
}

function targetIdent(analysis: Analysis, target: Target): A.Ident | undefined {
  if (target.kind === 'field') return target.field;
  const decl = analysis.result.program.decls.get(target.name);
  return decl ? declName(decl) : undefined;
}

function isDefinition(analysis: Analysis, o: Occurrence): boolean {
  return o.declaration && targetIdent(analysis, o.target) === o.ident;
}

/** On the path of an `import "…"`: the imported file. */
function importTarget(analysis: Analysis, offset: number): Location[] {
  const item = analysis.parse.ast.items.find((i): i is A.Import => i.kind === 'Import' && i.path.span.start <= offset && offset <= i.path.span.end);
  if (!item) return [];
  const target = resolveSpecPath(analysis.path, item.path.value);
  return analysis.result.program.files.has(target) ? [locationOf(analysis, { file: target, start: 0, end: 0 })] : [];
}
