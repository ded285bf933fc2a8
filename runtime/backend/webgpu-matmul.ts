/**
 * A register-tiled fp32 matmul for tfjs-backend-webgpu's BatchMatMul, and its grouped form for MoE
 * experts (each batch of A multiplied by the B batch an index tensor names). Products of a few rows
 * go to webgpu-gemv.ts instead.
 *
 * The profile of a 0.5B training step on the H100 (bench/NOTES.md, `npm run bench profile`) had the
 * stock kernel at 5–6.7 TFLOP/s on the dense shapes and 2.4 TFLOP/s on [447, 64, 1024] batches. This
 * one gives each of 16 × 16 threads an 8 × 8 (or 4 × 8) block of C held in registers, so a thread
 * does 64 multiply-adds per 4 vec4 reads from workgroup memory: a 128 × 128 (or 64 × 128) tile of C
 * per workgroup, K in steps of 16 through workgroup memory. A thread's rows are r·64 + ty·4 + 0…3
 * and its columns c·64 + tx·4 + 0…3, so the 16 threads of a row read 16 consecutive vec4s.
 *
 * M, N and K are uniforms, and edges are zero-filled on load and masked on store, so any sizes
 * work; the sum over K runs in the same order for every element (k ascending), in fp32 like the
 * stock kernel. Reads go through f32() (an int32 tensor cast to float32 keeps its int32 buffer:
 * webgpu-gemv.ts).
 */
import { tf } from '../tf.js';
import type { WebgpuBackendLike } from './webgpu-internals.js';
import { GEMV_MAX_ROWS, gemvApplies, runGemv } from './webgpu-gemv.js';
import type { GemmDims } from './webgpu-gemm-dims.js';
import { runtimeEnv } from '../config/env.js';

const BK = 16;
const THREADS = 256;

/** WGSL that loads one BK-slice of a tile into workgroup memory: `rows` × BK of an operand. */
function loadTile(name: 'A' | 'B', dims: GemmDims, rows: number, tileOrigin: string): string {
  const isA = name === 'A';
  const outer = isA ? 'uniforms.dimM' : 'uniforms.dimN'; // the operand's row (A) or column (B) count
  const K = 'uniforms.dimK';
  // contiguous along k: A not transposed ([M, K]) or B transposed ([N, K])
  const kContiguous = isA ? !dims.transA : dims.transB;
  const perThread = (rows * BK) / THREADS;
  const shared = isA ? 'As' : 'Bs';
  const lines: string[] = [];
  const p = name.toLowerCase(); // the loads of A and B sit in one scope
  for (let i = 0; i < perThread; i++) {
    const l = `(local + ${i * THREADS})`;
    const [o, k] = kContiguous ? [`${l} / ${BK}`, `${l} % ${BK}`] : [`${l} % ${rows}`, `${l} / ${rows}`];
    const go = `(${tileOrigin} + ${p}o${i})`;
    const gk = `(t + ${p}k${i})`;
    const index = kContiguous ? `${go} * ${K} + ${gk}` : `${gk} * ${outer} + ${go}`;
    lines.push(`
        let ${p}o${i} = ${o};
        let ${p}k${i} = ${k};
        var ${p}v${i} = 0.0;
        if (${go} < ${outer} && ${gk} < kEnd) { ${p}v${i} = f32(${name}[${p}Base + ${index}]); }
        ${shared}[${p}k${i} * ${rows / 4} + ${p}o${i} / 4][${p}o${i} % 4] = ${p}v${i};`);
  }
  return lines.join('');
}

/**
 * The k range of a segmented batch, read by one thread and shared: the barriers in the k loop need
 * a bound WGSL knows to be uniform across the workgroup, which a storage read is not.
 */
const SEGMENT_RANGE = `if (local == 0) { kRange = vec2<i32>(KStart[z], KStart[z] + KCount[z]); }
        let range = workgroupUniformLoad(&kRange);
        let kBegin = range.x;
        let kEnd = range.y;`;

