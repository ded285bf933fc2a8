// Causal attention's softmax, between the cuBLASLt products of ops/attention.ts (scores S = scale·QKᵀ,
// then P·V; in the backward dP = dO·Vᵀ, then dS·K, dSᵀ·Q and Pᵀ·dO). One batch row b at a time, the
// scores of every head stored as [t][h][u] (row (t, h) of T floats at (t·H + h)·T), the layout that
// lets MLA's rotary key, shared by the heads, take one product for all heads. The log-sum-exp per
// (b, h, t) is kept for the backward at lse[(b·H + h)·T + t] (the caller offsets lse and delta by b).
#include "common.cuh"

// The first key query t sees: 0, or with a sliding window W > 0 the W − 1 keys before it (t − W < u).
__device__ __forceinline__ int first_visible(int t, int window) { return window > 0 && t - window + 1 > 0 ? t - window + 1 : 0; }

// P = softmax over the visible u (first_visible(t) ≤ u ≤ t) of row (t, h), in place (0 elsewhere);
// lse[h·T + t] = its log-sum-exp. One block per (t, h).
extern "C" __global__ void attn_softmax_fwd(float* S, float* lse, int T, int H, int window) {
  int t = blockIdx.x, h = blockIdx.y, lo = first_visible(t, window);
  float* row = S + ((size_t)t * H + h) * T;
  float mx = -INFINITY;
  for (int u = lo + threadIdx.x; u <= t; u += blockDim.x) mx = fmaxf(mx, row[u]);
  mx = block_max(mx);
  float sum = 0.f;
  for (int u = lo + threadIdx.x; u <= t; u += blockDim.x) sum += expf(row[u] - mx);
  sum = block_sum(sum);
  float inv = 1.f / sum;
  for (int u = threadIdx.x; u < T; u += blockDim.x) row[u] = u >= lo && u <= t ? expf(row[u] - mx) * inv : 0.f;
  if (threadIdx.x == 0) lse[(size_t)h * T + t] = mx + logf(sum);
}

// From the recomputed scores S and dP = dO·Vᵀ: P = exp(S − lse) (0 where u is not visible) into S,
// and dS = P ⊙ (dP − delta) into dP, delta[h·T + t] = Σ dO·O of that row. One block per (t, h).
extern "C" __global__ void attn_softmax_bwd(float* S, float* dP, const float* lse, const float* delta, int T, int H, int window) {
  int t = blockIdx.x, h = blockIdx.y, lo = first_visible(t, window);
  size_t off = ((size_t)t * H + h) * T;
  float l = lse[(size_t)h * T + t], d = delta[(size_t)h * T + t];
  for (int u = threadIdx.x; u < T; u += blockDim.x) {
    float p = u >= lo && u <= t ? expf(S[off + u] - l) : 0.f;
    S[off + u] = p;
    dP[off + u] = p * (dP[off + u] - d);
  }
}

// ---- Row-wise attention, for sequences whose [T, H, T] scores would not fit (ops/attention.ts picks
// it by size): one block per query row (t, h, b), the keys taken in chunks of ROW_CHUNK with an
// online softmax, so nothing T² is ever stored — O(T) memory, fp32 SIMT work (no tensor cores).
// Operands as the products read them: q (row stride sq, head stride hq; the rotary part at d1 within
// the head), k1 [row][g] (sk1, hk1, d1 wide), k2 shared by the heads (sk2, d2 wide; d2 = 0 for none),
// v [row][g] (sv, hv, dv wide); query head h reads kv head g = h / (H/G). o is [row][h·dv].
#define ROW_CHUNK 256

__device__ __forceinline__ float row_score(const float* q, const float* k1, const float* k2, int d1, int d2, float scale) {
  float dot = 0.f;
  for (int i = 0; i < d1; i++) dot += q[i] * k1[i];
  for (int i = 0; i < d2; i++) dot += q[d1 + i] * k2[i];
  return scale * dot;
}

