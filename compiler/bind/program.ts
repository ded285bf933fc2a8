/**
 * Loads a spec and everything it imports: reads files through a host (so the language server can
 * feed unsaved buffers), checks that they are text, parses them, resolves imports relative to the
 * importing file, refuses paths that leave the spec's folder, detects import cycles, and builds one
 * table of top-level declarations.
 */
import { dirname, relative, resolve, isAbsolute } from 'node:path';
import { BLOCK_KINDS, type BlockKindName } from '../../grammar/tokens.js';
import { DiagnosticBag } from '../diagnostics/diagnostic.js';
import { didYouMean } from '../diagnostics/did-you-mean.js';
import type * as A from '../syntax/ast.js';
import { parseText, type ParseResult } from '../syntax/parse.js';
import { SourceFile, type Span } from '../syntax/source.js';

export interface CompilerHost {
  /** The file's bytes, or an error message when it cannot be read. */
  readFile(path: string): Uint8Array | string;
  fileExists(path: string): boolean;
}

export interface LoadOptions {
  /** permit `import`/`source` paths outside the entry spec's folder */
  readonly allowOutside?: boolean;
}

export type Decl =
  | { readonly kind: 'block'; readonly blockKind: BlockKindName; readonly node: A.Block }
  | { readonly kind: 'const'; readonly node: A.Const }
  | { readonly kind: 'pipeline'; readonly node: A.Pipeline };

export interface Program {
  readonly entry: string;
  /** folder that import and source paths must stay inside */
  readonly root: string;
  readonly options: LoadOptions;
  readonly host: CompilerHost;
  readonly sources: ReadonlyMap<string, SourceFile>;
  readonly files: ReadonlyMap<string, ParseResult>;
  readonly decls: ReadonlyMap<string, Decl>;
  readonly diagnostics: DiagnosticBag;
}

const decoder = new TextDecoder('utf-8', { fatal: true });

export function loadProgram(entryPath: string, host: CompilerHost, options: LoadOptions = {}): Program {
  const entry = resolve(entryPath);
  const root = dirname(entry);
  const diagnostics = new DiagnosticBag();
  const sources = new Map<string, SourceFile>();
  const files = new Map<string, ParseResult>();

  const visit = (path: string, stack: string[], importedAt?: Span): void => {
    if (files.has(path)) return;
    const text = readText(path, host, diagnostics, importedAt);
    sources.set(path, new SourceFile(path, text ?? ''));
    const parsed = parseText(path, text ?? '', text === undefined ? new DiagnosticBag() : diagnostics);
    files.set(path, parsed);
    for (const item of parsed.ast.items) {
      if (item.kind !== 'Import') continue;
      const target = resolveSpecPath(path, item.path.value);
      if (!options.allowOutside && isOutside(root, target)) {
        diagnostics.report('MOE2006', item.path.span, { path: item.path.value }, { help: 'pass --allow-outside to permit it' });
        continue;
      }
      const at = stack.indexOf(target);
      if (at >= 0 || target === path) {
        const cycle = [...stack.slice(Math.max(0, at)), path, target].map((p) => relative(root, p) || p);
        diagnostics.report('MOE2005', item.path.span, { cycle: cycle.join(' → ') });
        continue;
      }
      if (!host.fileExists(target)) {
        diagnostics.report('MOE2004', item.path.span, { path: item.path.value, reason: 'no such file' });
        continue;
      }
      visit(target, [...stack, path], item.path.span);
    }
  };
  visit(entry, [], undefined);

  const decls = collectDeclarations(files, diagnostics);
  return { entry, root, options, host, sources, files, decls, diagnostics };
}

export function resolveSpecPath(fromFile: string, path: string): string {
  return resolve(dirname(fromFile), path);
}

export function isOutside(root: string, target: string): boolean {
  const rel = relative(root, target);
  return rel.startsWith('..') || isAbsolute(rel);
}

function readText(path: string, host: CompilerHost, diagnostics: DiagnosticBag, importedAt?: Span): string | undefined {
  const bytes = host.readFile(path);
  if (typeof bytes === 'string') {
    if (importedAt) diagnostics.report('MOE2004', importedAt, { path, reason: bytes });
    return undefined;
  }
  const nul = bytes.indexOf(0);
  if (nul >= 0) {
    diagnostics.report('MOE1005', { file: path, start: nul, end: nul + 1 }, { reason: `a NUL byte at offset ${nul}` });
    return undefined;
  }
  try {
    return decoder.decode(bytes);
  } catch {
    const bad = firstInvalidUtf8(bytes);
    diagnostics.report('MOE1005', { file: path, start: bad, end: bad + 1 }, { reason: `invalid UTF-8 at byte ${bad}` });
    return undefined;
  }
}

/** Byte offset of the first invalid UTF-8 sequence (used only after decoding failed). */
function firstInvalidUtf8(bytes: Uint8Array): number {
  for (let i = 0; i < bytes.length; ) {
    const b = bytes[i]!;
    const len = b < 0x80 ? 1 : b >> 5 === 6 ? 2 : b >> 4 === 14 ? 3 : b >> 3 === 30 ? 4 : 0;
    if (len === 0 || i + len > bytes.length) return i;
    for (let j = 1; j < len; j++) if (bytes[i + j]! >> 6 !== 2) return i;
    i += len;
  }
  return 0;
}

function collectDeclarations(files: ReadonlyMap<string, ParseResult>, diagnostics: DiagnosticBag): Map<string, Decl> {
  const decls = new Map<string, Decl>();
  const add = (name: A.Ident, decl: Decl): void => {
    const previous = decls.get(name.name);
    if (previous) {
      diagnostics.report('MOE2003', name.span, { name: name.name }, {
        label: 'defined again here',
        related: [{ span: declName(previous).span, message: 'first defined here' }],
      });
      return;
    }
    decls.set(name.name, decl);
  };
  for (const { ast } of files.values()) {
    for (const item of ast.items) {
      if (item.kind === 'Const') add(item.name, { kind: 'const', node: item });
      else if (item.kind === 'Pipeline') add(item.name, { kind: 'pipeline', node: item });
      else if (item.kind === 'Block') {
        const kind = item.blockKind.name;
        if (!isBlockKind(kind)) {
          diagnostics.report('MOE2001', item.blockKind.span, { name: kind }, {
            help: didYouMean(kind, [...BLOCK_KINDS, 'pipeline']) ?? `block kinds are ${BLOCK_KINDS.join(', ')}, pipeline`,
          });
          continue;
        }
        add(item.name, { kind: 'block', blockKind: kind, node: item });
      }
    }
  }
  return decls;
}

export function declName(decl: Decl): A.Ident {
  return decl.node.name;
}

export function isBlockKind(name: string): name is BlockKindName {
  return (BLOCK_KINDS as readonly string[]).includes(name);
}
