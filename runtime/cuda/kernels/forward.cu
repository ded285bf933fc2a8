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

// y[r·n + j] += b[j]: a bias added to every row
extern "C" __global__ void add_row_bias(float* y, const float* b, size_t rows, int n) {
  GRID_STRIDE(i, rows * n) y[i] += b[i % n];
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

__device__ __forceinline__ float silu(float x) { return x / (1.f + expf(-x)); }

// SwiGLU's gate: a = silu(g) * u, where g and u are the two halves of one row of `gu` (width 2F); a as
// fp32 (swiglu_gate_fwd) or bf16 (swiglu_gate_fwd_bf16: the down projection's operand in precision = bf16).
template <typename T>
__device__ __forceinline__ void swiglu_gate(const float* gu, T* a, size_t rows, int F) {
  size_t total = rows * F;
  for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < total; i += (size_t)gridDim.x * blockDim.x) {
    size_t r = i / F;
    int j = i % F;
    float g = gu[r * 2 * F + j], u = gu[r * 2 * F + F + j];
    a[i] = store_as<T>(silu(g) * u);
  }
}

extern "C" __global__ void swiglu_gate_fwd(const float* gu, float* a, size_t rows, int F) { swiglu_gate(gu, a, rows, F); }

extern "C" __global__ void swiglu_gate_fwd_bf16(const float* gu, __nv_bfloat16* a, size_t rows, int F) { swiglu_gate(gu, a, rows, F); }

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

// moe.shared_gate (specs/ir.md §4.16): out[r] = y[r] · g[r], g[r] = σ(x[r] · w) with w [1, D]; one block a
// row. g is kept for the backward. The dot product stays fp32 in either precision: it is D flops a row.
extern "C" __global__ void shared_gate_fwd(const float* x, const float* w, const float* y, float* g, float* out, int D) {
  size_t row = blockIdx.x;
  const float* xr = x + row * D;
  float z = 0.f;
  for (int i = threadIdx.x; i < D; i += blockDim.x) z += xr[i] * w[i];
  float gate = 1.f / (1.f + expf(-block_sum(z)));
  if (threadIdx.x == 0) g[row] = gate;
  const float* yr = y + row * D;
  float* o = out + row * D;
  for (int i = threadIdx.x; i < D; i += blockDim.x) o[i] = yr[i] * gate;
}

