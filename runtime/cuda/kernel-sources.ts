/** The CUDA sources behind kernels.generated.ts, and the hash that tells when it is stale. */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

export const CUDA_SOURCES = ['forward', 'backward', 'attention', 'flash', 'grouped_bf16', 'decode', 'grpo'] as const;

/** Headers the sources include (their text is part of the hash too). */
export const CUDA_HEADERS = ['common.cuh', 'mma.cuh'] as const;

/** PTX for compute_80: the driver JIT-compiles it for the GPU at hand (sm_80 and later). */
export const NVCC_FLAGS = ['-ptx', '-arch=compute_80', '-O3', '-std=c++17'] as const;

export function kernelSourceHash(root: string): string {
  const hash = createHash('sha256');
  hash.update(NVCC_FLAGS.join(' '));
  for (const name of CUDA_SOURCES) hash.update(readFileSync(join(root, 'runtime/cuda/kernels', `${name}.cu`)));
  for (const name of CUDA_HEADERS) hash.update(readFileSync(join(root, 'runtime/cuda/kernels', name)));
  return hash.digest('hex').slice(0, 16);
}
