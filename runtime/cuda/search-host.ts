/** The real file system and Python behind `SearchHost` (libraries.ts). */
import { execFileSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import type { SearchHost } from './libraries.js';

function listDir(dir: string): readonly string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}

/** Asks `python3` for its site-packages (the nvidia-* wheels live there); a missing python is no error. */
function pythonSitePackages(env: Readonly<Record<string, string | undefined>>): readonly string[] {
  const script = 'import site,sys;print("\\n".join(site.getsitepackages()+[site.getusersitepackages()]+sys.path))';
  try {
    const out = execFileSync(env.MOE_PYTHON ?? 'python3', ['-c', script], { encoding: 'utf8', timeout: 10_000, stdio: ['ignore', 'pipe', 'ignore'] });
    return [...new Set(out.split('\n').filter((l) => l.endsWith('-packages')))];
  } catch {
    return [];
  }
}

export function nodeSearchHost(env: Readonly<Record<string, string | undefined>> = process.env): SearchHost {
  let sites: readonly string[] | undefined;
  return { env, listDir, pythonSitePackages: () => (sites ??= pythonSitePackages(env)) };
}
