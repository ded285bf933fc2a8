// Grouped GEMMs on tensor cores for precision = bf16 (the fp32 reference versions are in forward.cu).
// Every operand is bf16 in global memory — the weights from their bf16 shadow, the activations written
// as bf16 by the kernel that produces them (expert_gather_bf16, swiglu_gate_fwd_bf16,
// expert_combine_bwd_bf16, swiglu_gate_bwd_bf16) — and products accumulate in fp32 (mma.sync
// m16n8k16 bf16, sm_80+; PTX stays compute_80, so no wgmma or TMA). Outputs are fp32.
//
// Tile 64 rows × 128 columns × 32 deep, 4 warps of 32×64 each, operands fed by a 3-stage cp.async
// pipeline in 16-byte chunks into padded shared rows (ldmatrix without bank conflicts). The row tile
// is EXPERT_TILE in ops/moe.ts: each expert's segment of the sorted rows is padded to it, so a tile
// never straddles two experts; 64 (not 128) keeps that padding near 8% at moe-500m's shapes.
//
// The same three shapes as the fp32 kernels: NT (x·Wᵀ), NN (dY·W) per expert tile, TN (weight
// gradients) per expert segment. A chunk that is misaligned or crosses a bound is staged element by
// element (zeros outside), so any width works; the fast path needs widths that are multiples of 8.
#include "mma.cuh"

using tc::bf16;

namespace grouped {

using namespace tc;

constexpr int BM = 64, BN = 128, BK = 32, STAGES = 3, THREADS = 128;
constexpr int PAD = 8;  // bf16 per shared row beyond the tile: rows 16 bytes apart mod 128 (no ldmatrix conflicts)

// Stages OUTER × INNER bf16 into s (row pitch INNER + PAD): element (o, i) from row(o)[inner0 + i] when
// row(o) is not null and inner0 + i < limit, else 0.
template <int OUTER, int INNER, typename Row>
__device__ __forceinline__ void stage(bf16* s, Row row, int inner0, int limit) {
  constexpr int PER_ROW = INNER / 8;
  for (int c = threadIdx.x; c < OUTER * PER_ROW; c += THREADS) {
    int o = c / PER_ROW, i = (c % PER_ROW) * 8;
    bf16* dst = s + o * (INNER + PAD) + i;
    const bf16* src = row(o);
    int g = inner0 + i;
    if (src && g + 8 <= limit && ((uintptr_t)(src + g) & 15) == 0) {
      cp_async16(dst, src + g);
    } else {
      for (int j = 0; j < 8; j++) dst[j] = src && g + j < limit ? src[g + j] : __float2bfloat16_rn(0.f);
    }
  }
}

// The warp's 32×64 slice of one staged BK-deep step. A is staged [m][k] (A_T: [k][m]); B is staged
// [n][k] (B_T: [k][n]); the transposed layouts are read with ldmatrix.trans.
template <bool A_T, bool B_T>
__device__ __forceinline__ void mma_step(const bf16* As, const bf16* Bs, float (&acc)[2][8][4], int wm, int wn) {
  constexpr int LA = A_T ? BM + PAD : BK + PAD, LB = B_T ? BN + PAD : BK + PAD;
#pragma unroll
  for (int kk = 0; kk < BK; kk += 16) {
    uint32_t a[2][4];
#pragma unroll
    for (int mi = 0; mi < 2; mi++) {
      load_a<A_T>(a[mi], As, LA, wm * 32 + mi * 16, kk);
    }
#pragma unroll
    for (int nj = 0; nj < 8; nj += 2) {
      uint32_t b[4];
      load_b<B_T>(b, Bs, LB, kk, wn * 64 + nj * 8);
#pragma unroll
      for (int mi = 0; mi < 2; mi++) {
        mma16816(acc[mi][nj], a[mi], b[0], b[1]);
        mma16816(acc[mi][nj + 1], a[mi], b[2], b[3]);
      }
    }
  }
}

// The pipelined main loop over `steps` BK-deep slices: load(stage, step) issues one slice's copies.
template <bool A_T, bool B_T, int A_SIZE, int B_SIZE, typename Load>
__device__ __forceinline__ void mainloop(bf16 (*As)[A_SIZE], bf16 (*Bs)[B_SIZE], int steps, Load load, float (&acc)[2][8][4], int wm, int wn) {
#pragma unroll
  for (int s = 0; s < STAGES - 1; s++) {
    if (s < steps) load(s, s);
    cp_async_commit();
  }
  for (int k = 0; k < steps; k++) {
    cp_async_wait<STAGES - 2>();
    __syncthreads();  // slice k is in shared memory, and every warp is done with the stage refilled next
    int next = k + STAGES - 1;
    if (next < steps) load(next % STAGES, next);
    cp_async_commit();
    mma_step<A_T, B_T>(As[k % STAGES], Bs[k % STAGES], acc, wm, wn);
  }
  cp_async_wait<0>();
}

// Writes (or adds) the accumulators to C[row0.., col0..] (row stride ldc), rows < rows and cols < cols.
template <bool ADD>
__device__ __forceinline__ void store(const float (&acc)[2][8][4], float* C, size_t ldc, int row0, int rows, int col0, int cols, int wm, int wn) {
  int lane = threadIdx.x % 32;
  bool pairs = (ldc % 2 == 0) && (((uintptr_t)C & 7) == 0);
#pragma unroll
  for (int mi = 0; mi < 2; mi++)
#pragma unroll
    for (int nj = 0; nj < 8; nj++)
#pragma unroll
      for (int h = 0; h < 2; h++) {
        int r = row0 + wm * 32 + mi * 16 + lane / 4 + h * 8;
        int c = col0 + wn * 64 + nj * 8 + (lane % 4) * 2;
        if (r >= rows || c >= cols) continue;
        float* dst = C + (size_t)r * ldc + c;
        float v0 = acc[mi][nj][2 * h], v1 = acc[mi][nj][2 * h + 1];
        if (pairs && c + 1 < cols) {
          float2 o = ADD ? *reinterpret_cast<float2*>(dst) : make_float2(0.f, 0.f);
          *reinterpret_cast<float2*>(dst) = make_float2(o.x + v0, o.y + v1);
        } else {
          dst[0] = ADD ? dst[0] + v0 : v0;
          if (c + 1 < cols) dst[1] = ADD ? dst[1] + v1 : v1;
        }
      }
}

// Row n of expert e's weight [N, K]: the first `split` rows from W1's stack, the rest from W2's.
__device__ __forceinline__ const bf16* wrow(const bf16* W1, const bf16* W2, int split, int e, int n, int N, int K) {
  return n < split ? W1 + ((size_t)e * split + n) * K : W2 + ((size_t)e * (N - split) + (n - split)) * K;
}

// One (row tile, column tile) of an expert: NN = false gives C[r, n] = Σ_k A[r, k]·W(e, n)[k] (N output
// columns, depth K); NN = true gives C[r, k] = Σ_n A[r, n]·W(e, n)[k] (K output columns, depth N).
// grid (ceil(outputs / 128), tiles).
template <bool NN>
__device__ __forceinline__ void tile(const bf16* A, int lda, const bf16* W1, const bf16* W2, int split, float* C, int ldc, const int* tile_expert, int N, int K) {
  int e = tile_expert[blockIdx.y];
  if (e < 0) return;
  __shared__ __align__(16) bf16 As[STAGES][BM * (BK + PAD)];
  __shared__ __align__(16) bf16 Bs[STAGES][NN ? BK * (BN + PAD) : BN * (BK + PAD)];
  int outCols = NN ? K : N, depth = NN ? N : K;
  int row0 = blockIdx.y * BM, col0 = blockIdx.x * BN, warp = threadIdx.x / 32, wm = warp / 2, wn = warp % 2;
  float acc[2][8][4] = {};
  auto load = [&](int s, int step) {
    int d0 = step * BK;
    stage<BM, BK>(As[s], [&](int m) { return A + (size_t)(row0 + m) * lda; }, d0, depth);
    if constexpr (NN) stage<BK, BN>(Bs[s], [&](int d) { return d0 + d < depth ? wrow(W1, W2, split, e, d0 + d, N, K) : (const bf16*)nullptr; }, col0, outCols);
    else stage<BN, BK>(Bs[s], [&](int n) { return col0 + n < outCols ? wrow(W1, W2, split, e, col0 + n, N, K) : (const bf16*)nullptr; }, d0, depth);
  };
  mainloop<false, NN>(As, Bs, (depth + BK - 1) / BK, load, acc, wm, wn);
  store<false>(acc, C, ldc, row0, row0 + BM, col0, outCols, wm, wn);
}

}  // namespace grouped

