/**
 * The gradient of the grouped MoE layout's per-tile weight gather (runtime/ops/moe-grouped.ts) on
 * webgpu: out[e, j] = Σ_{t < tilesOf[e]} g[tileStart[e] + t, j], one thread per output element.
 * Each element of g is read once (an expert's tiles are consecutive), where the portable one-hot
 * matmul costs 2·E·nt·M flops: at 0.5B (E = 64, nt = 447, M = 262,144) 15 GFLOP per stacked weight.
 */
import { tf } from '../tf.js';
import { flatProgram, type WebgpuBackendLike } from './webgpu-internals.js';

export function tileSumWebgpu(backend: WebgpuBackendLike, g: tf.Tensor2D, tileStart: tf.Tensor1D, tilesOf: tf.Tensor1D, E: number): tf.Tensor2D {
  const M = g.shape[1];
  const program = flatProgram(`moe_tile_sum_${M}`, [E, M], ['G', 'Start', 'Count'], `
          let e = index / ${M};
          let j = index - e * ${M};
          let first = Start[e];
          let count = Count[e];
          var acc = 0.0;
          for (var t = 0; t < count; t++) {
            acc = acc + G[(first + t) * ${M} + j];
          }
          result[index] = acc;`);
  const runner = backend as unknown as {
    runWebGPUProgram(program: unknown, inputs: tf.TensorInfo[], dtype: 'float32'): tf.TensorInfo;
  };
  const info = runner.runWebGPUProgram(program, [g, tileStart, tilesOf], 'float32');
  return tf.engine().makeTensorFromTensorInfo(info) as tf.Tensor2D;
}
