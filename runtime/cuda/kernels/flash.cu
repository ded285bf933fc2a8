// Flash attention on tensor cores for precision = bf16 (FlashAttention-2's tiling): causal, with an
// optional sliding window, GQA and MLA (a key in two parts, the second — MLA's rotary key — shared by
// the heads), forward and backward, O(T) memory. Nothing T² is stored: the forward keeps a running
// max and sum per query row (online softmax) and saves the log-sum-exp; the backward recomputes the
// probabilities from it, tile by tile.
//
// Operands are read where the projections left them (fp32, the same strides as attention.cu's
// row-wise kernels) and rounded to bf16 into shared tiles padded with zeros to the instantiation's
// widths (QK for q·k, V for v); products accumulate in fp32 (mma.sync m16n8k16). The probabilities
// and dS enter their products as bf16 too, as in FlashAttention-2; lse, delta and every output stay
// fp32. ops/attention.ts picks the smallest instantiation (FLASH_SHAPES there) that holds the head.
//
// Tiles: BR = 64 query rows × BC = 64 keys. Forward: 4 warps, 16 query rows each, a block per
// (query tile, head, batch row). Backward: 8 warps, a block per (key tile, kv head, batch row) that
// walks the group's query heads and every query tile that sees its keys, keeping dK and dV in
// registers (each written once, so no atomics, except MLA's shared rotary key, which every head
// adds to) and adding dQ tile by tile atomically.
#include "common.cuh"
#include "mma.cuh"

namespace flash {

using namespace tc;

constexpr int BR = 64, BC = 64, PAD = 8;

// The first key query t sees: 0, or with a sliding window W > 0 the W − 1 keys before it (as attention.cu).
__device__ __forceinline__ int first_key(int t, int window) { return window > 0 && t - window + 1 > 0 ? t - window + 1 : 0; }

__device__ __forceinline__ bool visible(int t, int u, int T, int window) { return t < T && u <= t && u >= first_key(t, window); }

// Where a tile's operands live (floats): q (row stride sq, head stride hq), the key's per-head part
// k1 (sk1, hk1, d1 wide) and shared part k2 (sk2, d2 wide; d2 = 0: none), v (sv, hv, dv wide).
struct Operands {
  const float* q;
  int sq, hq;
  const float* k1;
  int sk1, hk1, d1;
  const float* k2;
  int sk2, d2;
  const float* v;
  int sv, hv, dv;
};

// ROWS × COLS of bf16 into s (pitch COLS + PAD) from value(r, i), a float (0 outside the operand).
template <int ROWS, int COLS, typename Value>
__device__ __forceinline__ void stage(bf16* s, Value value) {
  for (int e = threadIdx.x; e < ROWS * COLS; e += blockDim.x) {
    int r = e / COLS, i = e % COLS;
    s[r * (COLS + PAD) + i] = __float2bfloat16_rn(value(r, i));
  }
}

// Query rows q0.. of head h: [q | its rotary part] (d1 + d2 wide), zeros past the head and past T.
template <int QK>
__device__ __forceinline__ void stage_q(bf16* s, const Operands& a, size_t base, int q0, int h, int T) {
  stage<BR, QK>(s, [&](int r, int i) { return q0 + r < T && i < a.d1 + a.d2 ? a.q[(base + q0 + r) * a.sq + (size_t)h * a.hq + i] : 0.f; });
}

// Keys k0.. of kv head g: [k1 | k2].
template <int QK>
__device__ __forceinline__ void stage_k(bf16* s, const Operands& a, size_t base, int k0, int g, int T) {
  stage<BC, QK>(s, [&](int r, int i) {
    size_t u = base + k0 + r;
    if (k0 + r >= T) return 0.f;
    if (i < a.d1) return a.k1[u * a.sk1 + (size_t)g * a.hk1 + i];
    return i < a.d1 + a.d2 ? a.k2[u * a.sk2 + (i - a.d1)] : 0.f;
  });
}

template <int V>
__device__ __forceinline__ void stage_v(bf16* s, const Operands& a, size_t base, int k0, int g, int T) {
  stage<BC, V>(s, [&](int r, int j) { return k0 + r < T && j < a.dv ? a.v[(base + k0 + r) * a.sv + (size_t)g * a.hv + j] : 0.f; });
}

// acc[j] (16 × 8 each, N8 of them side by side from column n0) += A(16 rows at m, DEPTH deep) · B.
template <bool A_T, bool B_T, int N8, int DEPTH>
__device__ __forceinline__ void product(float (&acc)[N8][4], const bf16* As, int lda, int m, const bf16* Bs, int ldb, int n0) {
#pragma unroll
  for (int k = 0; k < DEPTH; k += 16) {
    uint32_t a[4];
    load_a<A_T>(a, As, lda, m, k);
#pragma unroll
    for (int j = 0; j < N8; j += 2) {
      uint32_t b[4];
      load_b<B_T>(b, Bs, ldb, k, n0 + j * 8);
      mma16816(acc[j], a, b[0], b[1]);
      mma16816(acc[j + 1], a, b[2], b[3]);
    }
  }
}

// The max (or sum) of a row's values over the 4 lanes that hold it (an accumulator row is spread over a quad).
__device__ __forceinline__ float quad_max(float v) {
  v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, 1));
  return fmaxf(v, __shfl_xor_sync(0xffffffffu, v, 2));
}
__device__ __forceinline__ float quad_sum(float v) {
  v += __shfl_xor_sync(0xffffffffu, v, 1);
  return v + __shfl_xor_sync(0xffffffffu, v, 2);
}

