/**
 * A throw-away code-server: its own user-data and extensions folders (settings that keep the
 * screen quiet: no welcome page, no workspace-trust prompt), the .vsix installed, listening on
 * localhost without auth until `stop()`.
 */
import { execFileSync, spawn } from 'node:child_process';
import { mkdirSync, openSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Tools } from './tools.mjs';

export interface CodeServer {
  readonly url: string;
  stop(): void;
}

const SETTINGS = {
  'workbench.startupEditor': 'none',
  'workbench.colorTheme': 'Default Dark Modern',
  'workbench.tips.enabled': false,
  'security.workspace.trust.enabled': false,
  'telemetry.telemetryLevel': 'off',
  'extensions.autoCheckUpdates': false,
  'extensions.autoUpdate': false,
  'editor.minimap.enabled': false,
  'editor.hover.delay': 150,
  'editor.fontSize': 14,
  'window.commandCenter': false,
  'chat.commandCenter.enabled': false,
  'workbench.secondarySideBar.defaultVisibility': 'hidden',
  'chat.disableAIFeatures': true,
};

export async function startCodeServer(tools: Tools, vsix: string, workspace: string, home: string, port: number): Promise<CodeServer> {
  rmSync(home, { recursive: true, force: true });
  const userData = join(home, 'user-data');
  const extensions = join(home, 'extensions');
  mkdirSync(join(userData, 'User'), { recursive: true });
  writeFileSync(join(userData, 'User', 'settings.json'), JSON.stringify(SETTINGS, null, 2));
  const env = {
    ...process.env,
    XDG_CONFIG_HOME: join(home, 'config'),
    XDG_DATA_HOME: join(home, 'data'),
    XDG_CACHE_HOME: join(home, 'cache'),
    HOME: home,
  };
  const common = ['--user-data-dir', userData, '--extensions-dir', extensions];
  execFileSync(tools.node, [tools.codeServer, ...common, '--install-extension', vsix], { env, stdio: 'inherit' });
  const log = openSync(join(home, 'code-server.log'), 'w');
  const child = spawn(
    tools.node,
    [tools.codeServer, ...common, '--auth', 'none', '--bind-addr', `127.0.0.1:${port}`, '--disable-telemetry', '--disable-update-check', '--disable-workspace-trust', workspace],
    // its own process group, so stopping it also stops the helpers it forks (file watcher, agent host)
    { env, stdio: ['ignore', log, log], detached: true },
  );
  const stop = (): void => {
    try {
      if (child.pid !== undefined) process.kill(-child.pid, 'SIGTERM');
    } catch {
      // already gone
    }
  };
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`code-server exited with ${child.exitCode}; see ${join(home, 'code-server.log')}`);
    try {
      if ((await fetch(`${url}/healthz`)).ok) return { url, stop };
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  stop();
  throw new Error(`code-server did not answer on ${url} within 60 s; see ${join(home, 'code-server.log')}`);
}
