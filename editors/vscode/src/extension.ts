/**
 * The VS Code client: starts the bundled language server (dist/server.js) over Node IPC for `.moe`
 * documents, and adds `MoE: Explain a diagnostic code` (what `moe explain CODE` prints), which the
 * code links of diagnostics open.
 */
import * as vscode from 'vscode';
import { LanguageClient, TransportKind, type LanguageClientOptions, type ServerOptions } from 'vscode-languageclient/node';
import { explanation, knownCodes } from './explain.js';

let client: LanguageClient | undefined;

const WATCHED = '**/*.{moe,ts,mts,js,mjs,txt,jsonl,json}';

export async function activate(context: vscode.ExtensionContext): Promise<void> {
  const module = context.asAbsolutePath('dist/server.js');
  const serverOptions: ServerOptions = {
    run: { module, transport: TransportKind.ipc },
    debug: { module, transport: TransportKind.ipc, options: { execArgv: ['--nolazy', '--inspect=6009'] } },
  };
  const clientOptions: LanguageClientOptions = {
    documentSelector: [
      { scheme: 'file', language: 'moe' },
      { scheme: 'untitled', language: 'moe' },
    ],
    // what a spec reads besides open buffers: imports, data sources, custom reward modules
    synchronize: { fileEvents: vscode.workspace.createFileSystemWatcher(WATCHED) },
  };
  client = new LanguageClient('moe', 'MoE language server', serverOptions, clientOptions);
  context.subscriptions.push(
    vscode.commands.registerCommand('moe.explain', explain),
    vscode.commands.registerCommand('moe.restartServer', () => client?.restart()),
  );
  await client.start();
}

export async function deactivate(): Promise<void> {
  await client?.stop();
  client = undefined;
}

async function explain(code?: string): Promise<void> {
  const picked = typeof code === 'string' ? code : await vscode.window.showQuickPick(knownCodes(), { placeHolder: 'Diagnostic code, e.g. MOE4102' });
  if (!picked) return;
  const text = explanation(picked);
  if (!text) {
    void vscode.window.showWarningMessage(`Unknown diagnostic code ${picked}`);
    return;
  }
  const doc = await vscode.workspace.openTextDocument({ language: 'markdown', content: text });
  await vscode.window.showTextDocument(doc, { preview: true, viewColumn: vscode.ViewColumn.Beside });
}
