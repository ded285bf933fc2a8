// Backward kernels of the IR ops, the losses and the optimizer (fp32). Each gradient is ADDED to its
// buffer (the executor zeroes a gradient buffer when its lifetime starts), so a value read by several
// nodes sums its gradients without extra copies. specs/ir.md gives each forward formula.

#include <cuda_bf16.h>

#include "common.cuh"

// y += a · x   (n elements)
extern "C" __global__ void axpy(float* y, const float* x, float a, size_t n) {
  GRID_STRIDE(i, n) y[i] += a * x[i];
}

// y[r, 0:w] += a · x[r, 0:w]   (strided rows)
extern "C" __global__ void axpy_rows(float* y, int sy, const float* x, int sx, float a, size_t rows, int w) {
  GRID_STRIDE(i, rows * w) {
    size_t r = i / w;
    int j = i % w;
    y[r * sy + j] += a * x[r * sx + j];
  }
}

// dW[ids[b, t+shift]] += dy[b, t]   (atomic: rows of one token id collide)
extern "C" __global__ void embedding_bwd(const int* ids, const float* dy, float* dW, int T, int D, int shift) {
  int row = blockIdx.x, t = row % T;
  if (t + shift >= T) return;
  float* dst = dW + (size_t)ids[row + shift] * D;
  const float* src = dy + (size_t)row * D;
  for (int d = threadIdx.x; d < D; d += blockDim.x) atomicAdd(&dst[d], src[d]);
}

// rmsnorm backward, input gradient: y = w ⊙ x·r, r = (mean x² + eps)^-½ (rstd[row] saved).
// dx = r · (w⊙dy − x·r² · mean(x ⊙ w⊙dy)), added to dx (add = 1) or written (add = 0; then dx may be
// dy itself: each thread reads its elements of dy before it writes them)
extern "C" __global__ void rmsnorm_bwd_x(const float* x, int sx, const float* w, const float* rstd, const float* dy, int sdy, float* dx, int sdx, int n, int add) {
  int row = blockIdx.x;
  const float* xr = x + (size_t)row * sx;
  const float* g = dy + (size_t)row * sdy;
  float r = rstd[row];
  float dot = 0.f;
  for (int i = threadIdx.x; i < n; i += blockDim.x) dot += xr[i] * w[i] * g[i];
  dot = block_sum(dot) / (float)n;
  float* out = dx + (size_t)row * sdx;
  for (int i = threadIdx.x; i < n; i += blockDim.x) {
    float v = r * (w[i] * g[i] - xr[i] * r * r * dot);
    out[i] = add ? out[i] + v : v;
  }
}

// dw[j] += Σ_rows dy[r, j] · x[r, j] · rstd[r]   (one thread per column: coalesced, deterministic)
extern "C" __global__ void rmsnorm_bwd_w(const float* x, int sx, const float* rstd, const float* dy, int sdy, float* dw, int rows, int n) {
  int j = blockIdx.x * blockDim.x + threadIdx.x;
  if (j >= n) return;
  float acc = 0.f;
  for (int r = 0; r < rows; r++) acc += dy[(size_t)r * sdy + j] * x[(size_t)r * sx + j] * rstd[r];
  dw[j] += acc;
}

// db[j] += Σ_rows dy[r·n + j]: a bias's gradient (one thread per column: coalesced, deterministic)
extern "C" __global__ void bias_grad(const float* dy, float* db, int rows, int n) {
  int j = blockIdx.x * blockDim.x + threadIdx.x;
  if (j >= n) return;
  float acc = 0.f;
  for (int r = 0; r < rows; r++) acc += dy[(size_t)r * n + j];
  db[j] += acc;
}

__device__ __forceinline__ float sigmoidf(float x) { return 1.f / (1.f + expf(-x)); }

