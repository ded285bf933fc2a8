/**
 * Test helper: the language server in-process, connected to a protocol client by two PassThrough
 * streams. Traps (../shared/design/ECOSYSTEM.md): streams are wrapped in StreamMessageReader/Writer,
 * since the server exits the process when a raw input stream ends; `processId` is null so it does
 * not watch a parent process; and `exit` is never sent, since the server calls process.exit().
 */
import { PassThrough, type Readable, type Writable } from 'node:stream';
import {
  createConnection,
  createProtocolConnection,
  DidChangeTextDocumentNotification,
  DidCloseTextDocumentNotification,
  DidOpenTextDocumentNotification,
  InitializedNotification,
  InitializeRequest,
  PublishDiagnosticsNotification,
  ShutdownRequest,
  StreamMessageReader,
  StreamMessageWriter,
  type InitializeResult,
  type ProtocolConnection,
  type PublishDiagnosticsParams,
} from 'vscode-languageserver/node';
import type { CompilerHost } from '../../compiler/bind/program.js';
import { serve } from '../../editors/vscode/src/serve.js';

export interface TestServer {
  readonly client: ProtocolConnection;
  readonly capabilities: InitializeResult['capabilities'];
  open(uri: string, text: string): void;
  change(uri: string, text: string): void;
  close(uri: string): void;
  /** the diagnostics published for `uri` at `version` (the latest one sent) or later */
  diagnostics(uri: string, version?: number): Promise<PublishDiagnosticsParams>;
  /** the next diagnostics published for `uri` from now on, whatever their version */
  nextDiagnostics(uri: string): Promise<PublishDiagnosticsParams>;
  stop(): Promise<void>;
}

export async function startServer(host?: CompilerHost): Promise<TestServer> {
  const toServer = new PassThrough();
  const toClient = new PassThrough();
  const connection = createConnection(new StreamMessageReader(toServer), new StreamMessageWriter(toClient));
  serve(connection, { debounceMs: 0, ...(host ? { host } : {}) });
  return connectClient(toClient, toServer, () => {
    connection.dispose();
    toServer.destroy();
    toClient.destroy();
  });
}

/**
 * A protocol client on a server's output and input streams (in-process, or a child's stdio),
 * initialised; `release` frees the server's side once the client is shut down and disposed.
 */
export async function connectClient(fromServer: Readable, toServer: Writable, release: () => void): Promise<TestServer> {
  const client = createProtocolConnection(new StreamMessageReader(fromServer), new StreamMessageWriter(toServer));
  const latest = new Map<string, PublishDiagnosticsParams>();
  const waiting: { uri: string; version: number; resolve: (p: PublishDiagnosticsParams) => void }[] = [];
  client.onNotification(PublishDiagnosticsNotification.type, (params) => {
    latest.set(params.uri, params);
    for (const w of [...waiting]) {
      if (w.uri === params.uri && (params.version ?? Infinity) >= w.version) {
        waiting.splice(waiting.indexOf(w), 1);
        w.resolve(params);
      }
    }
  });
  client.listen();
  const init = await client.sendRequest(InitializeRequest.type, { processId: null, rootUri: null, capabilities: {}, workspaceFolders: null });
  await client.sendNotification(InitializedNotification.type, {});
  const versions = new Map<string, number>();
  return {
    client,
    capabilities: init.capabilities,
    open(uri, text) {
      versions.set(uri, 1);
      void client.sendNotification(DidOpenTextDocumentNotification.type, { textDocument: { uri, languageId: 'moe', version: 1, text } });
    },
    change(uri, text) {
      const version = (versions.get(uri) ?? 0) + 1;
      versions.set(uri, version);
      void client.sendNotification(DidChangeTextDocumentNotification.type, { textDocument: { uri, version }, contentChanges: [{ text }] });
    },
    close(uri) {
      void client.sendNotification(DidCloseTextDocumentNotification.type, { textDocument: { uri } });
    },
    diagnostics(uri, version = versions.get(uri) ?? 0) {
      const known = latest.get(uri);
      if (known && (known.version ?? Infinity) >= version) return Promise.resolve(known);
      return new Promise((resolve) => waiting.push({ uri, version, resolve }));
    },
    nextDiagnostics(uri) {
      return new Promise((resolve) => waiting.push({ uri, version: -Infinity, resolve }));
    },
    async stop() {
      try {
        await client.sendRequest(ShutdownRequest.type);
      } finally {
        client.dispose();
        release();
      }
    },
  };
}
