/**
 * Writes new cache columns into a preallocated KV cache on webgpu, in place, at a column read from
 * a tensor. A decode step captured as a GPU graph (infer/decoder.ts) must have fixed shapes and
 * fixed buffers; a cache that grows by concatenation has neither. With a cache of the generation's
 * full length, each step writes its columns over the zeros at the next position, and the position
 * comes in as an int32 tensor so a replay writes where the step says, not where the capture did.
 */
import { tf } from '../tf.js';
import { bufferOf, type WebgpuBackendLike } from './webgpu-internals.js';

const WORKGROUP = 64;

interface RunsPrograms {
  runWebGPUProgram(program: object, inputs: tf.TensorInfo[], dtype: 'float32', uniforms: undefined, output: tf.TensorInfo): tf.TensorInfo;
}

/** cache [B, H, L, W] ← fresh [B, H, T, W] at columns column[0] … column[0] + T − 1; nothing is allocated. */
export function writeColumnsInPlace(backend: WebgpuBackendLike, cache: tf.Tensor, fresh: tf.Tensor, column: tf.Tensor1D): void {
  const [b, h, length, width] = cache.shape as [number, number, number, number];
  const [fb, fh, time, fw] = fresh.shape as [number, number, number, number];
  if (cache.rank !== 4 || fresh.rank !== 4 || fb !== b || fh !== h || fw !== width || time > length || column.dtype !== 'int32') {
    throw new Error(`cannot write [${fresh.shape.join(', ')}] into cache [${cache.shape.join(', ')}] at an ${column.dtype} column`);
  }
  const count = fresh.size;
  const program = {
    variableNames: ['F', 'P'],
    outputShape: [count],
    shaderKey: `moe_cache_columns_${time}_${length}_${width}`,
    dispatchLayout: { x: [0] },
    dispatch: [Math.ceil(count / WORKGROUP), 1, 1],
    workgroupSize: [WORKGROUP, 1, 1],
    size: true,
    getUserCode: () => `
      fn main(index : i32) {
        if (index < uniforms.size) {
          let j = index % ${width};
          let t = (index / ${width}) % ${time};
          let row = index / (${width} * ${time});
          result[(row * ${length} + P[0] + t) * ${width} + j] = F[index];
        }
      }`,
  };
  bufferOf(backend, cache);
  // the program sees the cache as a flat output of `count` elements (its size uniform bounds the
  // threads); the buffer is the cache's own, so the writes land in it
  const target = { dataId: cache.dataId, shape: [count], dtype: 'float32' as const };
  (backend as unknown as RunsPrograms).runWebGPUProgram(program, [fresh, column], 'float32', undefined, target);
  backend.tensorMap.get(cache.dataId).values = null;
}
