/**
 * Where the CUDA libraries are. The executor needs the driver (`libcuda.so.1`, installed with the
 * NVIDIA driver) and cuBLASLt (`libcublasLt.so.13` or `.12`, from the CUDA toolkit or from Python's
 * `nvidia-cublas` wheel, which is where PyTorch users already have it). The kernels ship as PTX, so
 * neither nvcc nor NVRTC is needed at run time.
 *
 * Search order, first match wins: `MOE_CUDA_LIBRARY_PATH` (folders, `:`-separated), `CUDA_HOME` /
 * `CUDA_PATH` (`lib64`, `lib`, `targets/x86_64-linux/lib`), `LD_LIBRARY_PATH`, the driver's usual
 * folders, then the `nvidia/*` folders of Python's site-packages. Pure over an injected file lister,
 * so CI tests every message without a GPU.
 */
import { join } from 'node:path';

export interface LibraryNeed {
  /** what the user would call it */
  readonly title: string;
  /** file names, most wanted first */
  readonly names: readonly string[];
  /** how to get it when it is missing */
  readonly hint: string;
}

export const CUDA_LIBRARIES = {
  driver: {
    title: 'the CUDA driver (libcuda.so.1)',
    names: ['libcuda.so.1', 'libcuda.so'],
    hint: 'install the NVIDIA driver (it provides libcuda.so.1); in a container, run it with the GPU exposed (e.g. docker --gpus all)',
  },
  cublasLt: {
    title: 'cuBLASLt (libcublasLt.so.13 or .12)',
    names: ['libcublasLt.so.13', 'libcublasLt.so.12'],
    hint: 'install the CUDA toolkit and set CUDA_HOME, or `pip install nvidia-cublas` (PyTorch already brings it), or point MOE_CUDA_LIBRARY_PATH at the folder holding it',
  },
} as const satisfies Record<string, LibraryNeed>;

export type LibraryKey = keyof typeof CUDA_LIBRARIES;

/** What the search may look at: the environment, a folder's file names, Python's site folders. */
export interface SearchHost {
  readonly env: Readonly<Record<string, string | undefined>>;
  /** file names in a folder, or [] when it does not exist */
  listDir(dir: string): readonly string[];
  /** site-packages folders of the `python3` on PATH ([] when there is none) */
  pythonSitePackages(): readonly string[];
}

const DRIVER_DIRS = ['/usr/lib/x86_64-linux-gnu', '/usr/lib64', '/usr/local/nvidia/lib64', '/usr/lib/wsl/lib', '/usr/local/cuda/lib64', '/usr/local/cuda/compat'];

/** The folders searched, in order, with where each came from (for the "not found" message). */
export function searchFolders(host: SearchHost): { readonly dir: string; readonly from: string }[] {
  const out: { dir: string; from: string }[] = [];
  const split = (v: string | undefined): string[] => (v ?? '').split(':').filter((d) => d.length > 0);
  for (const dir of split(host.env.MOE_CUDA_LIBRARY_PATH)) out.push({ dir, from: 'MOE_CUDA_LIBRARY_PATH' });
  for (const key of ['CUDA_HOME', 'CUDA_PATH'] as const) {
    const home = host.env[key];
    if (home) for (const sub of ['lib64', 'lib', 'targets/x86_64-linux/lib']) out.push({ dir: join(home, sub), from: key });
  }
  for (const dir of split(host.env.LD_LIBRARY_PATH)) out.push({ dir, from: 'LD_LIBRARY_PATH' });
  for (const dir of DRIVER_DIRS) out.push({ dir, from: 'system' });
  for (const site of host.pythonSitePackages()) {
    const nvidia = join(site, 'nvidia');
    for (const pkg of host.listDir(nvidia)) {
      out.push({ dir: join(nvidia, pkg, 'lib'), from: `python (${nvidia})` });
    }
  }
  const seen = new Set<string>();
  return out.filter(({ dir }) => (seen.has(dir) ? false : (seen.add(dir), true)));
}

export type Found = { readonly ok: true; readonly path: string; readonly from: string } | { readonly ok: false; readonly message: string; readonly hint: string };

/** The first folder holding one of the library's names (names in order of preference within a folder). */
export function findLibrary(key: LibraryKey, host: SearchHost): Found {
  const need = CUDA_LIBRARIES[key];
  const folders = searchFolders(host);
  for (const name of need.names) {
    for (const { dir, from } of folders) {
      if (host.listDir(dir).includes(name)) return { ok: true, path: join(dir, name), from };
    }
  }
  return {
    ok: false,
    message: `${need.title} was not found (searched ${folders.length} folders: MOE_CUDA_LIBRARY_PATH, CUDA_HOME, LD_LIBRARY_PATH, the driver's folders, Python's nvidia-* wheels)`,
    hint: need.hint,
  };
}
