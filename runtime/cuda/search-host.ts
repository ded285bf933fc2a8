/** The real file system and Python behind `SearchHost` (libraries.ts). */
import { execFileSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { runtimeEnv } from '../config/env.js';
import type { SearchHost } from './libraries.js';

function listDir(dir: string): readonly string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}

/** Asks `python3` for its site-packages (the nvidia-* wheels live there); a missing python is no error. */
function pythonSitePackages(python: string): readonly string[] {
  const script = 'import site,sys;print("\\n".join(site.getsitepackages()+[site.getusersitepackages()]+sys.path))';
  try {
    const out = execFileSync(python, ['-c', script], { encoding: 'utf8', timeout: 10_000, stdio: ['ignore', 'pipe', 'ignore'] });
    return [...new Set(out.split('\n').filter((l) => l.endsWith('-packages')))];
  } catch {
    return [];
  }
}

/** The search over this machine: MOE_* settings from the env module, the CUDA toolkit's own variables as set. */
export function nodeSearchHost(): SearchHost {
  const settings = runtimeEnv();
  const env = {
    ...(settings.cudaLibraryPath === null ? {} : { MOE_CUDA_LIBRARY_PATH: settings.cudaLibraryPath }),
    CUDA_HOME: process.env.CUDA_HOME,
    CUDA_PATH: process.env.CUDA_PATH,
    LD_LIBRARY_PATH: process.env.LD_LIBRARY_PATH,
  };
  let sites: readonly string[] | undefined;
  return { env, listDir, pythonSitePackages: () => (sites ??= pythonSitePackages(settings.python)) };
}
