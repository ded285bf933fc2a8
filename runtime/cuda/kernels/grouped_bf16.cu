// Grouped GEMMs on tensor cores for precision = bf16 (the fp32 reference versions are in forward.cu):
// fp32 operands are rounded to bf16 as they are staged into shared memory, products accumulate in
// fp32 (nvcuda::wmma 16×16×16 bf16 fragments, sm_80+). Tile 64×64×32, 4 warps of 32×32 each. The
// same three shapes as the fp32 kernels: NT (x·Wᵀ), NN (dY·W) per expert tile, TN (weight gradients)
// per expert segment.
#include <cuda_bf16.h>
#include <mma.h>
using namespace nvcuda;

#define BM 64
#define BN 64
#define BK 32
#define LDS (BK + 8)   // bf16 row pitch in shared memory: a multiple of 8 (wmma) that spreads banks
#define LDC (BN + 4)

__device__ __forceinline__ const float* wrow(const float* W1, const float* W2, int split, int e, int n, int N, int K) {
  return n < split ? W1 + ((size_t)e * split + n) * K : W2 + ((size_t)e * (N - split) + (n - split)) * K;
}

// C tile (64×64) from As[m][k] and Bs[n][k] (B stored as its transpose: element (k, n) at Bs[n][k]).
__device__ __forceinline__ void mma_tile(const __nv_bfloat16 (*As)[LDS], const __nv_bfloat16 (*Bs)[LDS], wmma::fragment<wmma::accumulator, 16, 16, 16, float> (&acc)[2][2], int wm, int wn) {
  for (int kk = 0; kk < BK; kk += 16) {
    wmma::fragment<wmma::matrix_a, 16, 16, 16, __nv_bfloat16, wmma::row_major> a[2];
    wmma::fragment<wmma::matrix_b, 16, 16, 16, __nv_bfloat16, wmma::col_major> b[2];
    for (int i = 0; i < 2; i++) wmma::load_matrix_sync(a[i], &As[wm * 32 + i * 16][kk], LDS);
    for (int j = 0; j < 2; j++) wmma::load_matrix_sync(b[j], &Bs[wn * 32 + j * 16][kk], LDS);
    for (int i = 0; i < 2; i++)
      for (int j = 0; j < 2; j++) wmma::mma_sync(acc[i][j], a[i], b[j], acc[i][j]);
  }
}

// Writes the accumulators through shared memory: C[row0 + m, col0 + n] (= or +=), bounds-checked.
__device__ __forceinline__ void store_tile(wmma::fragment<wmma::accumulator, 16, 16, 16, float> (&acc)[2][2], float (*Cs)[LDC], int wm, int wn,
                                           float* C, int ldc, int row0, int rows, int col0, int cols, bool add) {
  for (int i = 0; i < 2; i++)
    for (int j = 0; j < 2; j++) wmma::store_matrix_sync(&Cs[wm * 32 + i * 16][wn * 32 + j * 16], acc[i][j], LDC, wmma::mem_row_major);
  __syncthreads();
  for (int idx = threadIdx.x; idx < BM * BN; idx += blockDim.x) {
    int m = idx / BN, n = idx % BN;
    if (row0 + m < rows && col0 + n < cols) {
      float* dst = C + (size_t)(row0 + m) * ldc + col0 + n;
      *dst = add ? *dst + Cs[m][n] : Cs[m][n];
    }
  }
}

struct Smem {
  __nv_bfloat16 A[BM][LDS];
  __nv_bfloat16 B[BN][LDS];
};

