// Cached decoding (runtime/cuda/decoder.ts): T new columns per batch row against a fixed-capacity KV
// cache. Simple fp32 kernels, one block per (row, head) or (query, head, row): correctness over speed.
//
// A step's host inputs are read from device memory, so one captured graph replays for every step:
//   info[0]                  the first cache column this step writes (`at`)
//   info[1 + b·T + t]        the position id of row b's new column t (padding: 0)
//   info[1 + B·T + b·T + t]  1 where that column is a token, 0 where it is left padding
// and the cache's validity valid[b·cap + u] (1: column u of row b holds a token) is kept on the device.
#include "common.cuh"

// Rotates `heads` vectors of width d per row in place at each row's position: cos/sin tables
// [positions, d/2] (the training tables, attention factor folded in), rows = B·T.
extern "C" __global__ void rope_at(float* x, const float* cs, const float* sn, const int* info, int rows, int heads, int sr, int sh, int d, int interleaved) {
  int half = d / 2;
  size_t total = (size_t)rows * heads * half;
  GRID_STRIDE(idx, total) {
    int i = idx % half;
    int h = (idx / half) % heads;
    int row = idx / ((size_t)half * heads);
    int t = info[1 + row];
    float c = cs[(size_t)t * half + i], s = sn[(size_t)t * half + i];
    float* v = x + (size_t)row * sr + (size_t)h * sh;
    int a = interleaved ? 2 * i : i, b = interleaved ? 2 * i + 1 : i + half;
    float xa = v[a], xb = v[b];
    v[a] = xa * c - xb * s;
    v[b] = xb * c + xa * s;
  }
}

// valid[b·cap + at + t] = whether row b's new column t is a token. One thread per (b, t).
extern "C" __global__ void decode_mark(int* valid, const int* info, int B, int T, int cap) {
  GRID_STRIDE(i, (size_t)B * T) {
    int b = i / T, t = i % T;
    valid[(size_t)b * cap + info[0] + t] = info[1 + B * T + i];
  }
}

// cache[b][g][at + t][0..n) = src[(b·T + t)·ss + g·sg + 0..n): G vectors of n floats per new column.
extern "C" __global__ void cache_write(float* cache, const float* src, const int* info, int B, int T, int G, int n, int ss, int sg, int cap) {
  int at = info[0];
  GRID_STRIDE(i, (size_t)B * T * G * n) {
    int j = i % n;
    int g = (i / n) % G;
    size_t row = i / ((size_t)n * G);
    int b = row / T, t = row % T;
    cache[(((size_t)b * G + g) * cap + at + t) * n + j] = src[row * ss + (size_t)g * sg + j];
  }
}

