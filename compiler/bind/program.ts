/**
 * Loads a spec and everything it imports: reads files through a host (so the language server can
 * feed unsaved buffers), checks that they are text, parses them, resolves imports relative to the
 * importing file, refuses paths that leave the spec's folder (as written or through a symlink),
 * detects import cycles, and builds one
 * table of top-level declarations.
 */
import { dirname, relative, resolve } from 'node:path';
import { BLOCK_KINDS, type BlockKindName } from '../../grammar/tokens.js';
import { DiagnosticBag } from '../diagnostics/diagnostic.js';
import { didYouMean } from '../../util/did-you-mean.js';
import type * as A from '../syntax/ast.js';
import { parseText, type ParseResult } from '../syntax/parse.js';
import { SourceFile, type Span } from '../syntax/source.js';
import { escapes } from '../../util/files.js';

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
  /** names of blocks of an unknown kind (MOE2001): they exist, but cannot be referred to */
  readonly unknownKinds: ReadonlySet<string>;
  /** an import could not be read (MOE2004, MOE2006, MOE1005), so names it declares are unknown */
  readonly importFailed: boolean;
  readonly diagnostics: DiagnosticBag;
}

const decoder = new TextDecoder('utf-8', { fatal: true });
const lossy = new TextDecoder('utf-8');

export function loadProgram(entryPath: string, host: CompilerHost, options: LoadOptions = {}): Program {
  const entry = resolve(entryPath);
  const root = dirname(entry);
  const diagnostics = new DiagnosticBag();
  const sources = new Map<string, SourceFile>();
  const files = new Map<string, ParseResult>();

  /** files in post-order (a file after the files it imports), the order their declarations count in */
  const order: string[] = [];
  let importFailed = false;
  const visit = (path: string, stack: string[], importedAt?: Span): void => {
    if (files.has(path)) return;
    const { text, shown } = readText(path, host, diagnostics, importedAt);
    if (text === undefined && importedAt) importFailed = true;
    sources.set(path, new SourceFile(path, shown));
    const parsed = parseText(path, text ?? '', text === undefined ? new DiagnosticBag() : diagnostics);
    files.set(path, parsed);
    for (const item of parsed.ast.items) {
      if (item.kind !== 'Import') continue;
      const target = resolveSpecPath(path, item.path.value);
      // before the file is read: a symlink out of the folder is neither read nor quoted
      if (!options.allowOutside && escapes(root, target)) {
        diagnostics.report('MOE2006', item.path.span, { path: item.path.value }, { help: 'pass --allow-outside to permit it' });
        importFailed = true;
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
        importFailed = true;
        continue;
      }
      visit(target, [...stack, path], item.path.span);
    }
    order.push(path);
  };
  visit(entry, [], undefined);

  const { decls, unknownKinds } = collectDeclarations(order.map((path) => files.get(path)!), diagnostics);
  return { entry, root, options, host, sources, files, decls, unknownKinds, importFailed, diagnostics };
}

export function resolveSpecPath(fromFile: string, path: string): string {
  return resolve(dirname(fromFile), path);
}

/**
 * The text of a spec file, or undefined (with MOE1005) when it is not UTF-8 text; `shown` is what
 * diagnostics quote from the file: the text, or a lossy decoding of a binary file.
 */
function readText(path: string, host: CompilerHost, diagnostics: DiagnosticBag, importedAt?: Span): { text?: string; shown: string } {
  const bytes = host.readFile(path);
  if (typeof bytes === 'string') {
    if (importedAt) diagnostics.report('MOE2004', importedAt, { path, reason: bytes });
    return { shown: '' };
  }
  const nul = bytes.indexOf(0);
  if (nul >= 0) return notText(path, bytes, nul, `a NUL byte at offset ${nul}`, diagnostics);
  try {
    const text = decoder.decode(bytes);
    return { text, shown: text };
  } catch {
    const bad = firstInvalidUtf8(bytes);
    return notText(path, bytes, bad, `invalid UTF-8 at byte ${bad}`, diagnostics);
  }
}

/** MOE1005 at byte `at`, located in the lossy decoding that diagnostics show. */
function notText(path: string, bytes: Uint8Array, at: number, reason: string, diagnostics: DiagnosticBag): { shown: string } {
  const start = lossy.decode(bytes.subarray(0, at)).length;
  diagnostics.report('MOE1005', { file: path, start, end: start + 1 }, { reason });
  return { shown: printable(lossy.decode(bytes)) };
}

/** Control characters (but line breaks and tabs) as U+FFFD, one for one, so offsets still hold. */
function printable(text: string): string {
  return text.replace(/[^\P{Cc}\t\n\r]/gu, '\ufffd');
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

/** Declarations of all files, imported files first, so a clash is reported in the file that imports. */
function collectDeclarations(
  files: readonly ParseResult[],
  diagnostics: DiagnosticBag,
): { decls: Map<string, Decl>; unknownKinds: Set<string> } {
  const decls = new Map<string, Decl>();
  const unknownKinds = new Set<string>();
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
  for (const { ast } of files) {
    for (const item of ast.items) {
      if (item.kind === 'Const') add(item.name, { kind: 'const', node: item });
      else if (item.kind === 'Pipeline') add(item.name, { kind: 'pipeline', node: item });
      else if (item.kind === 'Block') {
        const kind = item.blockKind.name;
        if (!isBlockKind(kind)) {
          diagnostics.report('MOE2001', item.blockKind.span, { name: kind }, {
            help: didYouMean(kind, [...BLOCK_KINDS, 'pipeline']) ?? `block kinds are ${BLOCK_KINDS.join(', ')}, pipeline`,
          });
          unknownKinds.add(item.name.name);
          continue;
        }
        add(item.name, { kind: 'block', blockKind: kind, node: item });
      }
    }
  }
  return { decls, unknownKinds };
}

export function declName(decl: Decl): A.Ident {
  return decl.node.name;
}

export function isBlockKind(name: string): name is BlockKindName {
  return (BLOCK_KINDS as readonly string[]).includes(name);
}
