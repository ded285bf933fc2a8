// The MoE kernels of the cuda executor on the device, new against old and against references:
//   1. router_fwd (one warp per token) equals the one-thread-per-token kernel it replaced, bit for bit
//      (weights, indices, scores, load), with ties, softmax and sigmoid, groups, bias, normalize;
//   2. expert_hist/scan/assign equal expert_count/offsets/assign exactly (counts, offsets, tiles,
//      slots, row_token), dropless and with a capacity that drops pairs;
//   3. the bf16 grouped GEMMs (mma.sync, bf16 operands) against an fp32 reference on the same bf16
//      operands, element by element within a rigorous bound (below), and the whole expert forward and
//      backward against the fp32 path within a norm-wise bound for bf16 rounding;
//   4. timings (cudaEvents) of old and new at moe-500m's shapes, with TFLOP/s and speedups.
// Build here with bench/cuda/moe-kernels-check.sh (nvcc), run on the GPU machine:
//   ./bench/cuda/bin/moe-kernels-check      → one PASS/FAIL line per check, exit status 1 on any FAIL.
#include "../../runtime/cuda/kernels/forward.cu"
#include "../../runtime/cuda/kernels/backward.cu"
#include "../../runtime/cuda/kernels/grouped_bf16.cu"
#include "old_kernels.cuh"

#include <algorithm>
#include <cmath>
#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <random>
#include <vector>

