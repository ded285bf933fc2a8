/**
 * The row-major → column-major translation of cuBLASLt calls, checked by running the column-major
 * call's arithmetic (what cuBLAS computes from op, ld and the stored arrays) on the CPU against a
 * plain row-major product, for every transpose combination.
 */
import { describe, expect, it } from 'vitest';
import { columnMajorCall } from '../../../runtime/cuda/cublaslt.js';

/** What cuBLAS computes: C (m×n, col-major, ld ldc) = op(A) · op(B), A and B col-major with ld. */
function cublasReference(c: ReturnType<typeof columnMajorCall>, A: Float64Array, B: Float64Array): Float64Array {
  const out = new Float64Array(c.ldc * c.n);
  const a = (i: number, p: number): number => (c.opA ? A[p + i * c.lda]! : A[i + p * c.lda]!);
  const b = (p: number, j: number): number => (c.opB ? B[j + p * c.ldb]! : B[p + j * c.ldb]!);
  for (let i = 0; i < c.m; i++) for (let j = 0; j < c.n; j++) {
    let s = 0;
    for (let p = 0; p < c.k; p++) s += a(i, p) * b(p, j);
    out[i + j * c.ldc] = s;
  }
  return out;
}

describe('columnMajorCall', () => {
  const [M, N, K] = [3, 5, 4];
  const rand = (n: number, seed: number): Float64Array => Float64Array.from({ length: n }, (_, i) => Math.sin(seed * 7.1 + i * 1.3));
  for (const transA of [false, true]) {
    for (const transB of [false, true]) {
      it(`computes the row-major product with transA=${transA}, transB=${transB}`, () => {
        const a = rand(M * K, 1); // stored [M,K] or [K,M]
        const b = rand(K * N, 2); // stored [K,N] or [N,K]
        const at = (i: number, p: number): number => (transA ? a[p * M + i]! : a[i * K + p]!);
        const bt = (p: number, j: number): number => (transB ? b[j * K + p]! : b[p * N + j]!);
        const call = columnMajorCall({ m: M, n: N, k: K, transA, transB, a: 1n, b: 2n, c: 3n });
        expect(call.A).toBe(2n); // operands swap
        expect(call.B).toBe(1n);
        const got = cublasReference(call, b, a); // cuBLAS's A is our B's storage, and vice versa
        for (let i = 0; i < M; i++) for (let j = 0; j < N; j++) {
          let s = 0;
          for (let p = 0; p < K; p++) s += at(i, p) * bt(p, j);
          // row-major C[i,j] is the column-major element (j, i) with ld N
          expect(got[j + i * N]).toBeCloseTo(s, 12);
        }
      });
    }
  }
  it('reads operands and writes results inside wider rows when leading dimensions are given (attention\'s head views)', () => {
    // A is columns 2..2+K of rows 9 wide, B (stored transposed) columns 1..1+K of rows 7 wide, C columns 3..3+N of rows 11 wide
    const [lda, ldb, ldc] = [9, 7, 11];
    const a = rand(M * lda, 3);
    const b = rand(N * ldb, 4);
    const call = columnMajorCall({ m: M, n: N, k: K, transA: false, transB: true, a: 1n, b: 2n, c: 3n, lda, ldb, ldc });
    expect([call.lda, call.ldb, call.ldc]).toEqual([ldb, lda, ldc]);
    const got = cublasReference(call, b.subarray(1), a.subarray(2));
    for (let i = 0; i < M; i++) for (let j = 0; j < N; j++) {
      let s = 0;
      for (let p = 0; p < K; p++) s += a[i * lda + 2 + p]! * b[j * ldb + 1 + p]!;
      expect(got[j + i * ldc]).toBeCloseTo(s, 12);
    }
  });
});