function gemmSource(dims: GemmDims, TM: 4 | 8): string {
  const TN = 8;
  const BM = 16 * TM;
  const BN = 16 * TN;
  const [M, N, K] = ['uniforms.dimM', 'uniforms.dimN', 'uniforms.dimK'];
  const groupsM = TM / 4;
  const groupsN = TN / 4;
  const bMatrix = dims.indexedB ? 'Index[z]' : dims.batchB === 1 || dims.segmentK ? '0' : 'z';
  const aMatrix = dims.batchA === 1 || dims.segmentK ? '0' : 'z';
  const inner: string[] = [];
  for (let g = 0; g < groupsM; g++) inner.push(`let a${g} = As[k * ${BM / 4} + ${g * 16} + ty];`);
  for (let c = 0; c < groupsN; c++) inner.push(`let b${c} = Bs[k * ${BN / 4} + ${c * 16} + tx];`);
  for (let r = 0; r < TM; r++) {
    for (let c = 0; c < groupsN; c++) {
      inner.push(`acc${r * groupsN + c} = fma(vec4<f32>(a${Math.floor(r / 4)}[${r % 4}]), b${c}, acc${r * groupsN + c});`);
    }
  }
  const store: string[] = [];
  for (let r = 0; r < TM; r++) {
    const m = `(row0 + ${Math.floor(r / 4) * 64 + (r % 4)})`;
    store.push(`if (${m} < ${M}) {`);
    for (let c = 0; c < groupsN; c++) {
      for (let e = 0; e < 4; e++) {
        const n = `(col0 + ${c * 64 + e})`;
        store.push(`  if (${n} < ${N}) { result[cBase + ${m} * ${N} + ${n}] = acc${r * groupsN + c}[${e}]; }`);
      }
    }
    store.push('}');
  }
  return `
      var<workgroup> As : array<vec4<f32>, ${(BK * BM) / 4}>;
      var<workgroup> Bs : array<vec4<f32>, ${(BK * BN) / 4}>;
      ${dims.segmentK ? 'var<workgroup> kRange : vec2<i32>;' : ''}

      fn main() {
        let tx = i32(localId.x);
        let ty = i32(localId.y);
        let local = i32(localIndex);
        let z = i32(workgroupId.z);
        let tileM = i32(workgroupId.y) * ${BM};
        let tileN = i32(workgroupId.x) * ${BN};
        let aBase = ${aMatrix} * ${M} * ${K};
        let bBase = ${bMatrix} * ${N} * ${K};
        let cBase = z * ${M} * ${N};
        ${Array.from({ length: (TM * TN) / 4 }, (_, i) => `var acc${i} = vec4<f32>(0.0);`).join('\n        ')}
        ${dims.segmentK ? SEGMENT_RANGE : `let kBegin = 0;\n        let kEnd = ${K};`}
        for (var t = kBegin; t < kEnd; t = t + ${BK}) {
          ${loadTile('A', dims, BM, 'tileM')}
          ${loadTile('B', dims, BN, 'tileN')}
          workgroupBarrier();
          for (var k = 0; k < ${BK}; k = k + 1) {
            ${inner.join('\n            ')}
          }
          workgroupBarrier();
        }
        let row0 = tileM + ty * 4;
        let col0 = tileN + tx * 4;
        ${store.join('\n        ')}
      }`;
}

/** The tfjs program running gemmSource (a non-flat dispatch: x over N tiles, y over M tiles, z over batches). */
function gemmProgram(dims: GemmDims, outputShape: readonly number[]): object {
  const TM = dims.M <= 64 ? 4 : 8;
  // one pipeline per variant, not per shape: the sizes are uniforms (a pipeline costs seconds to
  // compile on lavapipe, where the tests run)
  const segmentK = dims.segmentK === true;
  const key = `moe_gemm_${TM}_${dims.transA}_${dims.transB}_${dims.batchA === 1}_${dims.batchB === 1}_${dims.indexedB}_${segmentK}`;
  return {
    variableNames: ['A', 'B', ...(dims.indexedB ? ['Index'] : []), ...(segmentK ? ['KStart', 'KCount'] : [])],
    outputShape: [...outputShape],
    shaderKey: key,
    dispatchLayout: { x: [2], y: [1], z: [0] },
    dispatch: [Math.ceil(dims.N / 128), Math.ceil(dims.M / (16 * TM)), dims.batch],
    workgroupSize: [16, 16, 1],
    uniforms: 'dimM : i32, dimN : i32, dimK : i32,',
    getUserCode: () => gemmSource(dims, TM),
  };
}

/**
 * Runs the matmul; inputs are A, B (then the int32 index when `indexedB`, the k ranges when
 * `segmentK`); the result is `outputShape` (batch × M × N elements, [batch, M, N] by default).
 */
function runGemm(backend: WebgpuBackendLike, dims: GemmDims, inputs: readonly tf.TensorInfo[], outputShape = [dims.batch, dims.M, dims.N]): tf.TensorInfo {
  if (gemvApplies(dims)) return runGemv(backend, dims, inputs, outputShape);
  const runner = backend as unknown as {
    runWebGPUProgram(program: object, inputs: tf.TensorInfo[], dtype: 'float32', uniforms: { type: 'int32'; data: number[] }[]): tf.TensorInfo;
  };
  const sizes = [dims.M, dims.N, dims.K].map((v) => ({ type: 'int32' as const, data: [v] }));
  return runner.runWebGPUProgram(gemmProgram(dims, outputShape), [...inputs], 'float32', sizes);
}

/**
 * Whether a product of this size runs here: a few rows (webgpu-gemv.ts), or big enough for the
 * tiled kernel (the stock kernel has paths for the thin shapes in between).
 */
export function gemmWorthIt(M: number, N: number, K: number, transA = false): boolean {
  if (M <= GEMV_MAX_ROWS && !transA) return true;
  return M >= 32 && N >= 32 && K >= 16 && M * N * K >= 2 ** 20;
}

