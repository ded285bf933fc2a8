/** Finding the CUDA libraries: every place a user may have them, and the message when they are missing. */
import { describe, expect, it } from 'vitest';
import { findLibrary, searchFolders, type SearchHost } from '../../../runtime/cuda/libraries.js';

function host(files: Record<string, readonly string[]>, env: Record<string, string> = {}, sites: readonly string[] = []): SearchHost {
  return { env, listDir: (dir) => files[dir] ?? [], pythonSitePackages: () => sites };
}

describe('CUDA library discovery', () => {
  it('finds the driver in the system folders and cuBLASLt in a Python nvidia wheel', () => {
    const h = host(
      {
        '/usr/lib/x86_64-linux-gnu': ['libcuda.so.1', 'libc.so.6'],
        '/venv/site-packages/nvidia': ['cublas', 'cuda_runtime'],
        '/venv/site-packages/nvidia/cublas/lib': ['libcublas.so.13', 'libcublasLt.so.13'],
      },
      {},
      ['/venv/site-packages'],
    );
    expect(findLibrary('driver', h)).toEqual({ ok: true, path: '/usr/lib/x86_64-linux-gnu/libcuda.so.1', from: 'system' });
    expect(findLibrary('cublasLt', h)).toMatchObject({ ok: true, path: '/venv/site-packages/nvidia/cublas/lib/libcublasLt.so.13' });
  });

  it('searches MOE_CUDA_LIBRARY_PATH first, then CUDA_HOME, then LD_LIBRARY_PATH', () => {
    const env = { MOE_CUDA_LIBRARY_PATH: '/mine:/mine2', CUDA_HOME: '/opt/cuda', LD_LIBRARY_PATH: '/ld' };
    const dirs = searchFolders(host({}, env)).map((f) => f.dir);
    expect(dirs.slice(0, 6)).toEqual(['/mine', '/mine2', '/opt/cuda/lib64', '/opt/cuda/lib', '/opt/cuda/targets/x86_64-linux/lib', '/ld']);
    const h = host({ '/ld': ['libcublasLt.so.13'], '/opt/cuda/lib64': ['libcublasLt.so.13'] }, env);
    expect(findLibrary('cublasLt', h)).toMatchObject({ ok: true, path: '/opt/cuda/lib64/libcublasLt.so.13', from: 'CUDA_HOME' });
  });

  it('prefers cuBLASLt 13 over 12 wherever each is', () => {
    const h = host({ '/a': ['libcublasLt.so.12'], '/b': ['libcublasLt.so.13'] }, { MOE_CUDA_LIBRARY_PATH: '/a:/b' });
    expect(findLibrary('cublasLt', h)).toMatchObject({ ok: true, path: '/b/libcublasLt.so.13' });
  });

  it('says what is missing and how to get it', () => {
    const missing = findLibrary('cublasLt', host({ '/usr/lib/x86_64-linux-gnu': ['libcuda.so.1'] }));
    expect(missing.ok).toBe(false);
    if (missing.ok) return;
    expect(missing.message).toMatch(/^cuBLASLt \(libcublasLt\.so\.13 or \.12\) was not found/);
    expect(missing.hint).toMatch(/pip install nvidia-cublas/);
    const driver = findLibrary('driver', host({}));
    expect(driver.ok).toBe(false);
    if (!driver.ok) expect(driver.hint).toMatch(/NVIDIA driver/);
  });
});