// o [row][h·dv] and lse[(b·H + h)·T + t]. Grid (ceil(T / BR), H, B), 128 threads, dynamic shared
// memory fwd_shared(QK, V) bytes.
template <int QK, int V>
__device__ __forceinline__ void fwd(const Operands a, float* o, float* lse, int T, int H, int G, float scale, int window) {
  constexpr int LQ = QK + PAD, LV = V + PAD;
  extern __shared__ __align__(16) bf16 fwd_tiles[];
  bf16* Qs = fwd_tiles;
  bf16* Ks = Qs + BR * LQ;
  bf16* Vs = Ks + BC * LQ;
  int q0 = blockIdx.x * BR, h = blockIdx.y, b = blockIdx.z, g = h / (H / G);
  int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  size_t base = (size_t)b * T;
  stage_q<QK>(Qs, a, base, q0, h, T);
  int rows[2] = {q0 + warp * 16 + lane / 4, q0 + warp * 16 + lane / 4 + 8};  // the two query rows this thread holds
  float acc[V / 8][4] = {};
  float m[2] = {-INFINITY, -INFINITY}, l[2] = {0.f, 0.f};
  int last = min(q0 + BR, T) - 1;
  for (int k0 = first_key(q0, window) / BC * BC; k0 <= last; k0 += BC) {
    __syncthreads();  // Q is staged, and every warp is done with the last K and V tiles
    stage_k<QK>(Ks, a, base, k0, g, T);
    stage_v<V>(Vs, a, base, k0, g, T);
    __syncthreads();
    float s[BC / 8][4] = {};
    product<false, false, BC / 8, QK>(s, Qs, LQ, warp * 16, Ks, LQ, 0);
    float mx[2] = {-INFINITY, -INFINITY};
#pragma unroll
    for (int j = 0; j < BC / 8; j++)
#pragma unroll
      for (int i = 0; i < 4; i++) {
        int t = rows[i / 2], u = k0 + j * 8 + (lane % 4) * 2 + i % 2;
        s[j][i] = visible(t, u, T, window) ? s[j][i] * scale : -INFINITY;
        mx[i / 2] = fmaxf(mx[i / 2], s[j][i]);
      }
    float shift[2], rescale[2], sum[2] = {0.f, 0.f};
#pragma unroll
    for (int r = 0; r < 2; r++) {
      float mn = fmaxf(m[r], quad_max(mx[r]));
      shift[r] = mn == -INFINITY ? 0.f : mn;  // a row that sees nothing yet: every p is 0, nothing is NaN
      rescale[r] = expf(m[r] - shift[r]);
      m[r] = mn;
    }
#pragma unroll
    for (int j = 0; j < BC / 8; j++)
#pragma unroll
      for (int i = 0; i < 4; i++) {
        s[j][i] = expf(s[j][i] - shift[i / 2]);
        sum[i / 2] += s[j][i];
      }
#pragma unroll
    for (int r = 0; r < 2; r++) l[r] = l[r] * rescale[r] + quad_sum(sum[r]);
#pragma unroll
    for (int j = 0; j < V / 8; j++)
#pragma unroll
      for (int i = 0; i < 4; i++) acc[j][i] *= rescale[i / 2];
    // O += P·V: the probabilities' accumulators are the A fragments (mma.cuh), 16 keys at a time
#pragma unroll
    for (int kk = 0; kk < BC / 16; kk++) {
      uint32_t p[4] = {pack_bf16(s[2 * kk][0], s[2 * kk][1]), pack_bf16(s[2 * kk][2], s[2 * kk][3]), pack_bf16(s[2 * kk + 1][0], s[2 * kk + 1][1]), pack_bf16(s[2 * kk + 1][2], s[2 * kk + 1][3])};
#pragma unroll
      for (int j = 0; j < V / 8; j += 2) {
        uint32_t v[4];
        load_b<true>(v, Vs, LV, kk * 16, j * 8);
        mma16816(acc[j], p, v[0], v[1]);
        mma16816(acc[j + 1], p, v[2], v[3]);
      }
    }
  }
#pragma unroll
  for (int r = 0; r < 2; r++) {
    int t = rows[r];
    if (t >= T) continue;
    float inv = 1.f / l[r];
    float* out = o + (base + t) * (size_t)(H * a.dv) + (size_t)h * a.dv;
#pragma unroll
    for (int j = 0; j < V / 8; j++)
#pragma unroll
      for (int e = 0; e < 2; e++) {
        int col = j * 8 + (lane % 4) * 2 + e;
        if (col < a.dv) out[col] = acc[j][2 * r + e] * inv;
      }
    if (lane % 4 == 0) lse[((size_t)b * H + h) * T + t] = m[r] + logf(l[r]);
  }
}

