/**
 * The language server: LSP requests answered by compiler/service. Diagnostics are published for
 * every open document shortly after any buffer changes (an edit in an imported file changes its
 * importers' diagnostics too). `serve` takes a connection so tests can run it in-process.
 */
import {
  CodeActionKind,
  FoldingRangeKind,
  TextDocuments,
  TextDocumentSyncKind,
  type CodeAction,
  type Connection,
  type InitializeResult,
} from 'vscode-languageserver';
import { TextDocument } from 'vscode-languageserver-textdocument';
import type { CompilerHost } from '../../../compiler/bind/program.js';
import { LanguageService } from '../../../compiler/service/index.js';
import * as convert from './convert.js';
import { UriMap } from './uris.js';

export interface ServeOptions {
  /** files that are not open are read through this host (the file system by default) */
  readonly host?: CompilerHost;
  /** quiet time after the last edit before diagnostics are recomputed */
  readonly debounceMs?: number;
}

export function serve(connection: Connection, options: ServeOptions = {}): void {
  const uris = new UriMap();
  const service = new LanguageService({
    ...(options.host ? { host: options.host } : {}),
    onError: (feature, error) => connection.console.error(`moe: ${feature} failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`),
  });
  const documents = new TextDocuments(TextDocument);
  const debounceMs = options.debounceMs ?? 150;
  let timer: NodeJS.Timeout | undefined;

  const publishAll = (): void => {
    timer = undefined;
    for (const doc of documents.all()) {
      const path = uris.toPath(doc.uri);
      const diagnostics = service.diagnostics(path).map((d) => convert.diagnostic(doc, d, uris));
      void connection.sendDiagnostics({ uri: doc.uri, version: doc.version, diagnostics });
    }
  };
  const schedule = (): void => {
    if (timer) clearTimeout(timer);
    timer = setTimeout(publishAll, debounceMs);
  };
  /** The open document a request is about, with its path; undefined for a document not open. */
  const open = (uri: string): { doc: TextDocument; path: string } | undefined => {
    const doc = documents.get(uri);
    return doc ? { doc, path: uris.toPath(uri) } : undefined;
  };

  connection.onInitialize(
    (): InitializeResult => ({
      capabilities: {
        textDocumentSync: TextDocumentSyncKind.Incremental,
        hoverProvider: true,
        completionProvider: { triggerCharacters: ['='] },
        definitionProvider: true,
        referencesProvider: true,
        documentSymbolProvider: true,
        documentFormattingProvider: true,
        codeActionProvider: { codeActionKinds: [CodeActionKind.QuickFix] },
        foldingRangeProvider: true,
      },
      serverInfo: { name: 'moe-language-server', version: '0.1.0' },
    }),
  );

  documents.onDidChangeContent(({ document }) => {
    service.setText(uris.toPath(document.uri), document.getText());
    schedule();
  });
  // the client watches the files a spec may read; a change there can change any open document's diagnostics
  connection.onDidChangeWatchedFiles(() => {
    service.invalidate();
    schedule();
  });
  documents.onDidClose(({ document }) => {
    service.close(uris.toPath(document.uri));
    void connection.sendDiagnostics({ uri: document.uri, diagnostics: [] });
    schedule();
  });

  connection.onHover(({ textDocument, position }) => {
    const d = open(textDocument.uri);
    const found = d && service.hover(d.path, d.doc.offsetAt(position));
    return found ? { contents: { kind: 'markdown', value: found.markdown }, range: convert.range(d.doc, found) } : null;
  });
  connection.onCompletion(({ textDocument, position }) => {
    const d = open(textDocument.uri);
    return d ? service.completions(d.path, d.doc.offsetAt(position)).map((c) => convert.completion(d.doc, c)) : [];
  });
  connection.onDefinition(({ textDocument, position }) => {
    const d = open(textDocument.uri);
    return d ? service.definition(d.path, d.doc.offsetAt(position)).map((l) => convert.location(l, uris)) : [];
  });
  connection.onReferences(({ textDocument, position, context }) => {
    const d = open(textDocument.uri);
    return d ? service.references(d.path, d.doc.offsetAt(position), context.includeDeclaration).map((l) => convert.location(l, uris)) : [];
  });
  connection.onDocumentSymbol(({ textDocument }) => {
    const d = open(textDocument.uri);
    return d ? service.symbols(d.path).map((s) => convert.symbol(d.doc, s)) : [];
  });
  connection.onDocumentFormatting(({ textDocument }) => {
    const d = open(textDocument.uri);
    return d ? service.format(d.path).map((e) => ({ range: convert.range(d.doc, e), newText: e.newText })) : [];
  });
  connection.onFoldingRanges(({ textDocument }) => {
    const d = open(textDocument.uri);
    return d
      ? service.folding(d.path).map((f) => ({ startLine: f.startLine, endLine: f.endLine, ...(f.comment ? { kind: FoldingRangeKind.Comment } : {}) }))
      : [];
  });
  connection.onCodeAction(({ textDocument, range }): CodeAction[] => {
    const d = open(textDocument.uri);
    if (!d) return [];
    const wanted = { start: d.doc.offsetAt(range.start), end: d.doc.offsetAt(range.end) };
    return service.quickFixes(d.path, wanted).map((fix) => ({
      title: fix.title,
      kind: CodeActionKind.QuickFix,
      diagnostics: [convert.diagnostic(d.doc, fix.diagnostic, uris)],
      isPreferred: fix.preferred,
      edit: { changes: { [textDocument.uri]: [{ range: convert.range(d.doc, fix.edit), newText: fix.edit.newText }] } },
    }));
  });

  documents.listen(connection);
  connection.listen();
}
