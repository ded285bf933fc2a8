// GRPO's policy update on cuda (runtime/cuda/grpo.ts): the objective is a function of the per-token
// log-probabilities of the sampled tokens, so the device only needs, per position, log softmax(z)[y]
// (and the entropy, a diagnostic) of z = logits / τ, and later the logits' gradient for the host's
// dL/dlogp. fp32, one block per position; the logits are read twice per kernel (max, then sums).

#include "common.cuh"

// logp[r] = z[r, y_r] − lse(z_r) and ent[r] = −Σ_v p_v log p_v = lse(z_r) − Σ_v p_v z_v, z = logits · inv_temp
extern "C" __global__ void grpo_token_stats(const float* logits, const int* targets, float inv_temp, float* logp, float* ent, int V) {
  size_t row = blockIdx.x;
  const float* x = logits + row * V;
  float mx = -INFINITY;
  for (int v = threadIdx.x; v < V; v += blockDim.x) mx = fmaxf(mx, x[v] * inv_temp);
  mx = block_max(mx);
  float sum = 0.f, dot = 0.f;
  for (int v = threadIdx.x; v < V; v += blockDim.x) {
    float z = x[v] * inv_temp;
    float e = expf(z - mx);
    sum += e;
    dot += e * z;
  }
  sum = block_sum(sum);
  dot = block_sum(dot);
  if (threadIdx.x == 0) {
    float lse = mx + logf(sum);
    logp[row] = x[targets[row]] * inv_temp - lse;
    ent[row] = lse - dot / sum;
  }
}

// dlogits[r, v] = inv_temp · c[r] · (1[v = y_r] − softmax(z_r)[v])   (written, not added: the backward's
// seed). Rows with c = 0 (prompt, padding, masked tokens) get zeros without touching their logits.
extern "C" __global__ void grpo_logits_grad(const float* logits, const int* targets, const float* coef, float inv_temp, float* dlogits, int V) {
  size_t row = blockIdx.x;
  float* out = dlogits + row * V;
  float c = coef[row];
  if (c == 0.f) {
    for (int v = threadIdx.x; v < V; v += blockDim.x) out[v] = 0.f;
    return;
  }
  const float* x = logits + row * V;
  float mx = -INFINITY;
  for (int v = threadIdx.x; v < V; v += blockDim.x) mx = fmaxf(mx, x[v] * inv_temp);
  mx = block_max(mx);
  float sum = 0.f;
  for (int v = threadIdx.x; v < V; v += blockDim.x) sum += expf(x[v] * inv_temp - mx);
  sum = block_sum(sum);
  int y = targets[row];
  float scale = inv_temp * c;
  for (int v = threadIdx.x; v < V; v += blockDim.x) {
    float p = expf(x[v] * inv_temp - mx) / sum;
    out[v] = scale * ((v == y ? 1.f : 0.f) - p);
  }
}