// Gradients from the saved lse and delta = Σ dO·O per (b, h, t): per visible (t, u),
// p = e^(scale·q·k − lse), dS = p·(dO·v − delta); dQ += scale·dS·K (atomically, tile by tile),
// dK += scale·dSᵀ·Q, dV += Pᵀ·dO — all added to what the gradient buffers hold. Grid
// (ceil(T / BC), G, B), 256 threads, dynamic shared memory bwd_shared(QK, V) bytes.
template <int QK, int V>
__device__ __forceinline__ void bwd(const Operands a, const float* dout, const float* lse, const float* delta, float* dq, float* dk1, float* dk2, float* dv, int T, int H, int G, float scale, int window) {
  constexpr int LQ = QK + PAD, LV = V + PAD, LP = BC + PAD;
  extern __shared__ __align__(16) bf16 bwd_tiles[];
  bf16* Ks = bwd_tiles;
  bf16* Vs = Ks + BC * LQ;
  bf16* Qs = Vs + BC * LV;
  bf16* dOs = Qs + BR * LQ;
  bf16* Ps = dOs + BR * LV;
  bf16* dSs = Ps + BR * LP;
  float* stats = reinterpret_cast<float*>(dSs + BR * LP);  // lse, then delta, of the tile's rows
  int k0 = blockIdx.x * BC, g = blockIdx.y, b = blockIdx.z, group = H / G;
  int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  int wr = warp % 4, wc = warp / 4;  // this warp's 16-row slice, and which half of the columns
  size_t base = (size_t)b * T;
  stage_k<QK>(Ks, a, base, k0, g, T);
  stage_v<V>(Vs, a, base, k0, g, T);
  float dk[QK / 16][4] = {}, dvacc[V / 16][4] = {};
  // the query rows that see a key of this tile: from k0 (causal) to the last key plus the window
  int lastKey = min(k0 + BC, T) - 1;
  int lastQuery = window > 0 ? min(T - 1, lastKey + window - 1) : T - 1;
  for (int h = g * group; h < (g + 1) * group; h++) {
    for (int q0 = k0 / BR * BR; q0 <= lastQuery; q0 += BR) {
      __syncthreads();  // every warp is done with the last query tile (and K, V are staged)
      stage_q<QK>(Qs, a, base, q0, h, T);
      stage<BR, V>(dOs, [&](int r, int j) { return q0 + r < T && j < a.dv ? dout[(base + q0 + r) * (size_t)(H * a.dv) + (size_t)h * a.dv + j] : 0.f; });
      for (int r = threadIdx.x; r < BR; r += blockDim.x) {
        bool in = q0 + r < T;
        stats[r] = in ? lse[((size_t)b * H + h) * T + q0 + r] : 0.f;
        stats[BR + r] = in ? delta[((size_t)b * H + h) * T + q0 + r] : 0.f;
      }
      __syncthreads();
      // this warp's 16 × 32 of S and dP: P and dS into shared memory as bf16
      float s[4][4] = {}, dp[4][4] = {};
      product<false, false, 4, QK>(s, Qs, LQ, wr * 16, Ks, LQ, wc * 32);
      product<false, false, 4, V>(dp, dOs, LV, wr * 16, Vs, LV, wc * 32);
#pragma unroll
      for (int j = 0; j < 4; j++)
#pragma unroll
        for (int i = 0; i < 4; i += 2) {
          int r = wr * 16 + lane / 4 + (i / 2) * 8, c = wc * 32 + j * 8 + (lane % 4) * 2;
          float p[2], ds[2];
#pragma unroll
          for (int e = 0; e < 2; e++) {
            p[e] = visible(q0 + r, k0 + c + e, T, window) ? expf(s[j][i + e] * scale - stats[r]) : 0.f;
            ds[e] = p[e] * (dp[j][i + e] - stats[BR + r]);
          }
          *reinterpret_cast<uint32_t*>(Ps + r * LP + c) = pack_bf16(p[0], p[1]);
          *reinterpret_cast<uint32_t*>(dSs + r * LP + c) = pack_bf16(ds[0], ds[1]);
        }
      __syncthreads();
      // dV += Pᵀ·dO and dK += dSᵀ·Q: this warp's 16 keys, half of the columns
      product<true, true, V / 16, BR>(dvacc, Ps, LP, wr * 16, dOs, LV, wc * (V / 2));
      product<true, true, QK / 16, BR>(dk, dSs, LP, wr * 16, Qs, LQ, wc * (QK / 2));
      // dQ += scale·dS·K: this warp's 16 query rows, its half of the columns, 16 at a time
      int t0 = q0 + wr * 16 + lane / 4;
#pragma unroll
      for (int n0 = wc * (QK / 2); n0 < (wc + 1) * (QK / 2); n0 += 16) {
        float part[2][4] = {};
        product<false, true, 2, BC>(part, dSs, LP, wr * 16, Ks, LQ, n0);
#pragma unroll
        for (int j = 0; j < 2; j++)
#pragma unroll
          for (int i = 0; i < 4; i++) {
            int t = t0 + (i / 2) * 8, col = n0 + j * 8 + (lane % 4) * 2 + i % 2;
            if (t < T && col < a.d1 + a.d2) atomicAdd(&dq[(base + t) * a.sq + (size_t)h * a.hq + col], scale * part[j][i]);
          }
      }
    }
  }
  // dK and dV of this tile's keys: the per-head parts are this block's alone; the shared key part is every head's
  int u0 = k0 + wr * 16 + lane / 4;
#pragma unroll
  for (int j = 0; j < QK / 16; j++)
#pragma unroll
    for (int i = 0; i < 4; i++) {
      int u = u0 + (i / 2) * 8, col = wc * (QK / 2) + j * 8 + (lane % 4) * 2 + i % 2;
      if (u >= T) continue;
      if (col < a.d1) dk1[(base + u) * a.sk1 + (size_t)g * a.hk1 + col] += scale * dk[j][i];
      else if (col < a.d1 + a.d2) atomicAdd(&dk2[(base + u) * a.sk2 + (col - a.d1)], scale * dk[j][i]);
    }
#pragma unroll
  for (int j = 0; j < V / 16; j++)
#pragma unroll
    for (int i = 0; i < 4; i++) {
      int u = u0 + (i / 2) * 8, col = wc * (V / 2) + j * 8 + (lane % 4) * 2 + i % 2;
      if (u < T && col < a.dv) dv[(base + u) * a.sv + (size_t)g * a.hv + col] += dvacc[j][i];
    }
}

}  // namespace flash

