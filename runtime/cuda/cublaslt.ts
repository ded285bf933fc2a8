/**
 * Matrix products through cuBLASLt. The executor stores tensors row-major; cuBLAS is column-major,
 * so a row-major C[M,N] = op(A)·op(B) is computed as the column-major Cᵀ = op(B)ᵀ·op(A)ᵀ (operands
 * swapped, no copies). fp32 mode uses CUBLAS_COMPUTE_32F, which never takes the TF32 path (the exact
 * reference mode); bf16 operands use the same fp32 accumulation. Descriptors and the chosen algorithm
 * are cached per shape, so a step's products cost one cuBLASLt call each.
 */
import type { LibraryHandle } from 'koffi';
import { RuntimeError } from '../errors.js';
import type { CudaDriver, DevicePtr } from './driver.js';
import { loadKoffi } from './koffi.js';

const COMPUTE_32F = 68;
/** fp32 data on TF32 tensor cores (10-bit mantissa products, fp32 accumulation): bf16 mode's attention */
const COMPUTE_32F_FAST_TF32 = 77;
const R_32F = 0;
const R_16BF = 14;
const DESC_TRANSA = 3;
const DESC_TRANSB = 4;
const PREF_MAX_WORKSPACE = 1;
const LAYOUT_BATCH_COUNT = 5;
const LAYOUT_BATCH_STRIDE = 6;
/** sizeof(cublasLtMatmulHeuristicResult_t): algo (64) + workspaceSize (8) + state (4) + wavesCount (4) + reserved (16) */
const HEURISTIC_BYTES = 96;
const WORKSPACE_BYTES = 32 * 2 ** 20;

/** f32: exact fp32 (the reference mode); bf16: bf16 operands; tf32: fp32 operands on TF32 tensor cores */
export type GemmType = 'f32' | 'bf16' | 'tf32';

/** A row-major product C[M,N] = A·B with A [M,K] (or [K,M] when transA) and B [K,N] (or [N,K] when transB). */
export interface RowMajorGemm {
  readonly m: number;
  readonly n: number;
  readonly k: number;
  readonly transA: boolean;
  readonly transB: boolean;
  readonly a: DevicePtr;
  readonly b: DevicePtr;
  readonly c: DevicePtr;
  /** C = alpha·A·B + beta·C (beta 1 accumulates into C, as weight gradients do across micro-batches) */
  readonly alpha?: number;
  readonly beta?: number;
  readonly type?: GemmType;
  /** row-major leading dimensions (elements between rows as stored) when operands are views into wider rows */
  readonly lda?: number;
  readonly ldb?: number;
  readonly ldc?: number;
  /** strided batch: count and element strides of A, B, C (a stride 0 reuses one matrix) */
  readonly batch?: { readonly count: number; readonly strideA: number; readonly strideB: number; readonly strideC: number };
}

/** The column-major call that computes a row-major product (pure; tested without a GPU). */
export function columnMajorCall(g: RowMajorGemm): {
  readonly opA: 0 | 1;
  readonly opB: 0 | 1;
  readonly m: number;
  readonly n: number;
  readonly k: number;
  readonly A: DevicePtr;
  readonly lda: number;
  readonly rowsA: number;
  readonly colsA: number;
  readonly B: DevicePtr;
  readonly ldb: number;
  readonly rowsB: number;
  readonly colsB: number;
  readonly ldc: number;
} {
  // Cᵀ[N,M] = op(B)ᵀ[N,K] · op(A)ᵀ[K,M]; a row-major X[r,c] is the column-major Xᵀ (c×r, ld c)
  const ldb = g.ldb ?? (g.transB ? g.k : g.n); // B stored [K,N] (ld N) or [N,K] (ld K)
  const lda = g.lda ?? (g.transA ? g.m : g.k); // A stored [M,K] (ld K) or [K,M] (ld M)
  return {
    opA: g.transB ? 1 : 0,
    opB: g.transA ? 1 : 0,
    m: g.n,
    n: g.m,
    k: g.k,
    A: g.b,
    lda: ldb,
    rowsA: g.transB ? g.k : g.n,
    colsA: g.transB ? g.n : g.k,
    B: g.a,
    ldb: lda,
    rowsB: g.transA ? g.m : g.k,
    colsB: g.transA ? g.k : g.m,
    ldc: g.ldc ?? g.n,
  };
}

type CFunction = ReturnType<LibraryHandle['func']>;

interface Prepared {
  readonly desc: unknown;
  readonly layouts: readonly [unknown, unknown, unknown];
  readonly algo: Buffer;
}

export class CublasLt {
  private readonly handle: unknown;
  private readonly cache = new Map<string, Prepared>();
  private readonly workspace: DevicePtr;
  private readonly scalars = Buffer.alloc(8);

  private constructor(
    private readonly fn: Readonly<Record<string, CFunction>>,
    private readonly driver: CudaDriver,
  ) {
    const h = [null];
    this.check('cublasLtCreate', this.fn.cublasLtCreate!(h));
    this.handle = h[0];
    this.workspace = driver.alloc(WORKSPACE_BYTES);
  }

