/**
 * The tiled fp32 matmul (runtime/backend/webgpu-matmul.ts) on webgpu (Dawn on lavapipe) against
 * the cpu backend: every transpose combination, both tile heights (M ≤ 64 and M > 64), sizes that
 * are not multiples of the tiles, batches with and without broadcasting, the grouped form (B picked
 * per batch by an index), products of a few rows (webgpu-gemv.ts) and gradients through tf.matMul. Skipped only where lavapipe is not
 * installed (CI installs it).
 */
import { existsSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { selectBackend } from '../../runtime/backend/select.js';
import { watchDeviceErrors, type DeviceErrorWatch } from '../../runtime/backend/webgpu-errors.js';
import { batchMatMulDims, gemm } from '../../runtime/backend/webgpu-matmul.js';
import { normalArray } from '../../runtime/random.js';
import { tf } from '../../runtime/tf.js';
import { relativeDiff } from './relative-diff.js';

const LAVAPIPE = '/usr/share/vulkan/icd.d/lvp_icd.json';
const available = existsSync(LAVAPIPE);

interface Case {
  readonly a: number[];
  readonly b: number[];
  readonly transA: boolean;
  readonly transB: boolean;
  /** tfjs's BatchMatMul gradient does not reduce a broadcast batch (it throws): products only */
  readonly broadcast?: boolean;
}

const CASES: Case[] = [];
for (const transA of [false, true]) {
  for (const transB of [false, true]) {
    // M > 64 (8-row blocks) and M ≤ 64 (4-row blocks); no size a multiple of a tile
    for (const [M, N, K] of [
      [70, 130, 121],
      [40, 200, 150],
    ] as const) {
      CASES.push({ a: transA ? [K, M] : [M, K], b: transB ? [N, K] : [K, N], transA, transB });
    }
  }
}
// batches: equal, B broadcast, A broadcast, rank 4
CASES.push({ a: [3, 70, 120], b: [3, 120, 130], transA: false, transB: false });
CASES.push({ a: [3, 70, 120], b: [120, 130], transA: false, transB: false, broadcast: true });
CASES.push({ a: [1, 130, 90], b: [3, 100, 90], transA: false, transB: true, broadcast: true });
CASES.push({ a: [2, 2, 128, 70], b: [2, 2, 128, 130], transA: true, transB: false });
// a few rows (webgpu-gemv.ts): 1 and 3 rows, both B layouts, sizes off its 8- and 32-wide blocks
for (const transB of [false, true]) {
  for (const M of [1, 3]) CASES.push({ a: [M, 300], b: transB ? [70, 300] : [300, 70], transA: false, transB });
  CASES.push({ a: [5, 1, 45], b: transB ? [5, 37, 45] : [5, 45, 37], transA: false, transB });
  CASES.push({ a: [4, 2, 45], b: transB ? [37, 45] : [45, 37], transA: false, transB, broadcast: true });
  // K past one loop step of every thread (4 loads × 128 slices)
  CASES.push({ a: [2, 1100], b: transB ? [9, 1100] : [1100, 9], transA: false, transB });
}

function tensors(c: Case): [tf.Tensor, tf.Tensor] {
  const size = (s: number[]): number => s.reduce((x, y) => x * y, 1);
  return [tf.tensor(normalArray(size(c.a), 1, 1), c.a), tf.tensor(normalArray(size(c.b), 1, 2), c.b)];
}

/** The product and the gradients of Σ(product · R) w.r.t. both operands. */
async function evaluate(c: Case): Promise<Float32Array[]> {
  const [a, b] = tensors(c);
  const f = (x: tf.Tensor, y: tf.Tensor): tf.Tensor => tf.matMul(x, y, c.transA, c.transB);
  const y = f(a, b);
  const r = tf.tensor(normalArray(y.size, 1, 3), y.shape);
  const grads = c.broadcast ? [] : tf.grads((x: tf.Tensor, w: tf.Tensor) => tf.sum(tf.mul(f(x, w), r)))([a, b]);
  const out = await Promise.all([y, ...grads].map(async (t) => (await t.data()) as Float32Array));
  tf.dispose([a, b, y, r, ...grads]);
  return out;
}


describe('batchMatMulDims: where the tiled kernel applies', () => {
  it('reads M, N, K, batches and the output shape; declines small and oddly broadcast products', () => {
    expect(batchMatMulDims([3, 70, 120], [120, 130], false, false)).toEqual({
      dims: { batch: 3, M: 70, N: 130, K: 120, transA: false, transB: false, batchA: 3, batchB: 1, indexedB: false },
      outputShape: [3, 70, 130],
    });
    expect(batchMatMulDims([121, 70], [130, 121], true, true)?.dims).toMatchObject({ M: 70, N: 130, K: 121 });
    expect(batchMatMulDims([8, 8], [8, 8], false, false)).toBeNull();
    expect(batchMatMulDims([1, 8], [8, 8], false, false)?.dims).toMatchObject({ M: 1, N: 8, K: 8 });
    expect(batchMatMulDims([8, 1], [8, 8], true, false)).toBeNull();
    // one row in more batches than the GEMV dispatches along y: the stock kernel
    expect(batchMatMulDims([70000, 1, 8], [70000, 8, 8], false, false)).toBeNull();
    expect(batchMatMulDims([4, 1, 70, 64], [1, 4, 64, 130], false, false)).toBeNull();
    expect(batchMatMulDims([70, 64], [65, 130], false, false)).toBeNull();
  });
});

describe.skipIf(!available)('tiled matmul on webgpu (lavapipe) against the cpu backend', () => {
  const cpu: Float32Array[][] = [];
  let watch: DeviceErrorWatch;

  beforeAll(async () => {
    await selectBackend('cpu');
    for (const c of CASES) cpu.push(await evaluate(c));
    process.env.VK_ICD_FILENAMES = LAVAPIPE;
    await selectBackend('webgpu');
    watch = watchDeviceErrors();
  });

  afterAll(async () => {
    watch?.stop();
    await selectBackend('cpu');
  });

  CASES.forEach((c, i) => {
    it(`[${c.a}]${c.transA ? 'ᵀ' : ''} × [${c.b}]${c.transB ? 'ᵀ' : ''}: product and gradients within 1e-5`, async () => {
      expect(batchMatMulDims(c.a, c.b, c.transA, c.transB)).not.toBeNull();
      const gpu = await evaluate(c);
      await watch.settle();
      expect(watch.errors).toEqual([]);
      gpu.forEach((values, j) => expect(relativeDiff(values, cpu[i]![j]!)).toBeLessThan(1e-5));
    });
  });

  it('grouped: batch z multiplies A[z] by B[index[z]]', async () => {
    const [Z, E, M, N, K] = [5, 3, 40, 96, 72];
    const a = tf.tensor3d(normalArray(Z * M * K, 1, 4), [Z, M, K]);
    const b = tf.tensor3d(normalArray(E * N * K, 1, 5), [E, N, K]);
    const index = tf.tensor1d([2, 0, 0, 1, 2], 'int32');
    const dims = { batch: Z, M, N, K, transA: false, transB: true, batchA: Z, batchB: E, indexedB: true };
    const got = gemm(dims, { a, b, index });
    const expected = tf.matMul(a, tf.gather(b, index), false, true);
    expect(relativeDiff((await got.data()) as Float32Array, (await expected.data()) as Float32Array)).toBeLessThan(1e-5);
    tf.dispose([a, b, index, got, expected]);
  });

  it('reads an int32 tensor cast to float32 (tfjs keeps its int32 buffer) in both kernels', async () => {
    for (const M of [2, 40]) {
      // 2 rows: webgpu-gemv.ts; 40 × 50 × 600: the tiled kernel
      const ints = tf.tensor2d(Array.from({ length: M * 600 }, (_, i) => (i * 7) % 5), [M, 600], 'int32');
      const b = tf.tensor2d(normalArray(600 * 50, 1, 8), [600, 50]);
      const got = tf.matMul(tf.cast(ints, 'float32') as tf.Tensor2D, b);
      const reference = tf.matMul(tf.tensor2d(Array.from(await ints.data()), [M, 600], 'float32'), b);
      expect(relativeDiff((await got.data()) as Float32Array, (await reference.data()) as Float32Array)).toBeLessThan(1e-5);
      tf.dispose([ints, b, got, reference]);
    }
    await watch.settle();
    expect(watch.errors).toEqual([]);
  });

  it('grouped with one row a batch (the per-assignment experts of decoding), both B layouts', async () => {
    const [Z, E, N, K] = [6, 4, 70, 90];
    const a = tf.tensor3d(normalArray(Z * K, 1, 6), [Z, 1, K]);
    const index = tf.tensor1d([3, 0, 3, 1, 2, 0], 'int32');
    for (const transB of [true, false]) {
      const b = tf.tensor3d(normalArray(E * N * K, 1, 7), transB ? [E, N, K] : [E, K, N]);
      const dims = { batch: Z, M: 1, N, K, transA: false, transB, batchA: Z, batchB: E, indexedB: true };
      const got = gemm(dims, { a, b, index });
      const expected = tf.matMul(a, tf.gather(b, index), false, transB);
      expect(relativeDiff((await got.data()) as Float32Array, (await expected.data()) as Float32Array)).toBeLessThan(1e-5);
      tf.dispose([b, got, expected]);
    }
    tf.dispose([a, index]);
    await watch.settle();
    expect(watch.errors).toEqual([]);
  });
});