// One pair of kernels per (QK, V), the widths a head is padded to; ops/attention.ts FLASH_SHAPES
// lists the same pairs (a test checks). QK and V are multiples of 32: the backward splits each into
// two halves of whole 16-column fragments. Written out, not by a macro: the emulator's build reads
// the kernels' signatures from this text.

extern "C" __global__ void __launch_bounds__(128) flash_fwd_32x32(const float* q, int sq, int hq, const float* k1, int sk1, int hk1, int d1, const float* k2, int sk2, int d2, const float* v, int sv, int hv, int dv, float* o, float* lse, int T, int H, int G, float scale, int window) {
  flash::fwd<32, 32>({q, sq, hq, k1, sk1, hk1, d1, k2, sk2, d2, v, sv, hv, dv}, o, lse, T, H, G, scale, window);
}
extern "C" __global__ void __launch_bounds__(256) flash_bwd_32x32(const float* q, int sq, int hq, const float* k1, int sk1, int hk1, int d1, const float* k2, int sk2, int d2, const float* v, int sv, int hv, int dv, const float* dout, const float* lse, const float* delta, float* dq, float* dk1, float* dk2, float* dvv, int T, int H, int G, float scale, int window) {
  flash::bwd<32, 32>({q, sq, hq, k1, sk1, hk1, d1, k2, sk2, d2, v, sv, hv, dv}, dout, lse, delta, dq, dk1, dk2, dvv, T, H, G, scale, window);
}

