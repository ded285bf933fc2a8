/** The language server over LSP, in-process: one test per feature, plus edits that keep it alive. */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  CodeActionRequest,
  CompletionRequest,
  DefinitionRequest,
  DidChangeWatchedFilesNotification,
  DocumentFormattingRequest,
  DocumentSymbolRequest,
  FoldingRangeRequest,
  HoverRequest,
  ReferencesRequest,
  type CompletionItem,
  type DocumentSymbol,
  type Hover,
  type Location,
  type MarkupContent,
  type Position,
  type TextEdit,
} from 'vscode-languageserver/node';
import { TextDocument } from 'vscode-languageserver-textdocument';
import { memoryHost } from '../helpers.js';
import { startServer, type TestServer } from './lsp-client.js';

const examplesDir = join(import.meta.dirname, '..', '..', 'examples');
const v3Path = join(examplesDir, 'deepseek-v3.moe');
const v3Uri = pathToFileURL(v3Path).href;
const v3 = readFileSync(v3Path, 'utf8');
const tinyUri = pathToFileURL(join(examplesDir, 'r1-tiny.moe')).href;
const tiny = readFileSync(join(examplesDir, 'r1-tiny.moe'), 'utf8');

/** The position of the `nth` occurrence of `needle`, `delta` characters in. */
function pos(text: string, needle: string, delta = 0): Position {
  const at = text.indexOf(needle);
  if (at < 0) throw new Error(`\`${needle}\` not found`);
  return TextDocument.create('x', 'moe', 1, text).positionAt(at + delta);
}

let server: TestServer;

beforeAll(async () => {
  server = await startServer();
});
afterAll(async () => {
  await server.stop();
});