// SwiGLU gate backward: a = silu(g)·u → dg = da·u·silu'(g), du = da·silu(g) (written, not added: dgu is a
// temporary), as fp32 (swiglu_gate_bwd) or bf16 (swiglu_gate_bwd_bf16: the grouped GEMMs' operand in
// precision = bf16)
template <typename T>
__device__ __forceinline__ void swiglu_gate_grad(const float* gu, const float* da, T* dgu, size_t rows, int F) {
  GRID_STRIDE(i, rows * F) {
    size_t r = i / F;
    int j = i % F;
    float g = gu[r * 2 * F + j], u = gu[r * 2 * F + F + j];
    float s = sigmoidf(g);
    float d = da[i];
    dgu[r * 2 * F + j] = store_as<T>(d * u * s * (1.f + g * (1.f - s)));
    dgu[r * 2 * F + F + j] = store_as<T>(d * g * s);
  }
}

extern "C" __global__ void swiglu_gate_bwd(const float* gu, const float* da, float* dgu, size_t rows, int F) { swiglu_gate_grad(gu, da, dgu, rows, F); }

extern "C" __global__ void swiglu_gate_bwd_bf16(const float* gu, const float* da, __nv_bfloat16* dgu, size_t rows, int F) { swiglu_gate_grad(gu, da, dgu, rows, F); }

// concat backward: da += dy[:, 0:p], db += dy[:, p:p+q]
extern "C" __global__ void concat_bwd(const float* dy, float* da, float* db, size_t rows, int p, int q) {
  GRID_STRIDE(i, rows * (p + q)) {
    size_t r = i / (p + q);
    int j = i % (p + q);
    if (j < p) { if (da) da[r * p + j] += dy[i]; }
    else if (db) db[r * q + (j - p)] += dy[i];
  }
}

// Attention backward (specs/ir.md §3.3): delta[b,h,t] = Σ_j dO·O of each output row, which the
// softmax backward (attention.cu) subtracts; the products around it are cuBLASLt's.
extern "C" __global__ void attention_bwd_delta(const float* o, const float* dout, int so, float* delta, int T, int H, int dv) {
  int t = blockIdx.x, h = blockIdx.y, b = blockIdx.z;
  size_t row = (size_t)b * T + t;
  float s = 0.f;
  for (int j = threadIdx.x; j < dv; j += blockDim.x) s += o[row * so + (size_t)h * dv + j] * dout[row * so + (size_t)h * dv + j];
  s = block_sum(s);
  if (threadIdx.x == 0) delta[((size_t)b * H + h) * T + t] = s;
}

// Router backward, one thread per token (specs/ir.md §4.9). dz = dlogits + ∂(scores)/∂z · (dscores +
// the part of dweights that reaches the selected scores). `ds` is E floats of scratch per token.
extern "C" __global__ void router_bwd(
    const float* scores, const int* indices, const float* dweights, const float* dscores, const float* dlogits,
    float* dz, float* ds, int N, int E, int K, int softmax, int normalize, float scale) {
  int n = blockIdx.x * blockDim.x + threadIdx.x;
  if (n >= N) return;
  const float* s = scores + (size_t)n * E;
  float* d = ds + (size_t)n * E;
  for (int e = 0; e < E; e++) d[e] = dscores ? dscores[(size_t)n * E + e] : 0.f;
  if (dweights) {
    const int* idx = indices + (size_t)n * K;
    const float* dw = dweights + (size_t)n * K;
    if (normalize) {
      float S = 1e-20f, dot = 0.f;
      for (int k = 0; k < K; k++) S += s[idx[k]];
      for (int k = 0; k < K; k++) dot += dw[k] * s[idx[k]];
      for (int k = 0; k < K; k++) d[idx[k]] += scale * (dw[k] / S - dot / (S * S));
    } else {
      for (int k = 0; k < K; k++) d[idx[k]] += scale * dw[k];
    }
  }
  float* out = dz + (size_t)n * E;
  if (softmax) {
    float dot = 0.f;
    for (int e = 0; e < E; e++) dot += d[e] * s[e];
    for (int e = 0; e < E; e++) out[e] = s[e] * (d[e] - dot);
  } else {
    for (int e = 0; e < E; e++) out[e] = d[e] * s[e] * (1.f - s[e]);
  }
  if (dlogits) for (int e = 0; e < E; e++) out[e] += dlogits[(size_t)n * E + e];
}