  static async open(path: string, driver: CudaDriver): Promise<CublasLt> {
    const koffi = await loadKoffi();
    let lib: LibraryHandle;
    try {
      lib = koffi.load(path);
    } catch (e) {
      throw new RuntimeError(`cuBLASLt at ${path} could not be loaded: ${(e as Error).message.split('\n')[0]}`);
    }
    const sigs = [
      'int cublasLtCreate(_Out_ void **handle)',
      'size_t cublasLtGetVersion()',
      'int cublasLtMatmulDescCreate(_Out_ void **desc, int computeType, int scaleType)',
      'int cublasLtMatmulDescSetAttribute(void *desc, int attr, const void *buf, size_t size)',
      'int cublasLtMatrixLayoutCreate(_Out_ void **layout, int type, uint64_t rows, uint64_t cols, int64_t ld)',
      'int cublasLtMatrixLayoutSetAttribute(void *layout, int attr, const void *buf, size_t size)',
      'int cublasLtMatmulPreferenceCreate(_Out_ void **pref)',
      'int cublasLtMatmulPreferenceSetAttribute(void *pref, int attr, const void *buf, size_t size)',
      'int cublasLtMatmulAlgoGetHeuristic(void *handle, void *desc, void *a, void *b, void *c, void *d, void *pref, int count, _Out_ uint8_t *results, _Out_ int *returned)',
      'int cublasLtMatmul(void *handle, void *desc, const void *alpha, uint64_t A, void *Adesc, uint64_t B, void *Bdesc, const void *beta, uint64_t C, void *Cdesc, uint64_t D, void *Ddesc, const void *algo, uint64_t workspace, size_t workspaceSize, void *stream)',
    ];
    const fns: Record<string, CFunction> = {};
    for (const sig of sigs) fns[/\b(cublasLt\w+)\(/.exec(sig)![1]!] = lib.func(sig);
    return new CublasLt(fns, driver);
  }

  version(): number {
    return Number(this.fn.cublasLtGetVersion!());
  }

  private check(call: string, status: number): void {
    if (status !== 0) throw new RuntimeError(`cuBLASLt ${call} failed with status ${status}`);
  }

  private int32(v: number): Buffer {
    const b = Buffer.alloc(4);
    b.writeInt32LE(v);
    return b;
  }

  private int64(v: number): Buffer {
    const b = Buffer.alloc(8);
    b.writeBigInt64LE(BigInt(v));
    return b;
  }

  private prepare(g: RowMajorGemm): Prepared {
    const c = columnMajorCall(g);
    const type = g.type === 'bf16' ? R_16BF : R_32F;
    const compute = g.type === 'tf32' ? COMPUTE_32F_FAST_TF32 : COMPUTE_32F;
    const key = [c.opA, c.opB, c.m, c.n, c.k, c.lda, c.ldb, c.ldc, type, compute, g.batch?.count ?? 1, g.batch?.strideA, g.batch?.strideB, g.batch?.strideC].join(',');
    const hit = this.cache.get(key);
    if (hit) return hit;
    const desc = [null];
    this.check('MatmulDescCreate', this.fn.cublasLtMatmulDescCreate!(desc, compute, R_32F));
    this.check('MatmulDescSetAttribute', this.fn.cublasLtMatmulDescSetAttribute!(desc[0], DESC_TRANSA, this.int32(c.opA), 4));
    this.check('MatmulDescSetAttribute', this.fn.cublasLtMatmulDescSetAttribute!(desc[0], DESC_TRANSB, this.int32(c.opB), 4));
    const layout = (rows: number, cols: number, ld: number, stride: number | undefined, outType: number): unknown => {
      const l = [null];
      this.check('MatrixLayoutCreate', this.fn.cublasLtMatrixLayoutCreate!(l, outType, rows, cols, ld));
      if (g.batch) {
        this.check('MatrixLayoutSetAttribute', this.fn.cublasLtMatrixLayoutSetAttribute!(l[0], LAYOUT_BATCH_COUNT, this.int32(g.batch.count), 4));
        this.check('MatrixLayoutSetAttribute', this.fn.cublasLtMatrixLayoutSetAttribute!(l[0], LAYOUT_BATCH_STRIDE, this.int64(stride ?? 0), 8));
      }
      return l[0];
    };
    const a = layout(c.rowsA, c.colsA, c.lda, g.batch?.strideB, type);
    const b = layout(c.rowsB, c.colsB, c.ldb, g.batch?.strideA, type);
    // outputs stay fp32 (activations and gradients are fp32 buffers in both modes)
    const out = layout(c.m, c.n, c.ldc, g.batch?.strideC, R_32F);
    const pref = [null];
    this.check('MatmulPreferenceCreate', this.fn.cublasLtMatmulPreferenceCreate!(pref));
    this.check('MatmulPreferenceSetAttribute', this.fn.cublasLtMatmulPreferenceSetAttribute!(pref[0], PREF_MAX_WORKSPACE, this.int64(WORKSPACE_BYTES), 8));
    const results = Buffer.alloc(HEURISTIC_BYTES);
    const returned = [0];
    this.check('MatmulAlgoGetHeuristic', this.fn.cublasLtMatmulAlgoGetHeuristic!(this.handle, desc[0], a, b, out, out, pref[0], 1, results, returned));
    if (returned[0] === 0) throw new RuntimeError(`cuBLASLt has no algorithm for a ${g.m}×${g.k}·${g.k}×${g.n} ${g.type ?? 'f32'} product`);
    const prepared: Prepared = { desc: desc[0], layouts: [a, b, out], algo: results.subarray(0, 64) };
    this.cache.set(key, prepared);
    return prepared;
  }

  gemm(g: RowMajorGemm): void {
    const p = this.prepare(g);
    const c = columnMajorCall(g);
    this.scalars.writeFloatLE(g.alpha ?? 1, 0);
    this.scalars.writeFloatLE(g.beta ?? 0, 4);
    const [a, b, out] = p.layouts;
    this.check(
      'Matmul',
      this.fn.cublasLtMatmul!(this.handle, p.desc, this.scalars.subarray(0, 4), c.A, a, c.B, b, this.scalars.subarray(4, 8), g.c, out, g.c, out, p.algo, this.workspace, WORKSPACE_BYTES, this.driver.stream),
    );
  }

  dispose(): void {
    this.driver.free(this.workspace);
  }
}
