// Forward kernels of the IR ops on CUDA (fp32 storage, fp32 math). specs/ir.md gives each op's
// formula; runtime/cuda/executor.ts says which kernel an op uses and with which strides. GEMMs with
// one weight matrix go to cuBLASLt; the grouped expert GEMM is here (its row offsets live on the
// device, so no host read is needed between the router and the experts).
// Compiled ahead to PTX by scripts/build-cuda.sh (nvcc, CUDA 13); the PTX ships in
// runtime/cuda/kernels.generated.ts with a hash of this file (test/runtime/cuda/ptx.test.ts).

#include "common.cuh"

// embedding: y[b,t,:] = W[ids[b,t+shift],:] if t+shift < T, else 0. One block a row.
extern "C" __global__ void embedding_fwd(const int* ids, const float* W, float* y, int T, int D, int shift) {
  int row = blockIdx.x, t = row % T;
  float* out = y + (size_t)row * D;
  if (t + shift < T) {
    const float* src = W + (size_t)ids[row + shift] * D;
    for (int d = threadIdx.x; d < D; d += blockDim.x) out[d] = src[d];
  } else {
    for (int d = threadIdx.x; d < D; d += blockDim.x) out[d] = 0.f;
  }
}

// rmsnorm over rows of n (input row stride sx, output row stride sy); rstd[row] kept for the backward.
extern "C" __global__ void rmsnorm_fwd(const float* x, const float* w, float* y, float* rstd, int n, int sx, int sy, float eps) {
  int row = blockIdx.x;
  const float* in = x + (size_t)row * sx;
  float* out = y + (size_t)row * sy;
  float ss = 0.f;
  for (int i = threadIdx.x; i < n; i += blockDim.x) ss += in[i] * in[i];
  ss = block_sum(ss);
  // not rsqrtf (approximate, 2 ulp): the exact quotient keeps fp32 mode at the CPU backends' numbers
  float r = 1.f / sqrtf(ss / (float)n + eps);
  if (threadIdx.x == 0 && rstd) rstd[row] = r;
  for (int i = threadIdx.x; i < n; i += blockDim.x) out[i] = w[i] * (in[i] * r);
}

// Rotary embedding in place on `heads` vectors of width d per row: x[row*sr + h*sh + i].
// cs/sn are [T, d/2] (the attention factor folded in); position = row % T. sign = −1 rotates back,
// which is the backward pass (a rotation's transpose is its inverse; af scales both ways alike).
extern "C" __global__ void rope_fwd(float* x, const float* cs, const float* sn, int rows, int T, int heads, int sr, int sh, int d, int interleaved, float sign) {
  int half = d / 2;
  size_t total = (size_t)rows * heads * half;
  for (size_t idx = blockIdx.x * (size_t)blockDim.x + threadIdx.x; idx < total; idx += (size_t)gridDim.x * blockDim.x) {
    int i = idx % half;
    int h = (idx / half) % heads;
    int row = idx / ((size_t)half * heads);
    int t = row % T;
    float c = cs[t * half + i], s = sign * sn[t * half + i];
    float* v = x + (size_t)row * sr + (size_t)h * sh;
    int a = interleaved ? 2 * i : i, b = interleaved ? 2 * i + 1 : i + half;
    float xa = v[a], xb = v[b];
    v[a] = xa * c - xb * s;
    v[b] = xb * c + xa * s;
  }
}

// Causal attention, one block per (t, h, b). q/k/v addressed by row (b*T+t) and head strides; the key
// is two parts (MLA: per-head nope part and a rotary part shared by the heads, head stride 0), the
// kv head of query head h is h / group. o[row, h*dv + j]; lse[(b*H+h)*T+t] kept for the backward.
// Scores live in dynamic shared memory (T floats). A reference kernel: correct for any T that fits
// shared memory, O(T) work per row; the flash kernel replaces it for speed.
extern "C" __global__ void attention_fwd(
    const float* q, int sq, int hq,
    const float* k1, int sk1, int hk1, int d1,
    const float* k2, int sk2, int hk2, int d2,
    const float* v, int sv, int hv, int dv,
    float* o, int so, float* lse, int T, int H, int group, float scale) {
  extern __shared__ float smem[];
  float* p = smem;            // T scores
  float* qs = smem + T;       // d1 + d2 query values
  int t = blockIdx.x, h = blockIdx.y, b = blockIdx.z, g = h / group;
  size_t base = (size_t)b * T;
  const float* qrow = q + (base + t) * sq + (size_t)h * hq;
  for (int i = threadIdx.x; i < d1 + d2; i += blockDim.x) qs[i] = qrow[i];
  __syncthreads();
  float mx = -INFINITY;
  for (int u = threadIdx.x; u <= t; u += blockDim.x) {
    const float* a = k1 + (base + u) * sk1 + (size_t)g * hk1;
    const float* c = k2 + (base + u) * sk2 + (size_t)g * hk2;
    float s = 0.f;
    for (int i = 0; i < d1; i++) s += qs[i] * a[i];
    for (int i = 0; i < d2; i++) s += qs[d1 + i] * c[i];
    s *= scale;
    p[u] = s;
    mx = fmaxf(mx, s);
  }
  mx = block_max(mx);
  float sum = 0.f;
  for (int u = threadIdx.x; u <= t; u += blockDim.x) {
    float e = expf(p[u] - mx);
    p[u] = e;
    sum += e;
  }
  sum = block_sum(sum);
  float inv = 1.f / sum;
  for (int j = threadIdx.x; j < dv; j += blockDim.x) {
    float acc = 0.f;
    for (int u = 0; u <= t; u++) acc += p[u] * v[(base + u) * sv + (size_t)g * hv + j];
    o[(base + t) * so + (size_t)h * dv + j] = acc * inv;
  }
  if (threadIdx.x == 0 && lse) lse[((size_t)b * H + h) * T + t] = mx + logf(sum);
}