// expert_combine backward: dout[slot] = w·dy[n] (rows not written stay zero), dweights[n,k] += out[slot]·dy[n];
// dout as fp32 (expert_combine_bwd) or bf16 (expert_combine_bwd_bf16: the grouped GEMMs' operand in
// precision = bf16)
template <typename T>
__device__ __forceinline__ void combine_grad(const float* out, const float* weights, const int* slot, const float* dy, T* dout, float* dweights, int D, int K) {
  int n = blockIdx.x;
  for (int k = 0; k < K; k++) {
    int s = slot[(size_t)n * K + k];
    if (s < 0) continue;
    float w = weights[(size_t)n * K + k];
    float dot = 0.f;
    for (int d = threadIdx.x; d < D; d += blockDim.x) {
      float g = dy[(size_t)n * D + d];
      dout[(size_t)s * D + d] = store_as<T>(w * g);
      dot += out[(size_t)s * D + d] * g;
    }
    dot = block_sum(dot);
    if (threadIdx.x == 0 && dweights) dweights[(size_t)n * K + k] += dot;
  }
}

extern "C" __global__ void expert_combine_bwd(const float* out, const float* weights, const int* slot, const float* dy, float* dout, float* dweights, int D, int K) {
  combine_grad(out, weights, slot, dy, dout, dweights, D, K);
}

extern "C" __global__ void expert_combine_bwd_bf16(const float* out, const float* weights, const int* slot, const float* dy, __nv_bfloat16* dout, float* dweights, int D, int K) {
  combine_grad(out, weights, slot, dy, dout, dweights, D, K);
}

// expert_gather backward: dx[n] += Σ_k dxs[slot[n,k]]  (per token: deterministic, no atomics)
extern "C" __global__ void expert_gather_bwd(const float* dxs, const int* slot, float* dx, int D, int K) {
  int n = blockIdx.x;
  for (int d = threadIdx.x; d < D; d += blockDim.x) {
    float acc = 0.f;
    for (int k = 0; k < K; k++) {
      int s = slot[(size_t)n * K + k];
      if (s >= 0) acc += dxs[(size_t)s * D + d];
    }
    dx[(size_t)n * D + d] += acc;
  }
}

// moe.shared_gate backward, one block a row: with g = σ(z), z = x·w and out = y·g,
// dy += g·dout, dz = (dout·y)·g(1 − g), dx += dz·w; dz[row] is written (a temporary) for dw += dzᵀ·x.
// dy or dx may be null (no gradient flows there).
extern "C" __global__ void shared_gate_bwd(const float* y, const float* w, const float* g, const float* dout, float* dy, float* dx, float* dz, int D) {
  size_t row = blockIdx.x;
  const float* yr = y + row * D;
  const float* dr = dout + row * D;
  float dot = 0.f;
  for (int i = threadIdx.x; i < D; i += blockDim.x) dot += dr[i] * yr[i];
  float gate = g[row];
  float d = block_sum(dot) * gate * (1.f - gate);
  if (threadIdx.x == 0) dz[row] = d;
  if (dy) for (int i = threadIdx.x; i < D; i += blockDim.x) dy[row * D + i] += gate * dr[i];
  if (dx) for (int i = threadIdx.x; i < D; i += blockDim.x) dx[row * D + i] += d * w[i];
}

// Cross-entropy (specs/ir.md §4.14), one block per position: rowloss[r] = w·(lse − logit[target]),
// rowweight[r] = w (0 for uncounted positions), lse[r] kept for the backward.
extern "C" __global__ void cross_entropy_fwd(const float* logits, const int* ids, const float* mask, float* rowloss, float* rowweight, float* lse, int T, int V, int shift) {
  int row = blockIdx.x, t = row % T;
  const float* z = logits + (size_t)row * V;
  float l = row_lse(z, V);
  if (threadIdx.x == 0) {
    lse[row] = l;
    bool counted = t + shift < T;
    float w = counted ? mask[row + shift] : 0.f;
    rowweight[row] = w;
    rowloss[row] = counted ? w * (l - z[ids[row + shift]]) : 0.f;
  }
}

