// The kernels as they were before the bf16 grouped GEMMs on mma.sync and the warp-per-token router
// (main at bede845), copied here ONLY so bench/cuda/moe-kernels-check.cu can compare the new kernels
// with them (outputs and speed). Nothing in the runtime includes this file.
#pragma once
#include <cuda_bf16.h>
#include <mma.h>

// The router after its logits z = x·Wᵀ: one thread per token (E ≤ 1024, K ≤ 32), specs/ir.md §4.9.
// Ties go to the smaller index (strict > while scanning upwards). `work` holds E floats per token.
extern "C" __global__ void old_router_fwd(
    const float* z, const float* bias, float* weights, int* indices, float* scores, float* load, float* work,
    int N, int E, int K, int softmax, int G, int Gsel, int top2, int normalize, float scale) {
  int n = blockIdx.x * blockDim.x + threadIdx.x;
  if (n >= N) return;
  const float* zr = z + (size_t)n * E;
  float* s = scores + (size_t)n * E;
  float* u = work + (size_t)n * E;
  if (softmax) {
    float mx = -INFINITY;
    for (int e = 0; e < E; e++) mx = fmaxf(mx, zr[e]);
    float sum = 0.f;
    for (int e = 0; e < E; e++) { s[e] = expf(zr[e] - mx); sum += s[e]; }
    for (int e = 0; e < E; e++) s[e] /= sum;
  } else {
    for (int e = 0; e < E; e++) s[e] = 1.f / (1.f + expf(-zr[e]));
  }
  for (int e = 0; e < E; e++) u[e] = s[e] + (bias ? bias[e] : 0.f);
  if (Gsel < G) {
    int per = E / G;
    unsigned long long kept = 0ull;  // G ≤ 64
    for (int pick = 0; pick < Gsel; pick++) {
      int best = -1; float bestScore = -INFINITY;
      for (int g = 0; g < G; g++) {
        if (kept >> g & 1ull) continue;
        float a = -INFINITY, b2 = -INFINITY;
        for (int e = g * per; e < (g + 1) * per; e++) {
          float x = u[e];
          if (x > a) { b2 = a; a = x; } else if (x > b2) b2 = x;
        }
        float gs = top2 ? (per >= 2 ? a + b2 : a) : a;
        if (best < 0 || gs > bestScore) { best = g; bestScore = gs; }
      }
      kept |= 1ull << best;
    }
    for (int g = 0; g < G; g++) if (!(kept >> g & 1ull)) for (int e = g * per; e < (g + 1) * per; e++) u[e] = -INFINITY;
  }
  float total = 0.f;
  for (int k = 0; k < K; k++) {
    int best = -1; float bestScore = -INFINITY;
    for (int e = 0; e < E; e++) {
      bool taken = false;
      for (int j = 0; j < k; j++) taken |= indices[(size_t)n * K + j] == e;
      if (taken) continue;
      if (best < 0 || u[e] > bestScore) { best = e; bestScore = u[e]; }
    }
    indices[(size_t)n * K + k] = best;
    weights[(size_t)n * K + k] = s[best];
    total += s[best];
    atomicAdd(&load[best], 1.f);
  }
  for (int k = 0; k < K; k++) {
    float w = weights[(size_t)n * K + k];
    if (normalize) w = w / (total + 1e-20f);
    weights[(size_t)n * K + k] = scale * w;
  }
}

// Expert slots, one thread per expert, in token order (deterministic): slot[n*K+k] = the row of the
// expert-sorted buffer that holds token n's copy for its k-th expert, or -1 when capacity drops it.
// Each expert's segment starts at a multiple of `align` (the grouped GEMM's row tile never straddles
// two experts, DeepGEMM's contiguous layout); tile_expert[tile] names each tile's expert (-1 = none).
// A first pass counts (counts[e]); one thread then scans the offsets; a second pass assigns.
extern "C" __global__ void old_expert_count(const int* indices, int* counts, int N, int K, int E, int capacity) {
  int e = blockIdx.x * blockDim.x + threadIdx.x;
  if (e >= E) return;
  int c = 0;
  for (int i = 0; i < N * K; i++) if (indices[i] == e) c++;
  counts[e] = capacity >= 0 && c > capacity ? capacity : c;
}

