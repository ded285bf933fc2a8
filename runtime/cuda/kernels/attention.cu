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