// One expert tile on tensor cores: NN = false gives C[r, n] = Σ_k A[r, k]·W(e, n)[k] (grid (tiles,
// ceil(N/64))); NN = true gives C[r, k] = Σ_n A[r, n]·W(e, n)[k] (grid (tiles, ceil(K/64))).
template <bool NN>
__device__ void grouped_tile_bf16(const float* A, int lda, const float* W1, const float* W2, int split, float* C, int ldc, const int* tile_expert, int N, int K) {
  int e = tile_expert[blockIdx.x];
  if (e < 0) return;
  __shared__ union { Smem s; float c[BM][LDC]; } sh;
  int outCols = NN ? K : N, depth = NN ? N : K;
  int row0 = blockIdx.x * BM, col0 = blockIdx.y * BN, warp = threadIdx.x / 32, wm = warp / 2, wn = warp % 2;
  wmma::fragment<wmma::accumulator, 16, 16, 16, float> acc[2][2];
  for (int i = 0; i < 2; i++) for (int j = 0; j < 2; j++) wmma::fill_fragment(acc[i][j], 0.f);
  for (int d0 = 0; d0 < depth; d0 += BK) {
    for (int idx = threadIdx.x; idx < BM * BK; idx += blockDim.x) {
      int m = idx / BK, c = idx % BK, d = d0 + c, col = col0 + m;
      sh.s.A[m][c] = __float2bfloat16_rn(d < depth ? A[(size_t)(row0 + m) * lda + d] : 0.f);
      bool in = d < depth && col < outCols;
      sh.s.B[m][c] = __float2bfloat16_rn(in ? (NN ? wrow(W1, W2, split, e, d, N, K)[col] : wrow(W1, W2, split, e, col, N, K)[d]) : 0.f);
    }
    __syncthreads();
    mma_tile(sh.s.A, sh.s.B, acc, wm, wn);
    __syncthreads();
  }
  store_tile(acc, sh.c, wm, wn, C, ldc, row0, row0 + BM, col0, outCols, false);
}

extern "C" __global__ void __launch_bounds__(128) grouped_nt_bf16(const float* A, int lda, const float* W1, const float* W2, int split, float* C, int ldc, const int* tile_expert, int N, int K) {
  grouped_tile_bf16<false>(A, lda, W1, W2, split, C, ldc, tile_expert, N, K);
}

extern "C" __global__ void __launch_bounds__(128) grouped_nn_bf16(const float* A, int lda, const float* W1, const float* W2, int split, float* C, int ldc, const int* tile_expert, int N, int K) {
  grouped_tile_bf16<true>(A, lda, W1, W2, split, C, ldc, tile_expert, N, K);
}

// dW[e, n, k] += Σ_{r in e's rows} A[r, n] · B[r, k]   grid (ceil(N/64), ceil(K/64), E)
extern "C" __global__ void __launch_bounds__(128) grouped_tn_bf16(const float* A, int lda, const float* B, int ldb, float* dW, const int* offsets, int N, int K) {
  int e = blockIdx.z;
  int begin = offsets[e], end = offsets[e + 1];
  __shared__ union { Smem s; float c[BM][LDC]; } sh;
  int n0 = blockIdx.x * BM, k0 = blockIdx.y * BN, warp = threadIdx.x / 32, wm = warp / 2, wn = warp % 2;
  wmma::fragment<wmma::accumulator, 16, 16, 16, float> acc[2][2];
  for (int i = 0; i < 2; i++) for (int j = 0; j < 2; j++) wmma::fill_fragment(acc[i][j], 0.f);
  for (int r0 = begin; r0 < end; r0 += BK) {
    for (int idx = threadIdx.x; idx < BM * BK; idx += blockDim.x) {
      int c = idx / BM, j = idx % BM, r = r0 + c;   // coalesced along n / k
      sh.s.A[j][c] = __float2bfloat16_rn(r < end && n0 + j < N ? A[(size_t)r * lda + n0 + j] : 0.f);
      sh.s.B[j][c] = __float2bfloat16_rn(r < end && k0 + j < K ? B[(size_t)r * ldb + k0 + j] : 0.f);
    }
    __syncthreads();
    mma_tile(sh.s.A, sh.s.B, acc, wm, wn);
    __syncthreads();
  }
  store_tile(acc, sh.c, wm, wn, dW + (size_t)e * N * K, K, n0, N, k0, K, true);
}