#define CK(x)                                                                                   \
  do {                                                                                          \
    cudaError_t err_ = (x);                                                                     \
    if (err_ != cudaSuccess) {                                                                  \
      std::printf("FAIL cuda error %s at %s:%d (%s)\n", cudaGetErrorString(err_), __FILE__, __LINE__, #x); \
      std::exit(2);                                                                             \
    }                                                                                           \
  } while (0)
#define LAUNCHED() CK(cudaGetLastError())

static int failures = 0;
static void verdict(bool ok, const char* fmt, ...) {
  std::va_list ap;
  va_start(ap, fmt);
  std::printf("%s ", ok ? "PASS" : "FAIL");
  std::vprintf(fmt, ap);
  std::printf("\n");
  va_end(ap);
  if (!ok) failures++;
}

static std::vector<void*> allocations;
template <typename T>
static T* dalloc(size_t n) {
  void* p = nullptr;
  CK(cudaMalloc(&p, std::max<size_t>(n, 1) * sizeof(T)));
  CK(cudaMemset(p, 0, std::max<size_t>(n, 1) * sizeof(T)));
  allocations.push_back(p);
  return (T*)p;
}
template <typename T>
static T* upload(const std::vector<T>& h) {
  T* d = dalloc<T>(h.size());
  CK(cudaMemcpy(d, h.data(), h.size() * sizeof(T), cudaMemcpyHostToDevice));
  return d;
}
template <typename T>
static std::vector<T> download(const T* d, size_t n) {
  std::vector<T> h(n);
  CK(cudaMemcpy(h.data(), d, n * sizeof(T), cudaMemcpyDeviceToHost));
  return h;
}
static std::vector<float> download_bf16(const bf16* d, size_t n) {
  std::vector<bf16> h = download(d, n);
  std::vector<float> f(n);
  for (size_t i = 0; i < n; i++) f[i] = __bfloat162float(h[i]);
  return f;
}
static bf16* to_bf16_dev(const float* x, size_t n) {
  bf16* y = dalloc<bf16>(n);
  to_bf16<<<(unsigned)std::min<size_t>((n + 255) / 256, 65535 * 8), 256>>>(x, y, n);
  LAUNCHED();
  return y;
}

// Milliseconds per call of f, averaged over reps after one warm-up.
template <typename F>
static float time_ms(F f, int reps = 10) {
  f();
  CK(cudaDeviceSynchronize());
  cudaEvent_t a, b;
  CK(cudaEventCreate(&a));
  CK(cudaEventCreate(&b));
  CK(cudaEventRecord(a));
  for (int i = 0; i < reps; i++) f();
  CK(cudaEventRecord(b));
  CK(cudaEventSynchronize(b));
  float ms = 0.f;
  CK(cudaEventElapsedTime(&ms, a, b));
  CK(cudaEventDestroy(a));
  CK(cudaEventDestroy(b));
  LAUNCHED();
  return ms / reps;
}

static std::mt19937 rng(20261207);
static std::vector<float> uniform(size_t n, float lo, float hi) {
  std::uniform_real_distribution<float> u(lo, hi);
  std::vector<float> v(n);
  for (auto& x : v) x = u(rng);
  return v;
}

// ---------------------------------------------------------------------------------------------------
// 1. router_fwd
struct RouterCase {
  const char* name;
  int N, E, K, softmax, G, Gsel, top2, normalize;
  float scale;
  bool bias, ties;
};

static void check_router(const RouterCase& c, bool timed) {
  std::normal_distribution<float> g(0.f, 2.f);
  std::vector<float> z((size_t)c.N * c.E);
  for (auto& x : z) x = c.ties ? std::round(g(rng) * 2.f) / 4.f : g(rng);  // ties: few distinct logits
  std::vector<float> bias = uniform(c.E, -0.1f, 0.1f);
  if (c.ties) for (auto& b : bias) b = std::round(b * 20.f) / 40.f;
  float* dz = upload(z);
  float* db = c.bias ? upload(bias) : nullptr;
  size_t NK = (size_t)c.N * c.K, NE = (size_t)c.N * c.E;
  float *w[2], *s[2], *load[2], *work[2];
  int* idx[2];
  for (int v = 0; v < 2; v++) {
    w[v] = dalloc<float>(NK), s[v] = dalloc<float>(NE), load[v] = dalloc<float>(c.E), work[v] = dalloc<float>(NE);
    idx[v] = dalloc<int>(NK);
  }
  auto run_old = [&] {
    CK(cudaMemsetAsync(load[0], 0, c.E * sizeof(float)));
    old_router_fwd<<<(c.N + 127) / 128, 128>>>(dz, db, w[0], idx[0], s[0], load[0], work[0], c.N, c.E, c.K, c.softmax, c.G, c.Gsel, c.top2, c.normalize, c.scale);
  };
  int blocks = std::min((c.N * 32 + 127) / 128, 65535 * 8);  // as ops/moe.ts: grid1(rows * 32, 128)
  auto run_new = [&] {
    CK(cudaMemsetAsync(load[1], 0, c.E * sizeof(float)));
    router_fwd<<<blocks, 128>>>(dz, db, w[1], idx[1], s[1], load[1], work[1], c.N, c.E, c.K, c.softmax, c.G, c.Gsel, c.top2, c.normalize, c.scale);
  };
  run_old();
  run_new();
  LAUNCHED();
  CK(cudaDeviceSynchronize());
  auto same = [](const void* a, const void* b, size_t bytes) {
    std::vector<char> x(bytes), y(bytes);
    CK(cudaMemcpy(x.data(), a, bytes, cudaMemcpyDeviceToHost));
    CK(cudaMemcpy(y.data(), b, bytes, cudaMemcpyDeviceToHost));
    size_t diff = 0;
    for (size_t i = 0; i < bytes; i += 4) diff += std::memcmp(&x[i], &y[i], 4) != 0;
    return diff;
  };
  size_t dw = same(w[0], w[1], NK * 4), di = same(idx[0], idx[1], NK * 4), ds = same(s[0], s[1], NE * 4), dl = same(load[0], load[1], c.E * 4);
  verdict(dw + di + ds + dl == 0, "router %-28s N=%d E=%d K=%d: new == old bit for bit (differing: weights %zu, indices %zu, scores %zu, load %zu)", c.name, c.N, c.E, c.K, dw, di, ds, dl);
  if (timed) {
    float to = time_ms(run_old), tn = time_ms(run_new);
    std::printf("TIME router %-28s old %8.1f us  new %8.1f us  speedup %.1fx\n", c.name, to * 1e3, tn * 1e3, to / tn);
  }
}

// ---------------------------------------------------------------------------------------------------
// 2. expert slots
static int expert_rows(int N, int K, int E) { return (N * K + E * 63 + 63) / 64 * 64; }  // ops/moe.ts expertRows

// K distinct experts per token; with skew > 0 the first E/4 experts are picked more often.
static std::vector<int> routing(int N, int K, int E, float skew) {
  std::vector<int> ids((size_t)N * K);
  std::uniform_real_distribution<float> u(0.f, 1.f);
  for (int n = 0; n < N; n++)
    for (int k = 0; k < K; k++) {
      int e;
      bool dup;
      do {
        e = u(rng) < skew ? (int)(u(rng) * std::max(1, E / 4)) : (int)(u(rng) * E);
        e = std::min(e, E - 1);
        dup = false;
        for (int j = 0; j < k; j++) dup |= ids[(size_t)n * K + j] == e;
      } while (dup);
      ids[(size_t)n * K + k] = e;
    }
  return ids;
}

struct Slots {
  int rows, tiles, chunks;
  int *counts, *offsets, *tiles_e, *slot, *row_token, *hist;
};

static Slots alloc_slots(int N, int K, int E) {
  Slots s;
  s.rows = expert_rows(N, K, E), s.tiles = s.rows / 64, s.chunks = (N * K + ASSIGN_CHUNK - 1) / ASSIGN_CHUNK;
  s.counts = dalloc<int>(E), s.offsets = dalloc<int>(E + 1), s.tiles_e = dalloc<int>(s.tiles), s.slot = dalloc<int>((size_t)N * K);
  s.row_token = dalloc<int>(s.rows), s.hist = dalloc<int>((size_t)s.chunks * E);
  CK(cudaMemset(s.row_token, 0x7f, s.rows * sizeof(int)));  // the same sentinel for old and new where neither writes
  return s;
}

static void run_old_slots(const int* ids, const Slots& s, int N, int K, int E, int cap) {
  old_expert_count<<<(E + 63) / 64, 64>>>(ids, s.counts, N, K, E, cap);
  old_expert_offsets<<<1, 32>>>(s.counts, s.offsets, s.tiles_e, E, 64, s.tiles);
  old_expert_assign<<<(E + 63) / 64, 64>>>(ids, s.offsets, s.slot, s.row_token, N, K, E, cap);
}

// as ops/moe.ts experts.forward
static void run_new_slots(const int* ids, const Slots& s, int N, int K, int E, int cap) {
  expert_hist<<<s.chunks, ASSIGN_CHUNK>>>(ids, s.hist, N * K, E);
  expert_scan<<<1, 1024>>>(s.hist, s.counts, s.offsets, s.tiles_e, s.row_token, s.chunks, E, 64, s.tiles, cap);
  expert_assign<<<s.chunks, ASSIGN_CHUNK>>>(ids, s.hist, s.offsets, s.slot, s.row_token, N * K, K, E, cap);
}

static void check_slots(const char* name, int N, int K, int E, float capacity, float skew, bool timed) {
  int cap = capacity > 0 ? (int)std::ceil(capacity * N * K / E) : -1;
  int* ids = upload(routing(N, K, E, skew));
  Slots o = alloc_slots(N, K, E), n = alloc_slots(N, K, E);
  run_old_slots(ids, o, N, K, E, cap);
  run_new_slots(ids, n, N, K, E, cap);
  LAUNCHED();
  CK(cudaDeviceSynchronize());
  auto eq = [](const int* a, const int* b, size_t cnt) { return download(a, cnt) == download(b, cnt); };
  bool ok = eq(o.counts, n.counts, E) && eq(o.offsets, n.offsets, E + 1) && eq(o.tiles_e, n.tiles_e, o.tiles) && eq(o.slot, n.slot, (size_t)N * K) && eq(o.row_token, n.row_token, o.rows);
  std::vector<int> slot = download(n.slot, (size_t)N * K);
  long dropped = std::count(slot.begin(), slot.end(), -1);
  verdict(ok, "slots  %-28s N=%d K=%d E=%d capacity=%d: counts, offsets, tiles, slot, row_token == old exactly (%ld pairs dropped)", name, N, K, E, cap, dropped);
  if (cap >= 0) verdict(dropped > 0, "slots  %-28s the capacity case drops pairs (%ld)", name, dropped);
  if (timed) {
    float to = time_ms([&] { run_old_slots(ids, o, N, K, E, cap); }), tn = time_ms([&] { run_new_slots(ids, n, N, K, E, cap); });
    std::printf("TIME slots  %-28s old %8.1f us  new %8.1f us  speedup %.1fx\n", name, to * 1e3, tn * 1e3, to / tn);
  }
}

// ---------------------------------------------------------------------------------------------------
// 3. grouped GEMMs
// C[i, j] (+)= Σ_p A(i, p)·B(j, p) on bf16 operands in fp32, A(i, p) = A[i·sai + p·sap], B(j, p) =
// B[j·sbj + p·sbp]; bound[i, j] += Σ_p |A(i, p)·B(j, p)|. A product of two bf16 is exact in fp32,
// so this and the mma kernel differ only in the order of the fp32 additions.
__global__ void ref_gemm(const bf16* A, long sai, long sap, const bf16* B, long sbj, long sbp, int M, int Nc, int depth, float* C, long ldc, float* bound, bool add) {
  __shared__ float As[16][17], Bs[16][17];
  int tx = threadIdx.x % 16, ty = threadIdx.x / 16;
  int i = blockIdx.y * 16 + ty, j = blockIdx.x * 16 + tx;
  float acc = 0.f, mag = 0.f;
  for (int p0 = 0; p0 < depth; p0 += 16) {
    int ia = blockIdx.y * 16 + ty, jb = blockIdx.x * 16 + ty, p = p0 + tx;
    As[ty][tx] = ia < M && p < depth ? __bfloat162float(A[ia * sai + p * sap]) : 0.f;
    Bs[ty][tx] = jb < Nc && p < depth ? __bfloat162float(B[jb * sbj + p * sbp]) : 0.f;
    __syncthreads();
    for (int q = 0; q < 16; q++) {
      float v = As[ty][q] * Bs[tx][q];
      acc += v;
      mag += fabsf(v);
    }
    __syncthreads();
  }
  if (i < M && j < Nc) {
    C[i * ldc + j] = (add ? C[i * ldc + j] : 0.f) + acc;
    bound[i * ldc + j] = (add ? bound[i * ldc + j] : 0.f) + mag;
  }
}

static void ref(const bf16* A, long sai, long sap, const bf16* B, long sbj, long sbp, int M, int Nc, int depth, float* C, long ldc, float* bound, bool add) {
  if (M <= 0 || Nc <= 0) return;
  dim3 grid((Nc + 15) / 16, (M + 15) / 16);
  ref_gemm<<<grid, 256>>>(A, sai, sap, B, sbj, sbp, M, Nc, depth, C, ldc, bound, add);
  LAUNCHED();
}

// |got − want| ≤ 2·depth·2⁻²⁴·Σ|a·b| + 1e-30 per element (γ_n for two summation orders), in `rows`
// rows of `cols` (stride ld) at the given row offsets.
static void compare_exactish(const char* what, const char* shape, const std::vector<float>& got, const std::vector<float>& want, const std::vector<float>& bound, int depth, const std::vector<std::pair<int, int>>& segments, int cols, int ld) {
  double worst = 0.0, maxabs = 0.0;
  long bad = 0, n = 0;
  for (auto [r0, r1] : segments)
    for (int r = r0; r < r1; r++)
      for (int c = 0; c < cols; c++) {
        size_t i = (size_t)r * ld + c;
        double err = std::fabs((double)got[i] - want[i]), tol = 2.0 * depth * std::ldexp(1.0, -24) * bound[i] + 1e-30;
        worst = std::max(worst, err / tol);
        maxabs = std::max(maxabs, std::fabs((double)want[i]));
        bad += !(err <= tol);  // NaN fails
        n++;
      }
  verdict(bad == 0 && n > 0, "gemm   %-14s %-24s vs fp32 reference on the same bf16 operands: %ld/%ld elements past the bound (worst err/bound %.3f, max |C| %.3g)", shape, what, bad, n, worst, maxabs);
}

struct Shape {
  const char* name;
  int N, K, E, D, F;
  float capacity, skew;
  bool timed;
};

static double rel_norm(const std::vector<float>& got, const std::vector<float>& want, const std::vector<std::pair<int, int>>& segments, int cols, int ld) {
  double num = 0, den = 0;
  for (auto [r0, r1] : segments)
    for (int r = r0; r < r1; r++)
      for (int c = 0; c < cols; c++) {
        size_t i = (size_t)r * ld + c;
        double d = (double)got[i] - want[i];
        num += d * d;
        den += (double)want[i] * want[i];
      }
  return std::sqrt(num / std::max(den, 1e-300));
}

static void check_gemms(const Shape& s) {
  const int N = s.N, K = s.K, E = s.E, D = s.D, F = s.F;
  int cap = s.capacity > 0 ? (int)std::ceil(s.capacity * N * K / E) : -1;
  int* ids = upload(routing(N, K, E, s.skew));
  Slots sl = alloc_slots(N, K, E);
  run_new_slots(ids, sl, N, K, E, cap);
  const int rows = sl.rows, tiles = sl.tiles;
  float inD = 1.f / std::sqrt((float)D), inF = 1.f / std::sqrt((float)F);
  float* x = upload(uniform((size_t)N * D, -1.f, 1.f));
  float* gate = upload(uniform((size_t)E * F * D, -inD, inD));
  float* up = upload(uniform((size_t)E * F * D, -inD, inD));
  float* down = upload(uniform((size_t)E * D * F, -inF, inF));
  float* rw = upload(uniform((size_t)N * K, 0.05f, 0.5f));
  float* dy = upload(uniform((size_t)N * D, -1.f, 1.f));
  bf16 *gate16 = to_bf16_dev(gate, (size_t)E * F * D), *up16 = to_bf16_dev(up, (size_t)E * F * D), *down16 = to_bf16_dev(down, (size_t)E * D * F);
  std::vector<float> w0 = uniform((size_t)E * F * D, -0.01f, 0.01f);  // gradients are added: start from nonzero
  // new path (bf16): the launches of ops/moe.ts in precision = bf16
  bf16 *xs16 = dalloc<bf16>((size_t)rows * D), *act16 = dalloc<bf16>((size_t)rows * F), *dout16 = dalloc<bf16>((size_t)rows * D), *dgu16 = dalloc<bf16>((size_t)rows * 2 * F);
  float *gu = dalloc<float>((size_t)rows * 2 * F), *out = dalloc<float>((size_t)rows * D), *dact = dalloc<float>((size_t)rows * F), *dxs = dalloc<float>((size_t)rows * D);
  float *dGate = upload(w0), *dUp = upload(w0), *dDown = upload(w0);
  auto cdiv = [](int a, int b) { return (a + b - 1) / b; };
  unsigned ew = (unsigned)std::min<size_t>(((size_t)rows * F + 255) / 256, 65535 * 8);
  auto fwd_nt1 = [&] { grouped_nt_bf16<<<dim3(cdiv(2 * F, 128), tiles), 128>>>(xs16, D, gate16, up16, F, gu, 2 * F, sl.tiles_e, 2 * F, D); };
  auto fwd_nt2 = [&] { grouped_nt_bf16<<<dim3(cdiv(D, 128), tiles), 128>>>(act16, F, down16, down16, D, out, D, sl.tiles_e, D, F); };
  auto bwd_nn1 = [&] { grouped_nn_bf16<<<dim3(cdiv(F, 128), tiles), 128>>>(dout16, D, down16, down16, D, dact, F, sl.tiles_e, D, F); };
  auto bwd_nn2 = [&] { grouped_nn_bf16<<<dim3(cdiv(D, 128), tiles), 128>>>(dgu16, 2 * F, gate16, up16, F, dxs, D, sl.tiles_e, 2 * F, D); };
  auto bwd_tn1 = [&] { grouped_tn_bf16<<<dim3(cdiv(F, 128), cdiv(D, 64), E), 128>>>(dout16, D, act16, F, dDown, sl.offsets, D, F); };
  auto bwd_tn2 = [&] { grouped_tn_bf16<<<dim3(cdiv(D, 128), cdiv(F, 64), E), 128>>>(dgu16, 2 * F, xs16, D, dGate, sl.offsets, F, D); };
  auto bwd_tn3 = [&] { grouped_tn_bf16<<<dim3(cdiv(D, 128), cdiv(F, 64), E), 128>>>(dgu16 + F, 2 * F, xs16, D, dUp, sl.offsets, F, D); };
  auto new_forward = [&] {
    expert_gather_bf16<<<rows, 128>>>(x, sl.row_token, sl.offsets, xs16, D, E);
    fwd_nt1();
    swiglu_gate_fwd_bf16<<<ew, 256>>>(gu, act16, rows, F);
    fwd_nt2();
  };
  auto new_backward = [&] {
    CK(cudaMemsetAsync(dout16, 0, (size_t)rows * D * sizeof(bf16)));
    expert_combine_bwd_bf16<<<N, 128>>>(out, rw, sl.slot, dy, dout16, nullptr, D, K);
    bwd_nn1();
    bwd_tn1();
    swiglu_gate_bwd_bf16<<<ew, 256>>>(gu, dact, dgu16, rows, F);
    bwd_nn2();
    bwd_tn2();
    bwd_tn3();
  };
  new_forward();
  new_backward();
  LAUNCHED();
  CK(cudaDeviceSynchronize());

  // references on the very bf16 operands the new kernels read
  std::vector<int> off = download(sl.offsets, E + 1);
  std::vector<std::pair<int, int>> segs;
  for (int e = 0; e < E; e++) segs.push_back({off[e], off[e + 1]});
  float *rgu = dalloc<float>((size_t)rows * 2 * F), *bgu = dalloc<float>((size_t)rows * 2 * F), *rout = dalloc<float>((size_t)rows * D), *bout = dalloc<float>((size_t)rows * D);
  float *rdact = dalloc<float>((size_t)rows * F), *bdact = dalloc<float>((size_t)rows * F), *rdxs = dalloc<float>((size_t)rows * D), *bdxs = dalloc<float>((size_t)rows * D);
  float *rdGate = upload(w0), *rdUp = upload(w0), *rdDown = upload(w0);
  float *bdGate = dalloc<float>((size_t)E * F * D), *bdUp = dalloc<float>((size_t)E * F * D), *bdDown = dalloc<float>((size_t)E * D * F);
  for (int e = 0; e < E; e++) {
    int o = off[e], m = off[e + 1] - off[e];
    size_t wf = (size_t)e * F * D;
    ref(xs16 + (size_t)o * D, D, 1, gate16 + wf, D, 1, m, F, D, rgu + (size_t)o * 2 * F, 2 * F, bgu + (size_t)o * 2 * F, false);
    ref(xs16 + (size_t)o * D, D, 1, up16 + wf, D, 1, m, F, D, rgu + (size_t)o * 2 * F + F, 2 * F, bgu + (size_t)o * 2 * F + F, false);
    ref(act16 + (size_t)o * F, F, 1, down16 + wf, F, 1, m, D, F, rout + (size_t)o * D, D, bout + (size_t)o * D, false);
    ref(dout16 + (size_t)o * D, D, 1, down16 + wf, 1, F, m, F, D, rdact + (size_t)o * F, F, bdact + (size_t)o * F, false);
    ref(dgu16 + (size_t)o * 2 * F, 2 * F, 1, gate16 + wf, 1, D, m, D, F, rdxs + (size_t)o * D, D, bdxs + (size_t)o * D, false);
    ref(dgu16 + (size_t)o * 2 * F + F, 2 * F, 1, up16 + wf, 1, D, m, D, F, rdxs + (size_t)o * D, D, bdxs + (size_t)o * D, true);
    if (m == 0) continue;  // an expert with no rows adds nothing to its weight gradients
    CK(cudaMemset(bdDown + wf, 0, (size_t)D * F * 4));
    ref(dout16 + (size_t)o * D, 1, D, act16 + (size_t)o * F, 1, F, D, F, m, rdDown + wf, F, bdDown + wf, true);
    ref(dgu16 + (size_t)o * 2 * F, 1, 2 * F, xs16 + (size_t)o * D, 1, D, F, D, m, rdGate + wf, D, bdGate + wf, true);
    ref(dgu16 + (size_t)o * 2 * F + F, 1, 2 * F, xs16 + (size_t)o * D, 1, D, F, D, m, rdUp + wf, D, bdUp + wf, true);
  }
  CK(cudaDeviceSynchronize());
  auto cmp = [&](const char* what, float* got, float* want, float* bound, size_t n, int depth, const std::vector<std::pair<int, int>>& sg, int cols, int ld) {
    compare_exactish(what, s.name, download(got, n), download(want, n), download(bound, n), depth, sg, cols, ld);
  };
  cmp("gu = xs·[Gate;Up]ᵀ (NT)", gu, rgu, bgu, (size_t)rows * 2 * F, D, segs, 2 * F, 2 * F);
  cmp("out = act·Downᵀ (NT)", out, rout, bout, (size_t)rows * D, F, segs, D, D);
  cmp("dact = dout·Down (NN)", dact, rdact, bdact, (size_t)rows * F, D, segs, F, F);
  cmp("dxs = dgu·[Gate;Up] (NN)", dxs, rdxs, bdxs, (size_t)rows * D, 2 * F, segs, D, D);
  int maxSeg = 0;
  for (auto [a, b] : segs) maxSeg = std::max(maxSeg, b - a);
  {  // weight gradients: bound over each expert's [rows, cols] block; gradients start from w0 (its size adds no rounding: w0 + Σ is one add)
    std::vector<std::pair<int, int>> blocksD, blocksF;
    for (int e = 0; e < E; e++) if (off[e + 1] > off[e]) blocksD.push_back({e * D, (e + 1) * D}), blocksF.push_back({e * F, (e + 1) * F});
    auto cmpw = [&](const char* what, float* got, float* want, float* bound, const std::vector<std::pair<int, int>>& b, int cols) {
      std::vector<float> g = download(got, (size_t)E * F * D), w = download(want, (size_t)E * F * D), bd = download(bound, (size_t)E * F * D);
      for (size_t i = 0; i < bd.size(); i++) bd[i] += std::fabs(w0[i]);  // the one add onto the initial gradient
      compare_exactish(what, s.name, g, w, bd, maxSeg + 1, b, cols, cols);
    };
    cmpw("dDown += doutᵀ·act (TN)", dDown, rdDown, bdDown, blocksD, F);
    cmpw("dGate += dguᵀ·xs (TN)", dGate, rdGate, bdGate, blocksF, D);
    cmpw("dUp += dguᵀ·xs (TN)", dUp, rdUp, bdUp, blocksF, D);
  }
  // padding rows of each segment hold zeros in the bf16 operands (the TN kernels rely on it)
  {
    std::vector<float> a = download_bf16(xs16, (size_t)rows * D), dg = download_bf16(dgu16, (size_t)rows * 2 * F);
    std::vector<int> cnt = download(sl.counts, E);
    long nz = 0;
    for (int e = 0; e < E; e++)
      for (int r = off[e] + cnt[e]; r < off[e + 1]; r++) {
        for (int c = 0; c < D; c++) nz += a[(size_t)r * D + c] != 0.f;
        for (int c = 0; c < 2 * F; c++) nz += dg[(size_t)r * 2 * F + c] != 0.f;
      }
    verdict(nz == 0, "gemm   %-14s padding rows of xs and dgu are zero (%ld nonzero)", s.name, nz);
  }

  // the fp32 path (forward.cu's SIMT kernels, the reference mode) and the old wmma kernels on fp32 operands
  float *xs = dalloc<float>((size_t)rows * D), *gu32 = dalloc<float>((size_t)rows * 2 * F), *act = dalloc<float>((size_t)rows * F), *out32 = dalloc<float>((size_t)rows * D);
  float *dout = dalloc<float>((size_t)rows * D), *dact32 = dalloc<float>((size_t)rows * F), *dgu = dalloc<float>((size_t)rows * 2 * F), *dxs32 = dalloc<float>((size_t)rows * D);
  float *dGate32 = upload(w0), *dUp32 = upload(w0), *dDown32 = upload(w0);
  bool wmma = false;  // which kernels run the products below
  auto nt = [&](const float* A, int k, const float* W1, const float* W2, int split, float* C, int n) {
    if (wmma) oldwmma::old_grouped_nt_bf16<<<dim3(tiles, cdiv(n, 64)), 128>>>(A, k, W1, W2, split, C, n, sl.tiles_e, n, k);
    else grouped_gemm_nt<<<dim3(tiles, cdiv(n, 64)), 256>>>(A, k, W1, W2, split, C, n, sl.tiles_e, n, k);
  };
  auto nn = [&](const float* A, int n, const float* W1, const float* W2, int split, float* C, int k) {
    if (wmma) oldwmma::old_grouped_nn_bf16<<<dim3(tiles, cdiv(k, 64)), 128>>>(A, n, W1, W2, split, C, k, sl.tiles_e, n, k);
    else grouped_gemm_nn<<<dim3(tiles, cdiv(k, 64)), 256>>>(A, n, W1, W2, split, C, k, sl.tiles_e, n, k);
  };
  auto tn = [&](const float* A, int lda, const float* B, int ldb, float* dW, int n, int k) {
    if (wmma) oldwmma::old_grouped_tn_bf16<<<dim3(cdiv(n, 64), cdiv(k, 64), E), 128>>>(A, lda, B, ldb, dW, sl.offsets, n, k);
    else grouped_gemm_tn<<<dim3(cdiv(n, 64), cdiv(k, 64), E), 256>>>(A, lda, B, ldb, dW, sl.offsets, n, k);
  };
  auto old_forward = [&] {
    expert_gather<<<rows, 128>>>(x, sl.row_token, sl.offsets, xs, D, E);
    nt(xs, D, gate, up, F, gu32, 2 * F);
    swiglu_gate_fwd<<<ew, 256>>>(gu32, act, rows, F);
    nt(act, F, down, down, D, out32, D);
  };
  auto old_backward = [&] {
    CK(cudaMemsetAsync(dout, 0, (size_t)rows * D * sizeof(float)));
    expert_combine_bwd<<<N, 128>>>(out32, rw, sl.slot, dy, dout, nullptr, D, K);
    nn(dout, D, down, down, D, dact32, F);
    tn(dout, D, act, F, dDown32, D, F);
    swiglu_gate_bwd<<<ew, 256>>>(gu32, dact32, dgu, rows, F);
    nn(dgu, 2 * F, gate, up, F, dxs32, D);
    tn(dgu, 2 * F, xs, D, dGate32, F, D);
    tn(dgu + F, 2 * F, xs, D, dUp32, F, D);
  };
  // Norm-wise bound against fp32: bf16 keeps 8 significant bits (unit roundoff u = 2⁻⁹); a rounding
  // error is ≈ uniform, std u/√3 ≈ 1.1e-3 relative, independent across operands, so one product of two
  // rounded operands is off by ≈ 1.6e-3 of its norm, and a chain of two products with a rounded
  // intermediate (out, dxs, the weight gradients) by ≈ 3e-3. 1e-2 leaves a 3× margin. The old wmma
  // kernels round the same operands the same way, so their error (printed beside) is the other yardstick:
  // within 1.25× of it passes too. A wrong index or a lost slice is off by O(1), far past either.
  const double bound = 1e-2;
  std::vector<std::pair<int, int>> allD = {{0, E * D}}, allF = {{0, E * F}};
  struct Out { const char* name; float *nw, *fp, *wm; size_t n; const std::vector<std::pair<int, int>>* seg; int cols; };
  float *gu_w = dalloc<float>((size_t)rows * 2 * F), *out_w = dalloc<float>((size_t)rows * D), *dact_w = dalloc<float>((size_t)rows * F), *dxs_w = dalloc<float>((size_t)rows * D);
  float *dGate_w = upload(w0), *dUp_w = upload(w0), *dDown_w = upload(w0);
  old_forward();
  old_backward();
  LAUNCHED();
  CK(cudaDeviceSynchronize());
  std::swap(gu32, gu_w), std::swap(out32, out_w), std::swap(dact32, dact_w), std::swap(dxs32, dxs_w);
  std::swap(dGate32, dGate_w), std::swap(dUp32, dUp_w), std::swap(dDown32, dDown_w);
  wmma = true;
  old_forward();
  old_backward();
  LAUNCHED();
  CK(cudaDeviceSynchronize());
  std::swap(gu32, gu_w), std::swap(out32, out_w), std::swap(dact32, dact_w), std::swap(dxs32, dxs_w);
  std::swap(dGate32, dGate_w), std::swap(dUp32, dUp_w), std::swap(dDown32, dDown_w);
  // now *32 hold the fp32 path's results and *_w the old wmma kernels'
  Out outs[] = {
      {"gu", gu, gu32, gu_w, (size_t)rows * 2 * F, &segs, 2 * F}, {"out", out, out32, out_w, (size_t)rows * D, &segs, D},
      {"dact", dact, dact32, dact_w, (size_t)rows * F, &segs, F}, {"dxs", dxs, dxs32, dxs_w, (size_t)rows * D, &segs, D},
      {"dDown-w0", dDown, dDown32, dDown_w, (size_t)E * D * F, &allD, F}, {"dGate-w0", dGate, dGate32, dGate_w, (size_t)E * F * D, &allF, D},
      {"dUp-w0", dUp, dUp32, dUp_w, (size_t)E * F * D, &allF, D},
  };
  for (auto& o : outs) {
    std::vector<float> nw = download(o.nw, o.n), fp = download(o.fp, o.n), wm = download(o.wm, o.n);
    bool grad = o.seg != &segs;  // weight gradients: compare what was added, not w0
    if (grad) for (size_t i = 0; i < o.n; i++) nw[i] -= w0[i], fp[i] -= w0[i], wm[i] -= w0[i];
    double en = rel_norm(nw, fp, *o.seg, o.cols, o.cols), eo = rel_norm(wm, fp, *o.seg, o.cols, o.cols);
    verdict(en <= bound || en <= 1.25 * eo, "chain  %-14s %-8s new bf16 vs the fp32 path: %.2e relative (norm; bound %.0e or 1.25× the old wmma kernels' %.2e)", s.name, o.name, en, bound, eo);
  }

  if (!s.timed) return;
  // speed: each product, old wmma kernel (fp32 operands converted while staged) vs new (bf16 operands)
  double pairs = (double)N * K;  // useful rows; the padding (rows − pairs) is work done for nothing
  std::printf("TIME shape %s: %d pairs in %d rows (%.1f%% padding)\n", s.name, N * K, rows, 100.0 * (rows - pairs) / rows);
  struct G { const char* name; double flops; std::function<void()> oldf, newf; };
  std::vector<G> gs = {
      {"NT gu   [pairs,2F]x[2F,D]", 2 * pairs * 2 * F * D, [&] { nt(xs, D, gate, up, F, gu_w, 2 * F); }, fwd_nt1},
      {"NT out  [pairs,D]x[D,F]", 2 * pairs * D * F, [&] { nt(act, F, down, down, D, out_w, D); }, fwd_nt2},
      {"NN dact [pairs,F]x[F,D]", 2 * pairs * F * D, [&] { nn(dout, D, down, down, D, dact_w, F); }, bwd_nn1},
      {"NN dxs  [pairs,D]x[D,2F]", 2 * pairs * D * 2 * F, [&] { nn(dgu, 2 * F, gate, up, F, dxs_w, D); }, bwd_nn2},
      {"TN dDown [D,F] per expert", 2 * pairs * D * F, [&] { tn(dout, D, act, F, dDown_w, D, F); }, bwd_tn1},
      {"TN dGate [F,D] per expert", 2 * pairs * F * D, [&] { tn(dgu, 2 * F, xs, D, dGate_w, F, D); }, bwd_tn2},
      {"TN dUp   [F,D] per expert", 2 * pairs * F * D, [&] { tn(dgu + F, 2 * F, xs, D, dUp_w, F, D); }, bwd_tn3},
  };
  double to_all = 0, tn_all = 0, flops_all = 0;
  for (auto& g : gs) {
    float to = time_ms(g.oldf), tnw = time_ms(g.newf);
    to_all += to, tn_all += tnw, flops_all += g.flops;
    std::printf("TIME gemm  %-28s old %8.1f us %6.1f TFLOP/s   new %8.1f us %6.1f TFLOP/s   speedup %.1fx\n", g.name, to * 1e3, g.flops / (to * 1e9), tnw * 1e3, g.flops / (tnw * 1e9), to / tnw);
  }
  std::printf("TIME gemm  %-28s old %8.1f us %6.1f TFLOP/s   new %8.1f us %6.1f TFLOP/s   speedup %.1fx\n", "all seven", to_all * 1e3, flops_all / (to_all * 1e9), tn_all * 1e3, flops_all / (tn_all * 1e9), to_all / tn_all);
  float fo = time_ms(old_forward), fn = time_ms(new_forward), bo = time_ms(old_backward), bn = time_ms(new_backward);
  std::printf("TIME experts forward  (gather, NT, swiglu, NT)               old %8.1f us  new %8.1f us  speedup %.1fx\n", fo * 1e3, fn * 1e3, fo / fn);
  std::printf("TIME experts backward (combine_bwd, NN, TN, swiglu_bwd, NN, 2 TN) old %8.1f us  new %8.1f us  speedup %.1fx\n", bo * 1e3, bn * 1e3, bo / bn);
}

int main() {
  cudaDeviceProp prop;
  CK(cudaGetDeviceProperties(&prop, 0));
  std::printf("device: %s (sm_%d%d, %d SMs)\n", prop.name, prop.major, prop.minor, prop.multiProcessorCount);
  // 1. router (moe-500m: sigmoid, 8 groups keep 4, top-2 group scores, bias; normalize as DeepSeek-V3)
  RouterCase routers[] = {
      {"moe-500m sigmoid groups", 4096, 64, 6, 0, 8, 4, 1, 1, 1.0f, true, false},
      {"moe-500m sigmoid groups ties", 4096, 64, 6, 0, 8, 4, 1, 1, 1.0f, true, true},
      {"softmax no groups scale", 4096, 64, 6, 1, 1, 1, 0, 0, 2.5f, false, false},
      {"softmax ties", 4096, 64, 6, 1, 1, 1, 0, 1, 1.0f, false, true},
      {"awkward E8 K2 groups top1", 37, 8, 2, 1, 4, 2, 0, 1, 1.0f, true, true},
      {"E160 K8 (8 per lane) groups", 1000, 160, 8, 0, 8, 3, 1, 1, 1.5f, true, true},
      {"E1024 K32 (32 per lane) G64", 300, 1024, 32, 1, 64, 8, 1, 0, 1.0f, true, true},
      {"E96 G7 (96 % 7 ≠ 0)", 500, 96, 4, 0, 7, 3, 1, 1, 1.0f, true, true},
  };
  for (auto& r : routers) check_router(r, &r == &routers[0]);
  // 2. slots
  check_slots("moe-500m dropless", 4096, 6, 64, 0.f, 0.3f, true);
  check_slots("moe-500m capacity 1.0", 4096, 6, 64, 1.0f, 0.5f, false);
  check_slots("awkward N37 K2 E8", 37, 2, 8, 0.f, 0.f, false);
  check_slots("awkward capacity 1.25", 37, 2, 8, 1.25f, 0.6f, false);
  check_slots("E1024 K8 N3000", 3000, 8, 1024, 0.f, 0.2f, false);
  // 3. GEMMs, and 4. their timing at moe-500m
  Shape shapes[] = {
      {"moe-500m", 4096, 6, 64, 1024, 256, 0.f, 0.3f, true},
      {"awkward", 37, 2, 8, 96, 40, 0.f, 0.f, false},
      {"capacity", 300, 2, 8, 128, 64, 1.0f, 0.6f, false},
      {"unaligned", 50, 3, 5, 100, 36, 0.f, 0.2f, false},
  };
  for (auto& s : shapes) check_gemms(s);
  for (void* p : allocations) cudaFree(p);
  std::printf("%s: %d check(s) failed\n", failures ? "FAIL" : "PASS", failures);
  return failures ? 1 : 0;
}