extern "C" __global__ void __launch_bounds__(128) grouped_nt_bf16(const bf16* A, int lda, const bf16* W1, const bf16* W2, int split, float* C, int ldc, const int* tile_expert, int N, int K) {
  grouped::tile<false>(A, lda, W1, W2, split, C, ldc, tile_expert, N, K);
}

extern "C" __global__ void __launch_bounds__(128) grouped_nn_bf16(const bf16* A, int lda, const bf16* W1, const bf16* W2, int split, float* C, int ldc, const int* tile_expert, int N, int K) {
  grouped::tile<true>(A, lda, W1, W2, split, C, ldc, tile_expert, N, K);
}

// dW[e, n, k] += Σ_{r in e's rows} A[r, n] · B[r, k]   grid (ceil(K/128), ceil(N/64), E)
// (padding rows of a segment are zeros in A and B, so they add nothing)
extern "C" __global__ void __launch_bounds__(128) grouped_tn_bf16(const bf16* A, int lda, const bf16* B, int ldb, float* dW, const int* offsets, int N, int K) {
  using namespace grouped;
  int e = blockIdx.z;
  int begin = offsets[e], end = offsets[e + 1];
  if (begin >= end) return;
  __shared__ __align__(16) bf16 As[STAGES][BK * (BM + PAD)];
  __shared__ __align__(16) bf16 Bs[STAGES][BK * (BN + PAD)];
  int n0 = blockIdx.y * BM, k0 = blockIdx.x * BN, warp = threadIdx.x / 32, wm = warp / 2, wn = warp % 2;
  float acc[2][8][4] = {};
  auto load = [&](int s, int step) {
    int r0 = begin + step * BK;
    stage<BK, BM>(As[s], [&](int r) { return r0 + r < end ? A + (size_t)(r0 + r) * lda : (const bf16*)nullptr; }, n0, N);
    stage<BK, BN>(Bs[s], [&](int r) { return r0 + r < end ? B + (size_t)(r0 + r) * ldb : (const bf16*)nullptr; }, k0, K);
  };
  mainloop<true, true>(As, Bs, (end - begin + BK - 1) / BK, load, acc, wm, wn);
  store<true>(acc, dW + (size_t)e * N * K, K, n0, N, k0, K, wm, wn);
}