// Attention of row b's new column t, head h, against the cache: query column c = at + t sees the
// columns u ≤ c that hold tokens; s_u = scale·(q1·k1[u] + q2·k2[u]) with k1 [B][G][cap][d1] of kv
// head g = h / (H/G) and k2 [B][cap][d2] shared by every head (MLA's rotary key; d2 = 0 for none);
// o = Σ softmax(s)_u · v[u], v [B][G][cap][dv] (MLA's latent cache is k1 and v at once). A query
// that sees no token (left padding) gets zeros: its output never reaches a token's (keys are masked).
// The columns go by in chunks of DECODE_CHUNK with an online softmax (running max m, sum l and
// unnormalised output, rescaled by e^(m_old − m_new) as a chunk raises the max), so shared memory
// holds one chunk's scores whatever the cache length. Grid (T, H, B); dynamic shared memory
// (d1 + d2 + DECODE_CHUNK + dv) floats (runtime/cuda/decode-plan.ts decodeSharedFloats).
#define DECODE_CHUNK 1024
extern "C" __global__ void decode_attention(
    const float* q1, int sq1, int hq1, int d1, const float* q2, int sq2, int hq2, int d2,
    const float* k1, const float* k2, const float* v, int dv, float* o, int so, int ho,
    const int* valid, const int* info, int T, int H, int G, int cap, float scale, int window) {
  extern __shared__ float sh[];
  float* q = sh;
  float* s = sh + d1 + d2;
  float* acc = s + DECODE_CHUNK;
  int t = blockIdx.x, h = blockIdx.y, b = blockIdx.z;
  size_t row = (size_t)b * T + t;
  int c = info[0] + t;
  // a sliding window W > 0: the W − 1 columns before c and c itself (left padding precedes a row's
  // tokens and nothing comes between them, so a column distance is a token distance)
  int lo = window > 0 && c - window + 1 > 0 ? c - window + 1 : 0;
  int g = h / (H / G);
  for (int i = threadIdx.x; i < d1; i += blockDim.x) q[i] = q1[row * sq1 + (size_t)h * hq1 + i];
  for (int i = threadIdx.x; i < d2; i += blockDim.x) q[d1 + i] = q2[row * sq2 + (size_t)h * hq2 + i];
  for (int j = threadIdx.x; j < dv; j += blockDim.x) acc[j] = 0.f;
  __syncthreads();
  const int* ok = valid + (size_t)b * cap;
  const float* key1 = k1 + ((size_t)b * G + g) * cap * d1;
  const float* key2 = d2 > 0 ? k2 + (size_t)b * cap * d2 : nullptr;
  const float* val = v + ((size_t)b * G + g) * cap * dv;
  float m = -INFINITY, l = 0.f;
  for (int s0 = lo; s0 <= c; s0 += DECODE_CHUNK) {
    int n = min(DECODE_CHUNK, c - s0 + 1);
    float cm = -INFINITY;
    for (int i = threadIdx.x; i < n; i += blockDim.x) {
      int u = s0 + i;
      float score = -INFINITY;
      if (ok[u]) {
        float dot = 0.f;
        for (int k = 0; k < d1; k++) dot += q[k] * key1[(size_t)u * d1 + k];
        for (int k = 0; k < d2; k++) dot += q[d1 + k] * key2[(size_t)u * d2 + k];
        score = scale * dot;
      }
      s[i] = score;
      cm = fmaxf(cm, score);
    }
    float mn = fmaxf(m, block_max(cm));
    if (mn == -INFINITY) continue;  // nothing visible yet (the same for every thread: no barrier skipped by some)
    float rescale = expf(m - mn);   // 0 while m is −∞
    float part = 0.f;
    for (int i = threadIdx.x; i < n; i += blockDim.x) {
      float p = s[i] == -INFINITY ? 0.f : expf(s[i] - mn);
      s[i] = p;
      part += p;
    }
    l = l * rescale + block_sum(part);
    for (int j = threadIdx.x; j < dv; j += blockDim.x) {
      float a = 0.f;
      for (int i = 0; i < n; i++) a += s[i] * val[(size_t)(s0 + i) * dv + j];
      acc[j] = acc[j] * rescale + a;
    }
    m = mn;
    __syncthreads();  // every thread has read this chunk's s before the next overwrites it
  }
  float* out = o + row * so + (size_t)h * ho;
  float inv = l > 0.f ? 1.f / l : 0.f;
  for (int j = threadIdx.x; j < dv; j += blockDim.x) out[j] = acc[j] * inv;
}

// MLA's key up-projection absorbed into the query: out[row][h][r] = Σ_{i<dn} q[row·sq + h·hq + i] ·
// W[(h·(dn+dv) + i)·R + r], W = kv_b [H·(dn+dv), R] (head h's W_uk is its first dn rows). Grid (rows, H).
extern "C" __global__ void mla_absorb_q(const float* q, int sq, int hq, const float* w, float* out, int H, int dn, int dv, int R) {
  size_t row = blockIdx.x;
  int h = blockIdx.y;
  const float* qh = q + row * sq + (size_t)h * hq;
  const float* wh = w + (size_t)h * (dn + dv) * R;
  for (int r = threadIdx.x; r < R; r += blockDim.x) {
    float acc = 0.f;
    for (int i = 0; i < dn; i++) acc += qh[i] * wh[(size_t)i * R + r];
    out[(row * H + h) * R + r] = acc;
  }
}

// MLA's value up-projection after the weighted sum: o[row][h·dv + j] = Σ_r W[(h·(dn+dv) + dn + j)·R + r]
// · lat[row][h][r] (head h's W_uv: its last dv rows of kv_b). Grid (rows, H).
extern "C" __global__ void mla_absorb_o(const float* lat, const float* w, float* o, int H, int dn, int dv, int R) {
  size_t row = blockIdx.x;
  int h = blockIdx.y;
  const float* l = lat + (row * H + h) * R;
  const float* wh = w + ((size_t)h * (dn + dv) + dn) * R;
  for (int j = threadIdx.x; j < dv; j += blockDim.x) {
    float acc = 0.f;
    for (int r = 0; r < R; r++) acc += wh[(size_t)j * R + r] * l[r];
    o[row * H * dv + (size_t)h * dv + j] = acc;
  }
}

// y[b][0..n) = x[(b·T + T − 1)·n + 0..n): each row's last column (a left-padded batch's rows all end there).
extern "C" __global__ void last_column(const float* x, float* y, int B, int T, int n) {
  GRID_STRIDE(i, (size_t)B * n) {
    size_t b = i / n;
    y[i] = x[(b * T + T - 1) * n + i % n];
  }
}