// The router after its logits z = x·Wᵀ (specs/ir.md §4.9): one warp per token (E ≤ 1024, K ≤ 32,
// G ≤ 64), each lane holding every 32nd expert. Ties go to the smaller index, as a scan upwards with
// strict > would choose; the softmax's sum is added in expert order by one lane, so every output is
// the same bit for bit whatever the warp's order. `work` holds E floats per token (the biased scores).
template <int PER>
__device__ __forceinline__ void route_token(
    int n, const float* z, const float* bias, float* weights, int* indices, float* scores, float* load, float* work,
    int E, int K, int softmax, int G, int Gsel, int top2, int normalize, float scale) {
  int lane = threadIdx.x % WARP;
  const float* zr = z + (size_t)n * E;
  float* s = scores + (size_t)n * E;
  float* u = work + (size_t)n * E;
  // this lane's biased scores (experts e = lane + 32·j) in registers up to 256 experts; past that they
  // are read back from `work` (L1), so the kernel's register count stays that of the common case
  constexpr bool REG = PER <= 8;
  float uv[REG ? PER : 1];
  if (softmax) {
    float mx = -INFINITY;
    for (int e = lane; e < E; e += WARP) mx = fmaxf(mx, zr[e]);
    mx = warp_max(mx);
    for (int e = lane; e < E; e += WARP) s[e] = expf(zr[e] - mx);
    __syncwarp();
    float sum = 0.f;
    if (lane == 0) for (int e = 0; e < E; e++) sum += s[e];
    sum = __shfl_sync(0xffffffffu, sum, 0);
    __syncwarp();  // lane 0 has read every s[e] before they are overwritten
    for (int e = lane; e < E; e += WARP) s[e] /= sum;
  } else {
    for (int e = lane; e < E; e += WARP) s[e] = 1.f / (1.f + expf(-zr[e]));
  }
  for (int e = lane; e < E; e += WARP) u[e] = s[e] + (bias ? bias[e] : 0.f);
  if (REG) {
#pragma unroll
    for (int j = 0; j < (REG ? PER : 1); j++) uv[j] = lane + WARP * j < E ? u[lane + WARP * j] : -INFINITY;
  }
  __syncwarp();
  if (Gsel < G) {
    int per = E / G;
    float gs[2];  // groups lane and lane + 32: top-1 or top-2 sum, scanned in expert order as before
    for (int h = 0; h < 2; h++) {
      int g = lane + WARP * h;
      gs[h] = -INFINITY;
      if (g >= G) continue;
      float a = -INFINITY, b2 = -INFINITY;
      for (int e = g * per; e < (g + 1) * per; e++) {
        float x = u[e];
        if (x > a) { b2 = a; a = x; } else if (x > b2) b2 = x;
      }
      gs[h] = top2 ? (per >= 2 ? a + b2 : a) : a;
    }
    unsigned long long kept = 0ull;
    for (int pick = 0; pick < Gsel; pick++) {
      float bv = -INFINITY;
      int bi = 1 << 30;
      for (int h = 0; h < 2; h++) {
        int g = lane + WARP * h;
        if (g < G && !(kept >> g & 1ull) && (bi == 1 << 30 || gs[h] > bv)) { bv = gs[h]; bi = g; }
      }
      for (int o = WARP / 2; o > 0; o >>= 1) {
        float ov = __shfl_xor_sync(0xffffffffu, bv, o);
        int oi = __shfl_xor_sync(0xffffffffu, bi, o);
        if (ov > bv || (ov == bv && oi < bi)) { bv = ov; bi = oi; }
      }
      kept |= 1ull << bi;
    }
    __syncwarp();  // every lane has read u for its groups before the masked ones are overwritten
#pragma unroll(REG ? PER : 1)
    for (int j = 0; j < PER; j++) {
      int e = lane + WARP * j;
      int g = e / per;  // experts past G·per belong to no group and stay (as in a scan over the groups)
      if (e < E && g < G && !(kept >> g & 1ull)) {
        if (REG) uv[REG ? j : 0] = -INFINITY;
        u[e] = -INFINITY;
      }
    }
  }
  unsigned taken = 0u;  // bit j: expert lane + 32·j already chosen
  float total = 0.f, mine = 0.f;
  int myIndex = 0;
  for (int k = 0; k < K; k++) {
    float bv = -INFINITY;
    int bi = 1 << 30;  // none yet: loses every tie against a real expert
#pragma unroll(REG ? PER : 1)
    for (int j = 0; j < PER; j++) {
      int e = lane + WARP * j;
      if (e >= E || (taken >> j & 1u)) continue;
      float v = REG ? uv[REG ? j : 0] : u[e];
      if (bi == 1 << 30 || v > bv) { bv = v; bi = e; }
    }
    for (int o = WARP / 2; o > 0; o >>= 1) {
      float ov = __shfl_xor_sync(0xffffffffu, bv, o);
      int oi = __shfl_xor_sync(0xffffffffu, bi, o);
      if (ov > bv || (ov == bv && oi < bi)) { bv = ov; bi = oi; }
    }
    if (bi % WARP == lane) taken |= 1u << (bi / WARP);
    float w = s[bi];
    total += w;
    if (lane == k) { myIndex = bi; mine = w; }
    if (lane == 0) atomicAdd(&load[bi], 1.f);
  }
  if (lane < K) {
    indices[(size_t)n * K + lane] = myIndex;
    weights[(size_t)n * K + lane] = scale * (normalize ? mine / (total + 1e-20f) : mine);
  }
}

