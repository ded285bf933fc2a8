/** The language service's offset-based answers as LSP types, for one open document. */
import type { TextDocument } from 'vscode-languageserver-textdocument';
import {
  CompletionItemKind,
  DiagnosticSeverity,
  DiagnosticTag,
  InsertTextFormat,
  MarkupKind,
  SymbolKind,
  type CompletionItem,
  type Diagnostic,
  type DocumentSymbol,
  type Location,
  type Range,
} from 'vscode-languageserver';
import type * as S from '../../../compiler/service/index.js';
import type { UriMap } from './uris.js';

/** VS Code opens `command:` links in diagnostics; the extension's `moe.explain` shows the text. */
export function explainLink(code: string): string {
  return `command:moe.explain?${encodeURIComponent(JSON.stringify([code]))}`;
}

export function range(doc: TextDocument, r: S.TextRange): Range {
  return { start: doc.positionAt(r.start), end: doc.positionAt(r.end) };
}

export function location(l: S.Location, uris: UriMap): Location {
  return { uri: uris.toUri(l.file), range: l.range };
}

export function diagnostic(doc: TextDocument, d: S.ServiceDiagnostic, uris: UriMap): Diagnostic {
  return {
    range: range(doc, d),
    severity: d.severity === 'error' ? DiagnosticSeverity.Error : DiagnosticSeverity.Warning,
    code: d.code,
    codeDescription: { href: explainLink(d.code) },
    source: 'moe',
    message: d.message,
    ...(d.related.length ? { relatedInformation: d.related.map((r) => ({ location: location(r, uris), message: r.message })) } : {}),
    ...(d.unnecessary ? { tags: [DiagnosticTag.Unnecessary] } : {}),
  };
}

const COMPLETION_KINDS: Record<S.CompletionKind, CompletionItemKind> = {
  keyword: CompletionItemKind.Keyword,
  field: CompletionItemKind.Field,
  block: CompletionItemKind.Struct,
  variant: CompletionItemKind.EnumMember,
  value: CompletionItemKind.EnumMember,
  reference: CompletionItemKind.Reference,
  const: CompletionItemKind.Constant,
  unit: CompletionItemKind.Unit,
  rule: CompletionItemKind.Function,
  snippet: CompletionItemKind.Snippet,
};

export function completion(doc: TextDocument, c: S.CompletionItem): CompletionItem {
  return {
    label: c.label,
    kind: COMPLETION_KINDS[c.kind],
    ...(c.detail === undefined ? {} : { detail: c.detail }),
    ...(c.documentation === undefined ? {} : { documentation: { kind: MarkupKind.Markdown, value: c.documentation } }),
    ...(c.sortText === undefined ? {} : { sortText: c.sortText }),
    insertTextFormat: c.snippet ? InsertTextFormat.Snippet : InsertTextFormat.PlainText,
    textEdit: { range: range(doc, c.replace), newText: c.insertText },
  };
}

const SYMBOL_KINDS: Record<S.SymbolKind, SymbolKind> = {
  model: SymbolKind.Class,
  stage: SymbolKind.Function,
  resource: SymbolKind.Object,
  reward: SymbolKind.Interface,
  const: SymbolKind.Constant,
  pipeline: SymbolKind.Event,
  import: SymbolKind.File,
  field: SymbolKind.Property,
  block: SymbolKind.Struct,
  layers: SymbolKind.Namespace,
  rule: SymbolKind.Method,
};

export function symbol(doc: TextDocument, s: S.DocumentSymbol): DocumentSymbol {
  return {
    name: s.name,
    detail: s.detail,
    kind: SYMBOL_KINDS[s.kind],
    range: range(doc, s.range),
    selectionRange: range(doc, s.selection),
    children: s.children.map((c) => symbol(doc, c)),
  };
}