__device__ __forceinline__ float silu(float x) { return x / (1.f + expf(-x)); }

// SwiGLU's gate: a = silu(g) * u, where g and u are the two halves of one row of `gu` (width 2F).
extern "C" __global__ void swiglu_gate_fwd(const float* gu, float* a, size_t rows, int F) {
  size_t total = rows * F;
  for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < total; i += (size_t)gridDim.x * blockDim.x) {
    size_t r = i / F;
    int j = i % F;
    float g = gu[r * 2 * F + j], u = gu[r * 2 * F + F + j];
    a[i] = silu(g) * u;
  }
}

extern "C" __global__ void add_fwd(const float* a, const float* b, float* y, size_t n) {
  for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n; i += (size_t)gridDim.x * blockDim.x) y[i] = a[i] + b[i];
}

// y[r, 0:p] = a[r], y[r, p:p+q] = b[r]
extern "C" __global__ void concat_fwd(const float* a, const float* b, float* y, size_t rows, int p, int q) {
  size_t total = rows * (p + q);
  for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < total; i += (size_t)gridDim.x * blockDim.x) {
    size_t r = i / (p + q);
    int j = i % (p + q);
    y[i] = j < p ? a[r * p + j] : b[r * q + (j - p)];
  }
}

// The router after its logits z = x·Wᵀ: one thread per token (E ≤ 1024, K ≤ 32), specs/ir.md §4.9.
// Ties go to the smaller index (strict > while scanning upwards). `work` holds E floats per token.
extern "C" __global__ void router_fwd(
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
extern "C" __global__ void expert_count(const int* indices, int* counts, int N, int K, int E, int capacity) {
  int e = blockIdx.x * blockDim.x + threadIdx.x;
  if (e >= E) return;
  int c = 0;
  for (int i = 0; i < N * K; i++) if (indices[i] == e) c++;
  counts[e] = capacity >= 0 && c > capacity ? capacity : c;
}

extern "C" __global__ void expert_offsets(const int* counts, int* offsets, int* tile_expert, int E, int align, int tiles) {
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

extern "C" __global__ void expert_assign(const int* indices, const int* offsets, int* slot, int* row_token, int N, int K, int E, int capacity) {
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

// xs[r] = x[row_token[r]] (zeros for padding rows)
extern "C" __global__ void expert_gather(const float* x, const int* row_token, const int* offsets, float* xs, int D, int E) {
  int r = blockIdx.x;
  if (r >= offsets[E]) return;
  int n = row_token[r];
  for (int d = threadIdx.x; d < D; d += blockDim.x) xs[(size_t)r * D + d] = n < 0 ? 0.f : x[(size_t)n * D + d];
}

// y[n] = Σ_k weights[n,k] · out[slot[n,k]] (k in order; dropped slots skipped)
extern "C" __global__ void expert_combine(const float* out, const float* weights, const int* slot, float* y, int D, int K) {
  int n = blockIdx.x;
  for (int d = threadIdx.x; d < D; d += blockDim.x) {
    float acc = 0.f;
    for (int k = 0; k < K; k++) {
      int s = slot[(size_t)n * K + k];
      if (s >= 0) acc += weights[(size_t)n * K + k] * out[(size_t)s * D + d];
    }
    y[(size_t)n * D + d] = acc;
  }
}

// Grouped GEMMs over the expert-sorted rows (DeepGEMM's contiguous layout: each expert's rows
// padded to a whole row tile; tile_expert names a tile's expert, -1 past the end). Tile 64×64,
// 256 threads, 4×4 outputs each, fp32 SIMT: the reference path (bf16 tensor-core tiles replace it).
// Weights are stacked [E, rows, cols] row-major; a second stack W2 supplies the output columns from
// `split` on (gate and up projections side by side without a fused copy).
#define GT 64
#define GK 16

__device__ __forceinline__ const float* stacked(const float* W1, const float* W2, int split, int e, int n, int N, int K) {
  return n < split ? W1 + ((size_t)e * split + n) * K : W2 + ((size_t)e * (N - split) + (n - split)) * K;
}

// acc[i][j] += Σ_c As[c][ty·4 + i] · Bs[c][tx·4 + j]: one staged depth slice of a 64×64 tile, 4×4 per thread
__device__ __forceinline__ void accumulate_tile(const float (*As)[GT + 1], const float (*Bs)[GT + 1], float (&acc)[4][4], int tx, int ty) {
  for (int c = 0; c < GK; c++) {
    float a[4], b[4];
    for (int i = 0; i < 4; i++) a[i] = As[c][ty * 4 + i];
    for (int j = 0; j < 4; j++) b[j] = Bs[c][tx * 4 + j];
    for (int i = 0; i < 4; i++)
      for (int j = 0; j < 4; j++) acc[i][j] += a[i] * b[j];
  }
}

// One expert tile of C = A · op(W(e)): NN = false gives C[r, n] = Σ_k A[r, k]·W(e, n)[k] (x · Wᵀ, N output
// columns, contraction K); NN = true gives C[r, k] = Σ_n A[r, n]·W(e, n)[k] (dY · W, K output columns,
// contraction N). Only the staging of the B tile differs.
template <bool NN>
__device__ void grouped_tile(const float* A, int lda, const float* W1, const float* W2, int split, float* C, int ldc, const int* tile_expert, int N, int K) {
  int tile = blockIdx.x;
  int e = tile_expert[tile];
  if (e < 0) return;
  int outCols = NN ? K : N, depth = NN ? N : K;
  int row0 = tile * GT, col0 = blockIdx.y * GT;
  __shared__ float As[GK][GT + 1];
  __shared__ float Bs[GK][GT + 1];
  int tx = threadIdx.x % 16, ty = threadIdx.x / 16;
  float acc[4][4] = {{0.f}};
  for (int d0 = 0; d0 < depth; d0 += GK) {
    for (int i = threadIdx.x; i < GT * GK; i += blockDim.x) {
      int r = i / GK, c = i % GK;
      int d = d0 + c, col = col0 + r;
      As[c][r] = d < depth ? A[(size_t)(row0 + r) * lda + d] : 0.f;
      bool in = d < depth && col < outCols;
      Bs[c][r] = in ? (NN ? stacked(W1, W2, split, e, d, N, K)[col] : stacked(W1, W2, split, e, col, N, K)[d]) : 0.f;
    }
    __syncthreads();
    accumulate_tile(As, Bs, acc, tx, ty);
    __syncthreads();
  }
  for (int i = 0; i < 4; i++)
    for (int j = 0; j < 4; j++) {
      int col = col0 + tx * 4 + j;
      if (col < outCols) C[(size_t)(row0 + ty * 4 + i) * ldc + col] = acc[i][j];
    }
}

extern "C" __global__ void grouped_gemm_nt(const float* A, int lda, const float* W1, const float* W2, int split, float* C, int ldc, const int* tile_expert, int N, int K) {
  grouped_tile<false>(A, lda, W1, W2, split, C, ldc, tile_expert, N, K);
}

extern "C" __global__ void grouped_gemm_nn(const float* A, int lda, const float* W1, const float* W2, int split, float* C, int ldc, const int* tile_expert, int N, int K) {
  grouped_tile<true>(A, lda, W1, W2, split, C, ldc, tile_expert, N, K);
}

// dW[e, n, k] += Σ_{r in expert e's rows} A[r, n] · B[r, k]   (the weight gradient; grid (N/64, K/64, E))
extern "C" __global__ void grouped_gemm_tn(const float* A, int lda, const float* B, int ldb, float* dW, const int* offsets, int N, int K) {
  int e = blockIdx.z;
  int n0 = blockIdx.x * GT, k0 = blockIdx.y * GT;
  int begin = offsets[e], end = offsets[e + 1];
  __shared__ float As[GK][GT + 1];
  __shared__ float Bs[GK][GT + 1];
  int tx = threadIdx.x % 16, ty = threadIdx.x / 16;
  float acc[4][4] = {{0.f}};
  for (int r0 = begin; r0 < end; r0 += GK) {
    for (int i = threadIdx.x; i < GT * GK; i += blockDim.x) {
      int c = i / GT, j = i % GT;
      int r = r0 + c;
      As[c][j] = (r < end && n0 + j < N) ? A[(size_t)r * lda + n0 + j] : 0.f;
      Bs[c][j] = (r < end && k0 + j < K) ? B[(size_t)r * ldb + k0 + j] : 0.f;
    }
    __syncthreads();
    accumulate_tile(As, Bs, acc, tx, ty);
    __syncthreads();
  }
  for (int i = 0; i < 4; i++)
    for (int j = 0; j < 4; j++) {
      int n = n0 + ty * 4 + i, k = k0 + tx * 4 + j;
      if (n < N && k < K) dW[((size_t)e * N + n) * K + k] += acc[i][j];
    }
}
