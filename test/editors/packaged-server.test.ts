/**
 * Issue 19: the language server as the .vsix ships it. `npm run package:vscode` builds the
 * bundles; the files `vsce ls` says the .vsix holds are copied outside the repository (so no
 * node_modules of ours can stand in for what the package lacks), and that server is started over
 * stdio and spoken to in LSP. On 557c2c5 it published no diagnostics and no hovers for a spec with
 * a `custom` reward: the CommonJS bundle had no `import.meta.url`, and ts-morph, which checks a
 * custom reward's signature, was not in the .vsix. (The e2e test in editors/vscode/e2e drives a
 * real VS Code, which needs a download this test does not.)
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HoverRequest, type Hover, type MarkupContent } from 'vscode-languageserver/node';
import { connectClient, type TestServer } from './lsp-client.js';

const repo = join(import.meta.dirname, '..', '..');
const extensionDir = join(repo, 'editors', 'vscode');
const fixtures = join(repo, 'test', 'fixtures', 'experiments');

/** Packs the extension and copies what the .vsix holds into a folder of its own. */
function installPackaged(): string {
  execFileSync(process.execPath, ['--import', 'tsx', join(extensionDir, 'scripts', 'package.mts')], { cwd: repo, stdio: 'pipe', timeout: 240_000 });
  const vsce = join(dirname(createRequire(import.meta.url).resolve('@vscode/vsce/package.json')), 'vsce');
  const files = execFileSync(process.execPath, [vsce, 'ls', '--no-dependencies'], { cwd: extensionDir, encoding: 'utf8' }).trim().split('\n');
  const installed = mkdtempSync(join(tmpdir(), 'moe-vsix-'));
  for (const file of files) {
    mkdirSync(dirname(join(installed, file)), { recursive: true });
    copyFileSync(join(extensionDir, file), join(installed, file));
  }
  return installed;
}

describe('the packaged language server', () => {
  let server: ChildProcess;
  let lsp: TestServer;
  const specDir = mkdtempSync(join(tmpdir(), 'moe-vsix-spec-'));
  const specPath = join(specDir, 'custom-reward-signature.moe');
  const specUri = pathToFileURL(specPath).href;
  const spec = readFileSync(join(fixtures, 'custom-reward-signature.moe'), 'utf8');

  beforeAll(async () => {
    copyFileSync(join(fixtures, 'custom-reward-signature.moe'), specPath);
    copyFileSync(join(fixtures, 'signatures.reward.ts'), join(specDir, 'signatures.reward.ts'));
    const installed = installPackaged();
    server = spawn(process.execPath, [join(installed, 'dist', 'server.js'), '--stdio'], { cwd: installed, stdio: ['pipe', 'pipe', 'inherit'] });
    lsp = await connectClient(server.stdout!, server.stdin!, () => server.kill());
  }, 300_000);

  afterAll(async () => {
    await lsp?.stop().catch(() => undefined);
    server?.kill();
  });

  it('publishes the checker\'s diagnostics for a spec with custom rewards, signature errors (ts-morph) included', { timeout: 120_000 }, async () => {
    lsp.open(specUri, spec);
    const params = await lsp.diagnostics(specUri);
    const signature = params.diagnostics.filter((d) => d.code === 'MOE6013');
    // the three `// expect: MOE6013` lines of the fixture, as `moe check` reports them
    expect(signature.map((d) => d.range.start.line)).toEqual([3, 4, 5]);
    expect(signature[0]!.message).toContain('custom reward `signatures.reward.ts#byLength` does not have the reward signature');
  });

  it('answers hovers on that spec', { timeout: 60_000 }, async () => {
    const line = spec.split('\n').findIndex((l) => l.includes('normalize'));
    const hover = (await lsp.client.sendRequest(HoverRequest.type, { textDocument: { uri: specUri }, position: { line, character: 4 } })) as Hover | null;
    expect(hover).not.toBeNull();
    expect((hover!.contents as MarkupContent).value).toContain('normalize');
  });
});