// Grid (T, H, B); dynamic shared memory (d1 + d2 + ROW_CHUNK + dv) floats.
extern "C" __global__ void attn_rows_fwd(
    const float* q, int sq, int hq, const float* k1, int sk1, int hk1, int d1, const float* k2, int sk2, int d2,
    const float* v, int sv, int hv, int dv, float* o, float* lse, int T, int H, int G, float scale, int window) {
  extern __shared__ float sh[];
  float* qs = sh;
  float* s = sh + d1 + d2;
  float* acc = s + ROW_CHUNK;
  int t = blockIdx.x, h = blockIdx.y, b = blockIdx.z, g = h / (H / G), lo = first_visible(t, window);
  size_t row = (size_t)b * T + t, base = (size_t)b * T;
  for (int i = threadIdx.x; i < d1 + d2; i += blockDim.x) qs[i] = q[row * sq + (size_t)h * hq + i];
  for (int j = threadIdx.x; j < dv; j += blockDim.x) acc[j] = 0.f;
  __syncthreads();
  float m = -INFINITY, l = 0.f;
  for (int s0 = lo; s0 <= t; s0 += ROW_CHUNK) {
    int n = min(ROW_CHUNK, t - s0 + 1);
    float cm = -INFINITY;
    for (int i = threadIdx.x; i < n; i += blockDim.x) {
      size_t u = base + s0 + i;
      s[i] = row_score(qs, k1 + u * sk1 + (size_t)g * hk1, d2 > 0 ? k2 + u * sk2 : nullptr, d1, d2, scale);
      cm = fmaxf(cm, s[i]);
    }
    float mn = fmaxf(m, block_max(cm));  // a row always sees itself: mn is finite
    float rescale = expf(m - mn);
    float part = 0.f;
    for (int i = threadIdx.x; i < n; i += blockDim.x) {
      s[i] = expf(s[i] - mn);
      part += s[i];
    }
    l = l * rescale + block_sum(part);
    for (int j = threadIdx.x; j < dv; j += blockDim.x) {
      float a = 0.f;
      for (int i = 0; i < n; i++) a += s[i] * v[(base + s0 + i) * sv + (size_t)g * hv + j];
      acc[j] = acc[j] * rescale + a;
    }
    m = mn;
    __syncthreads();  // every thread has read this chunk's s before the next overwrites it
  }
  for (int j = threadIdx.x; j < dv; j += blockDim.x) o[row * (size_t)(H * dv) + (size_t)h * dv + j] = acc[j] / l;
  if (threadIdx.x == 0) lse[((size_t)b * H + h) * T + t] = m + logf(l);
}

// The backward of one query row (t, h, b), from the saved lse and delta = Σ dO·O: per visible key u,
// p = e^(s − lse), ds = p·(dO·v_u − delta); dq = scale·Σ ds·k_u (this block's own row: added once at
// the end), and, added atomically (other query rows add to the same keys), dk1_u += scale·ds·q1,
// dk2_u += scale·ds·q2 (the shared rotary key: every head adds), dv_u += p·dO.
// Grid (T, H, B); dynamic shared memory 2·(d1 + d2) + dv + 2·ROW_CHUNK floats.
extern "C" __global__ void attn_rows_bwd(
    const float* q, int sq, int hq, const float* k1, int sk1, int hk1, int d1, const float* k2, int sk2, int d2,
    const float* v, int sv, int hv, int dv, const float* dout, const float* lse, const float* delta,
    float* dq, float* dk1, float* dk2, float* dvv, int T, int H, int G, float scale, int window) {
  extern __shared__ float sh[];
  int dqk = d1 + d2;
  float* qs = sh;
  float* dqs = qs + dqk;
  float* dos = dqs + dqk;
  float* p = dos + dv;
  float* ds = p + ROW_CHUNK;
  int t = blockIdx.x, h = blockIdx.y, b = blockIdx.z, g = h / (H / G), lo = first_visible(t, window);
  size_t row = (size_t)b * T + t, base = (size_t)b * T;
  for (int i = threadIdx.x; i < dqk; i += blockDim.x) {
    qs[i] = q[row * sq + (size_t)h * hq + i];
    dqs[i] = 0.f;
  }
  for (int j = threadIdx.x; j < dv; j += blockDim.x) dos[j] = dout[row * (size_t)(H * dv) + (size_t)h * dv + j];
  __syncthreads();
  float l = lse[((size_t)b * H + h) * T + t], dl = delta[((size_t)b * H + h) * T + t];
  for (int s0 = lo; s0 <= t; s0 += ROW_CHUNK) {
    int n = min(ROW_CHUNK, t - s0 + 1);
    for (int i = threadIdx.x; i < n; i += blockDim.x) {
      size_t u = base + s0 + i;
      float pi = expf(row_score(qs, k1 + u * sk1 + (size_t)g * hk1, d2 > 0 ? k2 + u * sk2 : nullptr, d1, d2, scale) - l);
      float dp = 0.f;
      for (int j = 0; j < dv; j++) dp += dos[j] * v[u * sv + (size_t)g * hv + j];
      p[i] = pi;
      ds[i] = pi * (dp - dl);
    }
    __syncthreads();
    for (int i = threadIdx.x; i < dqk; i += blockDim.x) {
      float a = 0.f;
      for (int c = 0; c < n; c++) {
        size_t u = base + s0 + c;
        a += ds[c] * (i < d1 ? k1[u * sk1 + (size_t)g * hk1 + i] : k2[u * sk2 + (i - d1)]);
      }
      dqs[i] += scale * a;
    }
    for (int e = threadIdx.x; e < n * dqk; e += blockDim.x) {
      int c = e / dqk, i = e % dqk;
      size_t u = base + s0 + c;
      if (i < d1) atomicAdd(&dk1[u * sk1 + (size_t)g * hk1 + i], scale * ds[c] * qs[i]);
      else atomicAdd(&dk2[u * sk2 + (i - d1)], scale * ds[c] * qs[i]);
    }
    for (int e = threadIdx.x; e < n * dv; e += blockDim.x) {
      int c = e / dv, j = e % dv;
      atomicAdd(&dvv[(base + s0 + c) * sv + (size_t)g * hv + j], p[c] * dos[j]);
    }
    __syncthreads();  // p and ds are read before the next chunk overwrites them
  }
  for (int i = threadIdx.x; i < dqk; i += blockDim.x) dq[row * sq + (size_t)h * hq + i] += dqs[i];
}
