/**
 * webgpu's fused ops: the shaders of webgpu-fused.ts, webgpu-router.ts and webgpu-matmul.ts
 * registered as the webgpu forms of the fused ops the generic kernels declare (registry.ts). The
 * ops themselves never ask which backend runs them; registerWebgpuOps (called by webgpu.ts when
 * select.ts starts webgpu) is the one place that wires these in.
 */
import { tf } from '../tf.js';
import { rmsnorm } from '../ops/rms-norm.js';
import { gated } from '../ops/swiglu.js';
import { productT } from '../ops/linear.js';
import { applyRotary, type RotaryTables } from '../ops/rope.js';
import { rotate } from '../infer/rotary.js';
import { expertCounts, routerWeights, selectExperts } from '../ops/moe-router.js';
import { assignedProduct } from '../ops/moe-assigned.js';
import { groupedMatMul, type TileLayout } from '../ops/moe-grouped.js';
import { sumMiddle } from '../ops/moe-common.js';
import { rmsNormInputGrad, rmsNormRows, rotaryMap, siluMul } from './webgpu-fused.js';
import { countExperts, routerWeights as routerWeightsShader, selectExperts as selectShader } from './webgpu-router.js';
import { gemm } from './webgpu-matmul.js';

const WEBGPU = 'webgpu';

/** RMSNorm as one shader each way; the weight gradient is Σ_rows dy · x̂. */
function fusedRmsnorm(x: tf.Tensor, w: tf.Tensor, eps: number): tf.Tensor {
  const norm = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const [xx, ww, save] = args as [tf.Tensor, tf.Tensor, tf.GradSaveFunc];
    save([xx, ww]);
    return {
      value: rmsNormRows(xx, ww, eps),
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const [xs, ws] = saved as [tf.Tensor, tf.Tensor];
        const D = xs.shape[xs.rank - 1]!;
        const dw = tf.sum(tf.reshape(tf.mul(dy, rmsNormRows(xs, null, eps)), [-1, D]), 0);
        return [rmsNormInputGrad(xs, ws, dy, eps), dw];
      },
    };
  });
  return norm(x, w);
}

/** The rotary map as one shader each way, swapping partners by index. */
function fusedRotary(x: tf.Tensor, tables: RotaryTables): tf.Tensor {
  const rotateRows = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const [input, save] = args as [tf.Tensor, tf.GradSaveFunc];
    save([tables.cos, tables.sin]);
    return {
      value: rotaryMap(input, tables.cos, tables.sin, tables.interleaved, false),
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => rotaryMap(dy, saved[0]!, saved[1]!, tables.interleaved, true),
    };
  });
  return rotateRows(x);
}

/** One-row-per-assignment products as `gemm` with an expert index per batch (a GEMV: webgpu-gemv.ts). */
function assignedGemm(a: tf.Tensor, w: tf.Tensor, expertOf: tf.Tensor1D, transB: boolean): tf.Tensor {
  const [A, , K] = a.shape as [number, number, number];
  const [E, rows, cols] = w.shape as [number, number, number];
  const dims = { batch: A, M: 1, N: transB ? rows : cols, K, batchA: A, batchB: E, transA: false, transB, indexedB: true, segmentK: false };
  return gemm(dims, { a, b: w, index: expertOf });
}

/**
 * The grouped expert products as three tiled GEMMs that read the stacked weights in place: the
 * product and the input gradient pick B per tile by tileExpert, the weight gradient sums each
 * expert's own rows.
 */
function groupedGemm(x: tf.Tensor, w: tf.Tensor, layout: TileLayout): tf.Tensor {
  const [nt, T, In] = x.shape as [number, number, number];
  const [E, Out] = w.shape as [number, number, number];
  const common = { transA: false, segmentK: false };
  const product = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const [xx, ww, save] = args as [tf.Tensor, tf.Tensor, tf.GradSaveFunc];
    save([xx, ww, layout.tileExpert, layout.rowStart, layout.rowCount]);
    const y = gemm({ ...common, batch: nt, M: T, N: Out, K: In, transB: true, batchA: nt, batchB: E, indexedB: true }, { a: xx, b: ww, index: layout.tileExpert });
    return {
      value: y,
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const [xs, ws, tileExpert, rowStart, rowCount] = saved as [tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor];
        // dx[t] = dy[t] · W[e(t)]: [T, Out] × [Out, In]
        const dx = gemm({ ...common, batch: nt, M: T, N: In, K: Out, transB: false, batchA: nt, batchB: E, indexedB: true }, { a: dy, b: ws, index: tileExpert });
        // dW[e] = Σ over e's rows r of dy[r]ᵀ · x[r]: A = dy as [R, Out] read transposed, B = x as [R, In]
        const dw = gemm(
          { batch: E, M: Out, N: In, K: nt * T, transA: true, transB: false, batchA: 1, batchB: 1, indexedB: false, segmentK: true },
          { a: dy, b: xs, kStart: rowStart, kCount: rowCount },
        );
        return [dx, dw];
      },
    };
  });
  return product(x, w);
}

/** Registers every fused op above as webgpu's (idempotent: a registration replaces the previous one). */
export function registerWebgpuOps(): void {
  rmsnorm.register(WEBGPU, fusedRmsnorm);
  gated.register(WEBGPU, siluMul);
  // W read as stored: a transposed operand costs our matmul kernels nothing (webgpu-matmul.ts)
  productT.register(WEBGPU, (rows, w) => tf.matMul(rows, w, false, true));
  applyRotary.register(WEBGPU, fusedRotary);
  rotate.register(WEBGPU, (x, tables) => rotaryMap(x, tables.cos, tables.sin, tables.interleaved, false));
  selectExperts.register(WEBGPU, selectShader);
  routerWeights.register(WEBGPU, routerWeightsShader);
  expertCounts.register(WEBGPU, countExperts);
  assignedProduct.register(WEBGPU, assignedGemm);
  groupedMatMul.register(WEBGPU, groupedGemm);
  sumMiddle.register(WEBGPU, (a) => {
    const [R, J, D] = a.shape;
    return tf.reshape(tf.addN(tf.split(a, J, 1)), [R, D]);
  });
}