// dlogits[r, v] += g · w_r / W · (softmax_v − [v = target])   with W = Σ w (g the loss's gradient, on the device)
extern "C" __global__ void cross_entropy_bwd(const float* logits, const int* ids, const float* rowweight, const float* lse, const float* total, const float* dloss, float* dlogits, int V, int shift) {
  int row = blockIdx.x;
  float w = rowweight[row];
  if (w == 0.f) return;
  float W = total[1];
  float g = dloss[0] * w / (W > 0.f ? W : 1.f);
  const float* z = logits + (size_t)row * V;
  float l = lse[row];
  int target = ids[row + shift];
  for (int v = threadIdx.x; v < V; v += blockDim.x) dlogits[(size_t)row * V + v] += g * (expf(z[v] - l) - (v == target ? 1.f : 0.f));
}

// out[0] = Σ a, out[1] = Σ b over n values (one block; n up to millions is fine: one pass per thread)
extern "C" __global__ void sum_pairs(const float* a, const float* b, float* out, size_t n) {
  float sa = 0.f, sb = 0.f;
  for (size_t i = threadIdx.x; i < n; i += blockDim.x) { sa += a[i]; if (b) sb += b[i]; }
  sa = block_sum(sa);
  sb = block_sum(sb);
  if (threadIdx.x == 0) { out[0] = sa; out[1] = sb; }
}

// loss = sums[0] / (sums[1] or 1)
extern "C" __global__ void cross_entropy_finish(const float* sums, float* loss) {
  float W = sums[1];
  loss[0] = sums[0] / (W > 0.f ? W : 1.f);
}

// z-loss rows: sq[r] = lse(z_r)², lse[r] kept   (one block per row)
extern "C" __global__ void zloss_fwd(const float* z, float* sq, float* lse, int E) {
  int row = blockIdx.x;
  float l = row_lse(z + (size_t)row * E, E);
  if (threadIdx.x == 0) {
    lse[row] = l;
    sq[row] = l * l;
  }
}

// dz[r, e] += dloss · coef/N · 2·lse_r · softmax(z_r)_e
extern "C" __global__ void zloss_bwd(const float* z, const float* lse, const float* dloss, float* dz, int N, int E, float coef) {
  int row = blockIdx.x;
  float g = dloss[0] * coef / (float)N * 2.f * lse[row];
  for (int e = threadIdx.x; e < E; e += blockDim.x) dz[(size_t)row * E + e] += g * expf(z[(size_t)row * E + e] - lse[row]);
}

// Balance loss (specs/ir.md §4.11) over `sets` sets of T positions each (sequence: sets = B; batch:
// sets = 1, T = B·T). One block per set: counts f_e and P_e, then ℓ(S) into perset[set]. `work` holds
// 2E floats per set (f, P). normalize = 1 for sigmoid scores (s' = s / Σ s).
extern "C" __global__ void balance_fwd(const float* s, const int* indices, float* perset, float* work, int T, int E, int K, int normalize) {
  int set = blockIdx.x;
  float* f = work + (size_t)set * 2 * E;
  float* P = f + E;
  for (int e = threadIdx.x; e < E; e += blockDim.x) { f[e] = 0.f; P[e] = 0.f; }
  __syncthreads();
  for (int i = threadIdx.x; i < T * K; i += blockDim.x) atomicAdd(&f[indices[((size_t)set * T) * K + i]], 1.f);
  for (int e = threadIdx.x; e < E; e += blockDim.x) {
    float acc = 0.f;
    for (int t = 0; t < T; t++) {
      const float* row = s + ((size_t)set * T + t) * E;
      float c = 1.f;
      if (normalize) { float sum = 0.f; for (int j = 0; j < E; j++) sum += row[j]; c = 1.f / sum; }
      acc += row[e] * c;
    }
    P[e] = acc / (float)T;
  }
  __syncthreads();
  float l = 0.f;
  for (int e = threadIdx.x; e < E; e += blockDim.x) l += f[e] * ((float)E / ((float)K * (float)T)) * P[e];
  l = block_sum(l);
  if (threadIdx.x == 0) perset[set] = l;
}