extern "C" __global__ void router_fwd(
    const float* z, const float* bias, float* weights, int* indices, float* scores, float* load, float* work,
    int N, int E, int K, int softmax, int G, int Gsel, int top2, int normalize, float scale) {
  int warps = gridDim.x * blockDim.x / WARP;
  for (int n = (blockIdx.x * blockDim.x + threadIdx.x) / WARP; n < N; n += warps) {
    if (E <= 64) route_token<2>(n, z, bias, weights, indices, scores, load, work, E, K, softmax, G, Gsel, top2, normalize, scale);
    else if (E <= 256) route_token<8>(n, z, bias, weights, indices, scores, load, work, E, K, softmax, G, Gsel, top2, normalize, scale);
    else route_token<32>(n, z, bias, weights, indices, scores, load, work, E, K, softmax, G, Gsel, top2, normalize, scale);
  }
}

// Expert slots in token order (deterministic): slot[n*K+k] = the row of the expert-sorted buffer that
// holds token n's copy for its k-th expert, or -1 when capacity drops it (specs/ir.md §4.10: an
// expert keeps its first `capacity` pairs in token order). Each expert's segment starts at a multiple
// of `align` (the grouped GEMM's row tile never straddles two experts, DeepGEMM's contiguous layout);
// tile_expert[tile] names each tile's expert (-1 = none). Three passes over chunks of ASSIGN_CHUNK
// pairs: expert_hist counts each chunk's pairs per expert, expert_scan turns the counts into each
// chunk's first rank per expert and the offsets, expert_assign ranks the pairs inside a chunk.
#define ASSIGN_CHUNK 256  // the block size of expert_hist and expert_assign
#define MAX_EXPERTS 1024

// hist[c·E + e] = pairs of chunk c routed to expert e. grid ceil(N·K / ASSIGN_CHUNK), block ASSIGN_CHUNK.
extern "C" __global__ void expert_hist(const int* indices, int* hist, int NK, int E) {
  __shared__ int h[MAX_EXPERTS];
  for (int e = threadIdx.x; e < E; e += blockDim.x) h[e] = 0;
  __syncthreads();
  int i = blockIdx.x * ASSIGN_CHUNK + threadIdx.x;
  if (i < NK) {
    int e = indices[i];
    if (e >= 0 && e < E) atomicAdd(&h[e], 1);
  }
  __syncthreads();
  for (int e = threadIdx.x; e < E; e += blockDim.x) hist[(size_t)blockIdx.x * E + e] = h[e];
}

// One block (1024 threads): hist becomes the exclusive prefix over chunks per expert; counts[e] (capped),
// offsets[0..E], tile_expert, and row_token = -1 on each segment's padding rows.
extern "C" __global__ void expert_scan(int* hist, int* counts, int* offsets, int* tile_expert, int* row_token, int chunks, int E, int align, int tiles, int capacity) {
  __shared__ int padded[MAX_EXPERTS];
  __shared__ int lanesum[WARP];
  for (int e = threadIdx.x; e < E; e += blockDim.x) {
    int run = 0;
    for (int c = 0; c < chunks; c++) {
      int v = hist[(size_t)c * E + e];
      hist[(size_t)c * E + e] = run;
      run += v;
    }
    int cnt = capacity >= 0 && run > capacity ? capacity : run;
    counts[e] = cnt;
    padded[e] = (cnt + align - 1) / align * align;
  }
  __syncthreads();
  // exclusive scan of padded[0..E) by warp 0: lane l sums experts [l·per, (l+1)·per) in order
  int per = (E + WARP - 1) / WARP;
  if (threadIdx.x < WARP) {
    int lane = threadIdx.x, sum = 0;
    for (int e = lane * per; e < min(E, (lane + 1) * per); e++) sum += padded[e];
    int incl = sum;
    for (int o = 1; o < WARP; o <<= 1) {
      int v = __shfl_up_sync(0xffffffffu, incl, o);
      if (lane >= o) incl += v;
    }
    lanesum[lane] = incl - sum;
    if (lane == WARP - 1) offsets[E] = incl;
  }
  __syncthreads();
  if (threadIdx.x < WARP) {
    int at = lanesum[threadIdx.x];
    for (int e = threadIdx.x * per; e < min(E, (threadIdx.x + 1) * per); e++) {
      int p = padded[e];
      padded[e] = at;  // now the offset
      at += p;
    }
  }
  __syncthreads();
  for (int e = threadIdx.x; e < E; e += blockDim.x) {
    int at = padded[e], end = e + 1 < E ? padded[e + 1] : offsets[E];
    offsets[e] = at;
    for (int t = at / align; t < end / align; t++) tile_expert[t] = e;
    for (int r = at + counts[e]; r < end; r++) row_token[r] = -1;
  }
  for (int t = offsets[E] / align + threadIdx.x; t < tiles; t += blockDim.x) tile_expert[t] = -1;
}

