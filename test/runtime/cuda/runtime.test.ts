/** Which `--backend` choices open the cuda executor, on a machine where its libraries are missing. */
import { describe, expect, it } from 'vitest';
import { RuntimeError } from '../../../runtime/errors.js';
import type { SearchHost } from '../../../runtime/cuda/libraries.js';
import { cudaFor } from '../../../runtime/cuda/runtime.js';

const nothing: SearchHost = { env: {}, listDir: () => [], pythonSitePackages: () => [] };

describe('cudaFor', () => {
  it('falls back quietly under auto, and refuses in one line when cuda is asked for', async () => {
    expect(await cudaFor(undefined, nothing)).toBeUndefined();
    expect(await cudaFor('auto', nothing)).toBeUndefined();
    const asked = cudaFor('cuda', nothing);
    await expect(asked).rejects.toBeInstanceOf(RuntimeError);
    await expect(asked).rejects.toThrow(/^no CUDA: the CUDA driver \(libcuda\.so\.1\) was not found/);
  });

  it('never opens for a tfjs backend', async () => {
    for (const name of ['cpu', 'wasm', 'webgpu', 'tensorflow']) expect(await cudaFor(name, nothing)).toBeUndefined();
  });
});