// loss = alpha · mean over sets of perset
extern "C" __global__ void balance_finish(const float* perset, float* loss, int sets, float alpha) {
  float acc = 0.f;
  for (int i = threadIdx.x; i < sets; i += blockDim.x) acc += perset[i];
  acc = block_sum(acc);
  if (threadIdx.x == 0) loss[0] = alpha * acc / (float)sets;
}

// ds[p, e] += dloss · alpha/sets · f_e/T' (through s' = s/Σs when normalize): one block per position
extern "C" __global__ void balance_bwd(const float* s, const float* work, const float* dloss, float* ds, int T, int E, int K, int sets, int normalize, float alpha) {
  int pos = blockIdx.x, set = pos / T;
  const float* f = work + (size_t)set * 2 * E;
  const float* row = s + (size_t)pos * E;
  float g = dloss[0] * alpha / (float)sets / (float)T * ((float)E / ((float)K * (float)T));
  if (!normalize) {
    for (int e = threadIdx.x; e < E; e += blockDim.x) ds[(size_t)pos * E + e] += g * f[e];
    return;
  }
  float sum = 0.f, dot = 0.f;
  for (int e = threadIdx.x; e < E; e += blockDim.x) { sum += row[e]; dot += f[e] * row[e]; }
  sum = block_sum(sum);
  dot = block_sum(dot);
  // s'_e = s_e/Σ: ∂/∂s_j Σ_e a_e s'_e = (a_j − Σ_e a_e s'_e)/Σ
  for (int e = threadIdx.x; e < E; e += blockDim.x) ds[(size_t)pos * E + e] += g * (f[e] - dot / sum) / sum;
}

// y += a · s[0] · x, s a device scalar (a gradient arriving from the next op) or null for 1:
// loss.sum's forward (out += w_i · in_i) and backward (d in_i += w_i · d out)
extern "C" __global__ void scaled_add(float* y, const float* x, float a, const float* s, size_t n) {
  float f = a * (s ? s[0] : 1.f);
  GRID_STRIDE(i, n) y[i] += f * x[i];
}

extern "C" __global__ void fill(float* x, float v, size_t n) {
  GRID_STRIDE(i, n) x[i] = v;
}

// Σ g² of one tensor into acc[0], and a non-finite flag into acc[1] (atomics: one per block)
extern "C" __global__ void sumsq(const float* g, float* acc, size_t n) {
  float s = 0.f;
  bool bad = false;
  GRID_STRIDE(i, n) { float v = g[i]; s += v * v; bad |= !isfinite(v); }
  s = block_sum(s);
  float b = block_sum(bad ? 1.f : 0.f);
  if (threadIdx.x == 0) { atomicAdd(&acc[0], s); if (b > 0.f) acc[1] = 1.f; }
}

// AdamW (runtime/train/adamw.ts, PyTorch's semantics), one tensor, the step's numbers read from the
// device (so a captured graph replays with each step's lr and bias corrections):
//   hyper = [scale, shrink, β1, β2, sqrtBc2, stepSize, eps]; g ← g·scale (global-norm clipping);
//   p ← p·shrink (when it decays); m ← β1 m + (1−β1) g; v ← β2 v + (1−β2) g²; p ← p − stepSize · m / (√v / sqrtBc2 + eps)
extern "C" __global__ void adamw(float* p, const float* g, float* m, float* v, size_t n, const float* hyper, int decay) {
  float scale = hyper[0], shrink = decay ? hyper[1] : 1.f, b1 = hyper[2], b2 = hyper[3], sqrtBc2 = hyper[4], stepSize = hyper[5], eps = hyper[6];
  GRID_STRIDE(i, n) {
    float gi = g[i] * scale;
    float pi = p[i] * shrink;
    float mi = b1 * m[i] + (1.f - b1) * gi;
    float vi = b2 * v[i] + (1.f - b2) * gi * gi;
    m[i] = mi;
    v[i] = vi;
    p[i] = pi - stepSize * mi / (sqrtf(vi) / sqrtBc2 + eps);
  }
}

// bf16 copies for tensor-core products (precision = bf16): y = round-to-nearest-even(x)
extern "C" __global__ void to_bf16(const float* x, __nv_bfloat16* y, size_t n) {
  GRID_STRIDE(i, n) y[i] = __float2bfloat16_rn(x[i]);
}