const product = (dims: readonly number[]): number => dims.reduce((a, b) => a * b, 1);

/**
 * The GEMM dims of a BatchMatMul of `a` and `b` and its output shape, or null where the tiled kernel
 * does not apply: too small, or batch dimensions that broadcast other than all-or-one.
 */
export function batchMatMulDims(a: readonly number[], b: readonly number[], transA: boolean, transB: boolean): { dims: GemmDims; outputShape: number[] } | null {
  if (a.length < 2 || b.length < 2) return null;
  const [M, K] = transA ? [a[a.length - 1]!, a[a.length - 2]!] : [a[a.length - 2]!, a[a.length - 1]!];
  const [kB, N] = transB ? [b[b.length - 1]!, b[b.length - 2]!] : [b[b.length - 2]!, b[b.length - 1]!];
  if (K !== kB || !gemmWorthIt(M, N, K, transA)) return null;
  const batchDimsA = a.slice(0, -2);
  const batchDimsB = b.slice(0, -2);
  const batchA = product(batchDimsA);
  const batchB = product(batchDimsB);
  let batchDims: readonly number[];
  if (batchA === batchB && batchDimsA.length === batchDimsB.length && batchDimsA.every((d, i) => d === batchDimsB[i])) batchDims = batchDimsA;
  else if (batchB === 1 && batchDimsB.length <= batchDimsA.length) batchDims = batchDimsA;
  else if (batchA === 1 && batchDimsA.length <= batchDimsB.length) batchDims = batchDimsB;
  else return null;
  const dims = { batch: product(batchDims), M, N, K, transA, transB, batchA, batchB, indexedB: false };
  // a few rows in more batches than the GEMV dispatches: the stock kernel, not a 128-row tile per row
  if (M <= GEMV_MAX_ROWS && !transA && !gemvApplies(dims)) return null;
  return { dims, outputShape: [...batchDims, M, N] };
}

/** BatchMatMul through the tiled kernel where it applies, the stock kernel elsewhere. */
function tiledBatchMatMul(stock: tf.KernelFunc): tf.KernelFunc {
  return (args) => {
    const { a, b } = args.inputs as { a: tf.TensorInfo; b: tf.TensorInfo };
    const { transposeA, transposeB } = args.attrs as { transposeA: boolean; transposeB: boolean };
    const plan = a.dtype === 'float32' && b.dtype === 'float32' ? batchMatMulDims(a.shape, b.shape, transposeA, transposeB) : null;
    if (plan === null) return stock(args);
    return runGemm(args.backend as unknown as WebgpuBackendLike, plan.dims, [a, b], plan.outputShape);
  };
}

const installed = new WeakSet<tf.KernelFunc>();

/**
 * Makes the tiled kernel webgpu's BatchMatMul (idempotent); MOE_WEBGPU_GEMM=0 keeps the stock one
 * (to compare the two).
 */
export function installTiledMatMul(): void {
  if (!runtimeEnv().webgpuGemm) return;
  const stock = tf.getKernel('BatchMatMul', 'webgpu');
  if (!stock) throw new Error('tfjs-backend-webgpu has no BatchMatMul kernel');
  if (installed.has(stock.kernelFunc)) return;
  const kernelFunc = tiledBatchMatMul(stock.kernelFunc);
  installed.add(kernelFunc);
  tf.unregisterKernel('BatchMatMul', 'webgpu');
  tf.registerKernel({ ...stock, kernelFunc });
}

/** runGemm as a tfjs kernel on webgpu (so profiles and the engine see it); called through `gemm`. */
const GEMM_KERNEL = 'MoeGemm';

/** Registers MoeGemm on webgpu (idempotent). */
function registerGemmKernel(): void {
  if (tf.getKernel(GEMM_KERNEL, 'webgpu')) return;
  tf.registerKernel({
    kernelName: GEMM_KERNEL,
    backendName: 'webgpu',
    kernelFunc: ({ inputs, backend, attrs }) => {
      const dims = attrs as unknown as GemmDims;
      const order = ['a', 'b', 'index', 'kStart', 'kCount'].filter((name) => name in inputs);
      return runGemm(backend as unknown as WebgpuBackendLike, dims, order.map((name) => inputs[name]!));
    },
  });
}

/**
 * runGemm as a tfjs op on the webgpu backend: inputs a, b, then `index` (indexedB) or `kStart` and
 * `kCount` (segmentK); the result [batch, M, N].
 */
export function gemm(dims: GemmDims, inputs: { a: tf.Tensor; b: tf.Tensor; index?: tf.Tensor; kStart?: tf.Tensor; kCount?: tf.Tensor }): tf.Tensor {
  registerGemmKernel();
  const named: Record<string, tf.Tensor> = {};
  for (const [name, t] of Object.entries(inputs)) if (t !== undefined) named[name] = t;
  // tfjs's attribute map holds plain values; GemmDims is one
  return tf.engine().runKernel(GEMM_KERNEL, named, dims as unknown as tf.NamedAttrMap) as tf.Tensor;
}
