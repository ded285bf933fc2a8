/**
 * Matrix products with a handful of rows (M ≤ 4: a decoding step's projections, one row per
 * routed assignment) on webgpu. They read a whole weight matrix to make a few outputs, so what
 * matters is reading B once, coalesced, with enough workgroups in flight; the tiled GEMM
 * (webgpu-matmul.ts) spends a 128 × 128 tile and 64 barriered k-steps on one row (measured on the
 * H100: 0.85 ms for 6 experts' [1, 1024] × [1024, 256], where the weights are 6 MB), and tfjs's own
 * kernel was ~120 µs for a [1, 1024] × [1024, 512] projection.
 *
 * A workgroup of 256 threads makes NB outputs of one batch: the threads split into NB columns ×
 * KS slices of k, each thread summing every KS-th k for all M rows at once (B read once, four loads
 * in flight a step), then the KS partial sums of each output are added from workgroup memory. The
 * split follows B's layout so that a warp's 32 threads read 32 consecutive floats: along k when B
 * is transposed ([N, K], the PyTorch weight layout: NB = 2, KS = 128, partial sums added in a tree;
 * many slices keep enough warps in flight to hide memory latency: 32 slices left a [1, 1024] ×
 * [1024, 1024] product at a few warps per SM), along n otherwise (NB = 32, KS = 8, added in slice
 * order). Batches pick their B like the GEMM: one shared, one each, or by an index tensor.
 *
 * Reads go through f32(): tfjs casts int32 to float32 without copying (the buffer stays int32, and
 * tfjs declares a shader's input by the buffer's type), so a one-hot mask cast to float arrives here
 * as an i32 array.
 */
import { tf } from '../tf.js';
import type { GemmDims } from './webgpu-gemm-dims.js';
import type { WebgpuBackendLike } from './webgpu-internals.js';

const THREADS = 256;
/** k values a thread loads per loop step */
const UNROLL = 4;
/** the most rows a product may have to take this path */
export const GEMV_MAX_ROWS = 4;
/** workgroups along y hold the batch (WebGPU's per-dimension limit) */
const MAX_BATCH = 65535;

/** Whether the product runs here: few rows, A not transposed, all of K summed. */
export function gemvApplies(dims: GemmDims): boolean {
  return dims.M <= GEMV_MAX_ROWS && !dims.transA && dims.segmentK !== true && dims.batch <= MAX_BATCH;
}

function split(transB: boolean): { NB: number; KS: number } {
  return transB ? { NB: 2, KS: 128 } : { NB: 32, KS: 8 };
}

/**
 * WGSL: each column's KS partial sums (at j·KS + ks, KS a power of two) added in a workgroup tree
 * into its first slot, for all M rows.
 */
function treeSum(KS: number, M: number): string {
  return `for (var stride = ${KS / 2}; stride > 0; stride >>= 1) {
          let ks = local % ${KS};
          if (ks < stride) {
            ${Array.from({ length: M }, (_, m) => `partial[${m * THREADS} + local] += partial[${m * THREADS} + local + stride];`).join('\n            ')}
          }
          workgroupBarrier();
        }`;
}

function gemvSource(dims: GemmDims): string {
  const { M } = dims;
  const { NB, KS } = split(dims.transB);
  const [N, K] = ['uniforms.dimN', 'uniforms.dimK'];
  const bMatrix = dims.indexedB ? 'Index[z]' : dims.batchB === 1 ? '0' : 'z';
  const aMatrix = dims.batchA === 1 ? '0' : 'z';
  const rows = Array.from({ length: M }, (_, m) => m);
  const bIndexAt = (k: string): string => (dims.transB ? `n * ${K} + ${k}` : `${k} * ${N} + n`);
  const unrolled = Array.from({ length: UNROLL }, (_, u) => u);
  // thread `local` is column nl, slice ks; its partial sum sits at local, and column j's slice q at:
  const [nl, ks, slot] = dims.transB ? [`local / ${KS}`, `local % ${KS}`, `j * ${KS} + q`] : [`local % ${NB}`, `local / ${NB}`, `q * ${NB} + j`];
  return `
      var<workgroup> partial : array<f32, ${THREADS * M}>;
      fn main() {
        let local = i32(localIndex);
        let z = i32(workgroupId.y);
        let n0 = i32(workgroupId.x) * ${NB};
        let n = n0 + ${nl};
        let aBase = ${aMatrix} * ${M} * ${K};
        let bBase = ${bMatrix} * ${N} * ${K};
        ${rows.map((m) => `var acc${m} = 0.0;`).join(' ')}
        if (n < ${N}) {
          // ${UNROLL} independent loads in flight per thread and step: the loop is latency-bound otherwise
          for (var k0 = ${ks}; k0 < ${K}; k0 += ${UNROLL * KS}) {
            ${unrolled.map((u) => `let k${u} = k0 + ${u * KS};
            let b${u} = select(0.0, f32(B[bBase + ${bIndexAt(`k${u}`)}]), k${u} < ${K});`).join('\n            ')}
            ${rows
              .map((m) => unrolled.map((u) => `acc${m} = fma(select(0.0, f32(A[aBase + ${m} * ${K} + k${u}]), k${u} < ${K}), b${u}, acc${m});`).join('\n            '))
              .join('\n            ')}
          }
        }
        ${rows.map((m) => `partial[${m * THREADS} + local] = acc${m};`).join(' ')}
        workgroupBarrier();
        ${dims.transB ? treeSum(KS, M) : ''}
        if (local < ${NB * M}) {
          let m = local / ${NB};
          let j = local % ${NB};
          ${
            dims.transB
              ? `let s = partial[m * ${THREADS} + j * ${KS}];`
              : `var s = 0.0;
          for (var q = 0; q < ${KS}; q++) { s += partial[m * ${THREADS} + ${slot}]; }`
          }
          if (n0 + j < ${N}) { result[(z * ${M} + m) * ${N} + n0 + j] = s; }
        }
      }`;
}

/** The product as a tfjs program run on `backend`: inputs A, B (then Index when indexedB); output `outputShape`. */
export function runGemv(backend: WebgpuBackendLike, dims: GemmDims, inputs: readonly tf.TensorInfo[], outputShape: number[]): tf.TensorInfo {
  const { NB } = split(dims.transB);
  const program = {
    variableNames: dims.indexedB ? ['A', 'B', 'Index'] : ['A', 'B'],
    outputShape,
    shaderKey: `moe_gemv_${dims.M}_${dims.transB ? 't' : ''}_${dims.batchA === 1 ? 'a1' : ''}_${dims.batchB === 1 ? 'b1' : ''}_${dims.indexedB ? 'i' : ''}`,
    // not flat: tfjs then calls main() without a global index
    dispatchLayout: { x: [1], y: [0] },
    dispatch: [Math.ceil(dims.N / NB), dims.batch, 1],
    workgroupSize: [THREADS, 1, 1],
    uniforms: 'dimN : i32, dimK : i32,',
    getUserCode: () => gemvSource(dims),
  };
  const runner = backend as unknown as {
    runWebGPUProgram(program: object, inputs: tf.TensorInfo[], dtype: 'float32', uniforms: { type: 'int32'; data: number[] }[]): tf.TensorInfo;
  };
  const sizes = [dims.N, dims.K].map((v) => ({ type: 'int32' as const, data: [v] }));
  return runner.runWebGPUProgram(program, [...inputs], 'float32', sizes);
}