// slot and row_token of each pair: its rank among its expert's pairs is the chunk's base (from
// expert_scan) plus the earlier pairs of the chunk with the same expert (earlier warps, then earlier
// lanes: __match_any_sync). grid ceil(N·K / ASSIGN_CHUNK), block ASSIGN_CHUNK.
extern "C" __global__ void expert_assign(const int* indices, const int* hist, const int* offsets, int* slot, int* row_token, int NK, int K, int E, int capacity) {
  __shared__ int base[MAX_EXPERTS];
  for (int e = threadIdx.x; e < E; e += blockDim.x) base[e] = hist[(size_t)blockIdx.x * E + e];
  __syncthreads();
  int i = blockIdx.x * ASSIGN_CHUNK + threadIdx.x, lane = threadIdx.x % WARP, warp = threadIdx.x / WARP;
  int e = i < NK ? indices[i] : -1;
  bool valid = e >= 0 && e < E;
  unsigned peers = __match_any_sync(0xffffffffu, valid ? e : -1);
  int before = __popc(peers & ((1u << lane) - 1u)), rank = 0;
  for (int w = 0; w < ASSIGN_CHUNK / WARP; w++) {
    if (warp == w) {
      int b = valid ? base[e] : 0;
      __syncwarp();
      if (valid && lane == WARP - 1 - __clz(peers)) base[e] = b + __popc(peers);
      rank = b + before;
    }
    __syncthreads();
  }
  if (i >= NK) return;
  if (valid && (capacity < 0 || rank < capacity)) {
    int at = offsets[e] + rank;
    slot[i] = at;
    row_token[at] = i / K;
  } else {
    slot[i] = -1;
  }
}

// xs[r] = x[row_token[r]] (zeros for padding rows), as fp32 (expert_gather) or bf16 (expert_gather_bf16:
// the grouped GEMMs' operand in precision = bf16)
template <typename T>
__device__ __forceinline__ void gather_rows(const float* x, const int* row_token, const int* offsets, T* xs, int D, int E) {
  int r = blockIdx.x;
  if (r >= offsets[E]) return;
  int n = row_token[r];
  for (int d = threadIdx.x; d < D; d += blockDim.x) xs[(size_t)r * D + d] = store_as<T>(n < 0 ? 0.f : x[(size_t)n * D + d]);
}

extern "C" __global__ void expert_gather(const float* x, const int* row_token, const int* offsets, float* xs, int D, int E) {
  gather_rows(x, row_token, offsets, xs, D, E);
}

extern "C" __global__ void expert_gather_bf16(const float* x, const int* row_token, const int* offsets, __nv_bfloat16* xs, int D, int E) {
  gather_rows(x, row_token, offsets, xs, D, E);
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