extern "C" __global__ void old_expert_offsets(const int* counts, int* offsets, int* tile_expert, int E, int align, int tiles) {
  if (threadIdx.x != 0 || blockIdx.x != 0) return;
  int at = 0;
  for (int e = 0; e < E; e++) {
    offsets[e] = at;
    int padded = (counts[e] + align - 1) / align * align;
    for (int t = at / align; t < (at + padded) / align; t++) tile_expert[t] = e;
    at += padded;
  }
  offsets[E] = at;
  for (int t = at / align; t < tiles; t++) tile_expert[t] = -1;
}

extern "C" __global__ void old_expert_assign(const int* indices, const int* offsets, int* slot, int* row_token, int N, int K, int E, int capacity) {
  int e = blockIdx.x * blockDim.x + threadIdx.x;
  if (e >= E) return;
  int seen = 0, at = offsets[e], end = offsets[e + 1];
  for (int i = 0; i < N * K; i++) {
    if (indices[i] != e) continue;
    if (capacity < 0 || seen < capacity) {
      slot[i] = at;
      row_token[at] = i / K;
      at++;
    } else {
      slot[i] = -1;
    }
    seen++;
  }
  for (; at < end; at++) row_token[at] = -1;  // padding rows of the segment
}

// ---- grouped GEMMs on wmma (fp32 operands rounded to bf16 while staged) ----
namespace oldwmma {
using namespace nvcuda;
#define OLD_BM 64
#define OLD_BN 64
#define OLD_BK 32
#define OLD_LDS (OLD_BK + 8)   // bf16 row pitch in shared memory: a multiple of 8 (wmma) that spreads banks
#define OLD_LDC (OLD_BN + 4)

__device__ __forceinline__ const float* old_wrow(const float* W1, const float* W2, int split, int e, int n, int N, int K) {
  return n < split ? W1 + ((size_t)e * split + n) * K : W2 + ((size_t)e * (N - split) + (n - split)) * K;
}

// C tile (64×64) from As[m][k] and Bs[n][k] (B stored as its transpose: element (k, n) at Bs[n][k]).
__device__ __forceinline__ void old_mma_tile(const __nv_bfloat16 (*As)[OLD_LDS], const __nv_bfloat16 (*Bs)[OLD_LDS], wmma::fragment<wmma::accumulator, 16, 16, 16, float> (&acc)[2][2], int wm, int wn) {
  for (int kk = 0; kk < OLD_BK; kk += 16) {
    wmma::fragment<wmma::matrix_a, 16, 16, 16, __nv_bfloat16, wmma::row_major> a[2];
    wmma::fragment<wmma::matrix_b, 16, 16, 16, __nv_bfloat16, wmma::col_major> b[2];
    for (int i = 0; i < 2; i++) wmma::load_matrix_sync(a[i], &As[wm * 32 + i * 16][kk], OLD_LDS);
    for (int j = 0; j < 2; j++) wmma::load_matrix_sync(b[j], &Bs[wn * 32 + j * 16][kk], OLD_LDS);
    for (int i = 0; i < 2; i++)
      for (int j = 0; j < 2; j++) wmma::mma_sync(acc[i][j], a[i], b[j], acc[i][j]);
  }
}

// Writes the accumulators through shared memory: C[row0 + m, col0 + n] (= or +=), bounds-checked.
__device__ __forceinline__ void old_store_tile(wmma::fragment<wmma::accumulator, 16, 16, 16, float> (&acc)[2][2], float (*Cs)[OLD_LDC], int wm, int wn,
                                           float* C, int ldc, int row0, int rows, int col0, int cols, bool add) {
  for (int i = 0; i < 2; i++)
    for (int j = 0; j < 2; j++) wmma::store_matrix_sync(&Cs[wm * 32 + i * 16][wn * 32 + j * 16], acc[i][j], OLD_LDC, wmma::mem_row_major);
  __syncthreads();
  for (int idx = threadIdx.x; idx < OLD_BM * OLD_BN; idx += blockDim.x) {
    int m = idx / OLD_BN, n = idx % OLD_BN;
    if (row0 + m < rows && col0 + n < cols) {
      float* dst = C + (size_t)(row0 + m) * ldc + col0 + n;
      *dst = add ? *dst + Cs[m][n] : Cs[m][n];
    }
  }
}

struct old_Smem {
  __nv_bfloat16 A[OLD_BM][OLD_LDS];
  __nv_bfloat16 B[OLD_BN][OLD_LDS];
};

// One expert tile on tensor cores: NN = false gives C[r, n] = Σ_k A[r, k]·W(e, n)[k] (grid (tiles,
// ceil(N/64))); NN = true gives C[r, k] = Σ_n A[r, n]·W(e, n)[k] (grid (tiles, ceil(K/64))).
template <bool NN>
__device__ void old_grouped_tile_bf16(const float* A, int lda, const float* W1, const float* W2, int split, float* C, int ldc, const int* tile_expert, int N, int K) {
  int e = tile_expert[blockIdx.x];
  if (e < 0) return;
  __shared__ union { old_Smem s; float c[OLD_BM][OLD_LDC]; } sh;
  int outCols = NN ? K : N, depth = NN ? N : K;
  int row0 = blockIdx.x * OLD_BM, col0 = blockIdx.y * OLD_BN, warp = threadIdx.x / 32, wm = warp / 2, wn = warp % 2;
  wmma::fragment<wmma::accumulator, 16, 16, 16, float> acc[2][2];
  for (int i = 0; i < 2; i++) for (int j = 0; j < 2; j++) wmma::fill_fragment(acc[i][j], 0.f);
  for (int d0 = 0; d0 < depth; d0 += OLD_BK) {
    for (int idx = threadIdx.x; idx < OLD_BM * OLD_BK; idx += blockDim.x) {
      int m = idx / OLD_BK, c = idx % OLD_BK, d = d0 + c, col = col0 + m;
      sh.s.A[m][c] = __float2bfloat16_rn(d < depth ? A[(size_t)(row0 + m) * lda + d] : 0.f);
      bool in = d < depth && col < outCols;
      sh.s.B[m][c] = __float2bfloat16_rn(in ? (NN ? old_wrow(W1, W2, split, e, d, N, K)[col] : old_wrow(W1, W2, split, e, col, N, K)[d]) : 0.f);
    }
    __syncthreads();
    old_mma_tile(sh.s.A, sh.s.B, acc, wm, wn);
    __syncthreads();
  }
  old_store_tile(acc, sh.c, wm, wn, C, ldc, row0, row0 + OLD_BM, col0, outCols, false);
}

__global__ void __launch_bounds__(128) old_grouped_nt_bf16(const float* A, int lda, const float* W1, const float* W2, int split, float* C, int ldc, const int* tile_expert, int N, int K) {
  old_grouped_tile_bf16<false>(A, lda, W1, W2, split, C, ldc, tile_expert, N, K);
}

__global__ void __launch_bounds__(128) old_grouped_nn_bf16(const float* A, int lda, const float* W1, const float* W2, int split, float* C, int ldc, const int* tile_expert, int N, int K) {
  old_grouped_tile_bf16<true>(A, lda, W1, W2, split, C, ldc, tile_expert, N, K);
}

// dW[e, n, k] += Σ_{r in e's rows} A[r, n] · B[r, k]   grid (ceil(N/64), ceil(K/64), E)
__global__ void __launch_bounds__(128) old_grouped_tn_bf16(const float* A, int lda, const float* B, int ldb, float* dW, const int* offsets, int N, int K) {
  int e = blockIdx.z;
  int begin = offsets[e], end = offsets[e + 1];
  __shared__ union { old_Smem s; float c[OLD_BM][OLD_LDC]; } sh;
  int n0 = blockIdx.x * OLD_BM, k0 = blockIdx.y * OLD_BN, warp = threadIdx.x / 32, wm = warp / 2, wn = warp % 2;
  wmma::fragment<wmma::accumulator, 16, 16, 16, float> acc[2][2];
  for (int i = 0; i < 2; i++) for (int j = 0; j < 2; j++) wmma::fill_fragment(acc[i][j], 0.f);
  for (int r0 = begin; r0 < end; r0 += OLD_BK) {
    for (int idx = threadIdx.x; idx < OLD_BM * OLD_BK; idx += blockDim.x) {
      int c = idx / OLD_BM, j = idx % OLD_BM, r = r0 + c;   // coalesced along n / k
      sh.s.A[j][c] = __float2bfloat16_rn(r < end && n0 + j < N ? A[(size_t)r * lda + n0 + j] : 0.f);
      sh.s.B[j][c] = __float2bfloat16_rn(r < end && k0 + j < K ? B[(size_t)r * ldb + k0 + j] : 0.f);
    }
    __syncthreads();
    old_mma_tile(sh.s.A, sh.s.B, acc, wm, wn);
    __syncthreads();
  }
  old_store_tile(acc, sh.c, wm, wn, dW + (size_t)e * N * K, K, n0, N, k0, K, true);
}
#undef OLD_BM
#undef OLD_BN
#undef OLD_BK
#undef OLD_LDS
#undef OLD_LDC
}  // namespace oldwmma
