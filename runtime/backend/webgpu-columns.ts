/**
 * Writes new cache columns into a preallocated KV cache on webgpu, in place, at a column read from
 * a tensor. A decode step captured as a GPU graph (infer/decoder.ts) must have fixed shapes and
 * fixed buffers; a cache that grows by concatenation has neither. With a cache of the generation's
 * full length, each step writes its columns over the zeros at the next position, and the position
 * comes in as an int32 tensor so a replay writes where the step says, not where the capture did.
 */
import { tf } from '../tf.js';
import { flatProgram, runInPlace, type WebgpuBackendLike } from './webgpu-internals.js';

/** cache [B, H, L, W] ← fresh [B, H, T, W] at columns column[0] … column[0] + T − 1; nothing is allocated. */
export function writeColumnsInPlace(backend: WebgpuBackendLike, cache: tf.Tensor, fresh: tf.Tensor, column: tf.Tensor1D): void {
  const [b, h, length, width] = cache.shape as [number, number, number, number];
  const [fb, fh, time, fw] = fresh.shape as [number, number, number, number];
  if (cache.rank !== 4 || fresh.rank !== 4 || fb !== b || fh !== h || fw !== width || time > length || column.dtype !== 'int32') {
    throw new Error(`cannot write [${fresh.shape.join(', ')}] into cache [${cache.shape.join(', ')}] at an ${column.dtype} column`);
  }
  // one thread per fresh element: the program sees the cache as a flat output of fresh's size (its
  // size uniform bounds the threads), and the buffer bound is the cache's own, so writes land in it
  const program = flatProgram(
    `moe_cache_columns_${time}_${length}_${width}`,
    [fresh.size],
    ['F', 'P'],
    `let j = index % ${width};
          let t = (index / ${width}) % ${time};
          let row = index / (${width} * ${time});
          result[(row * ${length} + P[0] + t) * ${width} + j] = F[index];`,
  );
  runInPlace(backend, program, [fresh, column], { dataId: cache.dataId, shape: [fresh.size], dtype: 'float32' });
}