describe('the language server', () => {
  it('announces every feature', () => {
    expect(server.capabilities).toMatchObject({
      hoverProvider: true,
      definitionProvider: true,
      referencesProvider: true,
      documentSymbolProvider: true,
      documentFormattingProvider: true,
      foldingRangeProvider: true,
      codeActionProvider: { codeActionKinds: ['quickfix'] },
      completionProvider: { triggerCharacters: ['='] },
    });
  });

  it('publishes diagnostics as you type, with a code linking to its explanation', async () => {
    server.open(v3Uri, v3);
    expect((await server.diagnostics(v3Uri, 1)).diagnostics).toEqual([]);
    server.change(v3Uri, v3.replace('top_k   = 8', 'top_k   = 200'));
    const { diagnostics, version } = await server.diagnostics(v3Uri, 2);
    expect(version).toBe(2);
    const d = diagnostics.find((x) => x.code === 'MOE4102')!;
    expect(d).toMatchObject({
      severity: 1,
      source: 'moe',
      codeDescription: { href: `command:moe.explain?${encodeURIComponent('["MOE4102"]')}` },
      range: { start: pos(v3, 'top_k   = 8', 10) },
    });
    expect(d.message).toMatch(/^top_k \(200\) exceeds/);
    server.change(v3Uri, v3);
    expect((await server.diagnostics(v3Uri, 3)).diagnostics).toEqual([]);
  });

  it('hover on the 671B model name shows its numbers', async () => {
    const hover = (await server.client.sendRequest(HoverRequest.type, { textDocument: { uri: v3Uri }, position: pos(v3, 'model DeepSeekV3', 8) })) as Hover;
    const value = (hover.contents as MarkupContent).value;
    expect(value).toContain('671.03B');
    expect(value).toContain('37.55B');
    expect(value).toContain('68.6 KiB');
    expect(hover.range).toEqual({ start: pos(v3, 'DeepSeekV3'), end: pos(v3, 'DeepSeekV3', 10) });
  });

  it('completion after `=` offers the field\'s values as text edits', async () => {
    const text = v3.replace('score      = sigmoid', 'score      = ');
    server.change(v3Uri, text);
    const items = (await server.client.sendRequest(CompletionRequest.type, { textDocument: { uri: v3Uri }, position: pos(text, 'score      = ', 13) })) as CompletionItem[];
    expect(items.map((i) => i.label)).toEqual(['sigmoid', 'softmax']);
    expect(items[0]).toMatchObject({ kind: 20, textEdit: { newText: 'sigmoid' } });
    server.change(v3Uri, v3);
  });

  it('completion of fields is a snippet', async () => {
    const text = v3.replace('  mtp { depth = 1, weight = 0.3 }\n', '  \n');
    server.change(v3Uri, text);
    const at = pos(text, '  \n}', 2);
    const items = (await server.client.sendRequest(CompletionRequest.type, { textDocument: { uri: v3Uri }, position: at })) as CompletionItem[];
    expect(items.find((i) => i.label === 'mtp')).toMatchObject({ kind: 5, insertTextFormat: 2, textEdit: { newText: 'mtp {\n\t$0\n}' } });
    server.change(v3Uri, v3);
  });

  it('go to definition and find references', async () => {
    const defs = (await server.client.sendRequest(DefinitionRequest.type, { textDocument: { uri: v3Uri }, position: pos(v3, '= DeepSeekV3', 4) })) as Location[];
    expect(defs).toEqual([{ uri: v3Uri, range: { start: pos(v3, 'DeepSeekV3'), end: pos(v3, 'DeepSeekV3', 10) } }]);
    const refs = (await server.client.sendRequest(ReferencesRequest.type, {
      textDocument: { uri: v3Uri },
      position: pos(v3, 'data web', 6),
      context: { includeDeclaration: true },
    })) as Location[];
    expect(refs.map((r) => r.range.start)).toEqual([pos(v3, 'train_on = web', 11), pos(v3, 'data web', 5), pos(v3, 'data = web', 7)]);
  });

  it('document symbols', async () => {
    const symbols = (await server.client.sendRequest(DocumentSymbolRequest.type, { textDocument: { uri: v3Uri } })) as DocumentSymbol[];
    expect(symbols.map((s) => [s.name, s.kind])).toEqual([
      ['h800', 19],
      ['DeepSeekV3', 5],
      ['bbpe', 19],
      ['web', 19],
      ['base', 12],
    ]);
    expect(symbols[1]!.children!.map((c) => c.name)).toContain('layers 3..60');
  });

  it('formatting returns `moe fmt`\'s layout as an edit', async () => {
    const uri = 'untitled:Untitled-1';
    server.open(uri, 'cluster c {devices=8,memory=80GiB}');
    const edits = (await server.client.sendRequest(DocumentFormattingRequest.type, { textDocument: { uri }, options: { tabSize: 2, insertSpaces: true } })) as TextEdit[];
    expect(edits).toHaveLength(1);
    expect(edits[0]!.newText).toBe('cluster c { devices = 8, memory = 80GiB }\n');
    server.close(uri);
  });

  it('a quick fix for a did-you-mean diagnostic', async () => {
    const text = v3.replace('top_groups = 4', 'top_grups = 4');
    server.change(v3Uri, text);
    const { diagnostics } = await server.diagnostics(v3Uri);
    const start = pos(text, 'top_grups');
    const actions = (await server.client.sendRequest(CodeActionRequest.type, {
      textDocument: { uri: v3Uri },
      range: { start, end: start },
      context: { diagnostics },
    })) as { title: string; kind: string; isPreferred: boolean; edit: { changes: Record<string, TextEdit[]> } }[];
    expect(actions).toHaveLength(1);
    expect(actions[0]).toMatchObject({ title: 'Replace with `top_groups`', kind: 'quickfix', isPreferred: true });
    expect(actions[0]!.edit.changes[v3Uri]).toEqual([{ range: { start, end: pos(text, 'top_grups', 9) }, newText: 'top_groups' }]);
    server.change(v3Uri, v3);
  });

  it('folding ranges', async () => {
    const ranges = (await server.client.sendRequest(FoldingRangeRequest.type, { textDocument: { uri: v3Uri } })) as { startLine: number; endLine: number }[];
    expect(ranges).toContainEqual({ startLine: pos(v3, 'model DeepSeekV3').line, endLine: pos(v3, '  mtp {').line + 1 });
  });

  it('requests about a document that is not open answer empty', async () => {
    const uri = pathToFileURL('/nowhere/x.moe').href;
    expect(await server.client.sendRequest(HoverRequest.type, { textDocument: { uri }, position: { line: 0, character: 0 } })).toBeNull();
    expect(await server.client.sendRequest(DocumentSymbolRequest.type, { textDocument: { uri } })).toEqual([]);
  });

  it('an edit to an open import re-checks its importer', async () => {
    const dir = '/mem-lsp';
    const libUri = pathToFileURL(`${dir}/lib.moe`).href;
    const mainUri = pathToFileURL(`${dir}/main.moe`).href;
    server.open(libUri, 'const N = 8\n');
    server.open(mainUri, 'import "lib.moe"\ncluster c { devices = N, memory = 8GiB }\n');
    expect((await server.diagnostics(mainUri, 1)).diagnostics).toEqual([]);
    const next = server.nextDiagnostics(mainUri);
    server.change(libUri, 'const M = 8\n');
    const { diagnostics } = await next;
    expect(diagnostics.map((d) => d.code)).toContain('MOE2002');
    server.close(libUri);
    server.close(mainUri);
  });

  it('a watched file changing on disk re-checks the open documents that read it', async () => {
    const files: Record<string, string> = { 'lib.moe': 'const N = 8\n' };
    const host = memoryHost(files);
    const other = await startServer({ readFile: (p) => host.readFile(p), fileExists: (p) => host.fileExists(p) });
    const mainUri = pathToFileURL('/mem/main.moe').href;
    other.open(mainUri, 'import "lib.moe"\ncluster c { devices = N, memory = 8GiB }\n');
    expect((await other.diagnostics(mainUri, 1)).diagnostics).toEqual([]);
    const next = other.nextDiagnostics(mainUri);
    files['lib.moe'] = 'const M = 8\n';
    Object.assign(host, memoryHost(files));
    await other.client.sendNotification(DidChangeWatchedFilesNotification.type, { changes: [{ uri: pathToFileURL('/mem/lib.moe').href, type: 2 }] });
    expect((await next).diagnostics.map((d) => d.code)).toContain('MOE2002');
    await other.stop();
  });

  it('survives mutated text: every request still answers', async () => {
    const uri = pathToFileURL(join(examplesDir, 'fuzz.moe')).href;
    server.open(uri, tiny);
    const mutant = fc.tuple(fc.nat(), fc.nat({ max: 60 }), fc.string({ maxLength: 8 }), fc.nat()).map(([at, len, junk, cursor]) => {
      const i = at % tiny.length;
      const text = tiny.slice(0, i) + junk + tiny.slice(i + len);
      return { text, cursor: cursor % (text.length + 1) };
    });
    const samples = fc.sample(mutant, { numRuns: 25, seed: 7 });
    for (const { text, cursor } of samples) {
      server.change(uri, text);
      const position = TextDocument.create(uri, 'moe', 1, text).positionAt(cursor);
      const textDocument = { uri };
      await Promise.all([
        server.client.sendRequest(HoverRequest.type, { textDocument, position }),
        server.client.sendRequest(CompletionRequest.type, { textDocument, position }),
        server.client.sendRequest(DefinitionRequest.type, { textDocument, position }),
        server.client.sendRequest(ReferencesRequest.type, { textDocument, position, context: { includeDeclaration: true } }),
        server.client.sendRequest(DocumentSymbolRequest.type, { textDocument }),
        server.client.sendRequest(DocumentFormattingRequest.type, { textDocument, options: { tabSize: 2, insertSpaces: true } }),
        server.client.sendRequest(CodeActionRequest.type, { textDocument, range: { start: position, end: position }, context: { diagnostics: [] } }),
      ]);
    }
    const last = await server.diagnostics(uri);
    expect(Array.isArray(last.diagnostics)).toBe(true);
    server.close(uri);
  });
});

describe('a second server over the same process', () => {
  it('starts and stops cleanly (nothing exits the test runner)', async () => {
    const other = await startServer();
    other.open(tinyUri, tiny);
    expect((await other.diagnostics(tinyUri, 1)).diagnostics).toEqual([]);
    await other.stop();
  });
});