extern "C" __global__ void __launch_bounds__(128) flash_fwd_64x64(const float* q, int sq, int hq, const float* k1, int sk1, int hk1, int d1, const float* k2, int sk2, int d2, const float* v, int sv, int hv, int dv, float* o, float* lse, int T, int H, int G, float scale, int window) {
  flash::fwd<64, 64>({q, sq, hq, k1, sk1, hk1, d1, k2, sk2, d2, v, sv, hv, dv}, o, lse, T, H, G, scale, window);
}
extern "C" __global__ void __launch_bounds__(256) flash_bwd_64x64(const float* q, int sq, int hq, const float* k1, int sk1, int hk1, int d1, const float* k2, int sk2, int d2, const float* v, int sv, int hv, int dv, const float* dout, const float* lse, const float* delta, float* dq, float* dk1, float* dk2, float* dvv, int T, int H, int G, float scale, int window) {
  flash::bwd<64, 64>({q, sq, hq, k1, sk1, hk1, d1, k2, sk2, d2, v, sv, hv, dv}, dout, lse, delta, dq, dk1, dk2, dvv, T, H, G, scale, window);
}

extern "C" __global__ void __launch_bounds__(128) flash_fwd_96x64(const float* q, int sq, int hq, const float* k1, int sk1, int hk1, int d1, const float* k2, int sk2, int d2, const float* v, int sv, int hv, int dv, float* o, float* lse, int T, int H, int G, float scale, int window) {
  flash::fwd<96, 64>({q, sq, hq, k1, sk1, hk1, d1, k2, sk2, d2, v, sv, hv, dv}, o, lse, T, H, G, scale, window);
}
extern "C" __global__ void __launch_bounds__(256) flash_bwd_96x64(const float* q, int sq, int hq, const float* k1, int sk1, int hk1, int d1, const float* k2, int sk2, int d2, const float* v, int sv, int hv, int dv, const float* dout, const float* lse, const float* delta, float* dq, float* dk1, float* dk2, float* dvv, int T, int H, int G, float scale, int window) {
  flash::bwd<96, 64>({q, sq, hq, k1, sk1, hk1, d1, k2, sk2, d2, v, sv, hv, dv}, dout, lse, delta, dq, dk1, dk2, dvv, T, H, G, scale, window);
}

extern "C" __global__ void __launch_bounds__(128) flash_fwd_128x128(const float* q, int sq, int hq, const float* k1, int sk1, int hk1, int d1, const float* k2, int sk2, int d2, const float* v, int sv, int hv, int dv, float* o, float* lse, int T, int H, int G, float scale, int window) {
  flash::fwd<128, 128>({q, sq, hq, k1, sk1, hk1, d1, k2, sk2, d2, v, sv, hv, dv}, o, lse, T, H, G, scale, window);
}
extern "C" __global__ void __launch_bounds__(256) flash_bwd_128x128(const float* q, int sq, int hq, const float* k1, int sk1, int hk1, int d1, const float* k2, int sk2, int d2, const float* v, int sv, int hv, int dv, const float* dout, const float* lse, const float* delta, float* dq, float* dk1, float* dk2, float* dvv, int T, int H, int G, float scale, int window) {
  flash::bwd<128, 128>({q, sq, hq, k1, sk1, hk1, d1, k2, sk2, d2, v, sv, hv, dv}, dout, lse, delta, dq, dk1, dk2, dvv, T, H, G, scale, window);
}

extern "C" __global__ void __launch_bounds__(128) flash_fwd_192x128(const float* q, int sq, int hq, const float* k1, int sk1, int hk1, int d1, const float* k2, int sk2, int d2, const float* v, int sv, int hv, int dv, float* o, float* lse, int T, int H, int G, float scale, int window) {
  flash::fwd<192, 128>({q, sq, hq, k1, sk1, hk1, d1, k2, sk2, d2, v, sv, hv, dv}, o, lse, T, H, G, scale, window);
}
extern "C" __global__ void __launch_bounds__(256) flash_bwd_192x128(const float* q, int sq, int hq, const float* k1, int sk1, int hk1, int d1, const float* k2, int sk2, int d2, const float* v, int sv, int hv, int dv, const float* dout, const float* lse, const float* delta, float* dq, float* dk1, float* dk2, float* dvv, int T, int H, int G, float scale, int window) {
  flash::bwd<192, 128>({q, sq, hq, k1, sk1, hk1, d1, k2, sk2, d2, v, sv, hv, dv}, dout, lse, delta, dq, dk1, dk2, dvv, T, H, G, scale, window);
}
