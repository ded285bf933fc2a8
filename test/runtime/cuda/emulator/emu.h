// The kernel side of the CUDA emulator: what runtime/cuda/kernels/*.cu need from CUDA C++, for g++.
// Each thread of a block is a fiber (ucontext) on one OS thread, and the blocks of a grid run one
// after another, so `__shared__` can be a function-local static (one instance, which is the block's
// while that block runs) and atomics are plain read-modify-writes. __syncthreads, __syncwarp and the
// warp collectives (shuffles, match, ldmatrix, mma) are barriers: a fiber yields until every live
// thread of its block (or warp) has arrived, so a kernel that would deadlock on a GPU is reported as
// one here. Numbers: fp32 as on the GPU (no fused multiply-add contraction, -ffp-contract=off), bf16
// rounded to nearest even, mma.sync's products accumulated in fp32 in k order.
#pragma once

#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmath>
#include <cstdint>
#include <type_traits>

#define MOE_EMU 1

struct dim3 {
  unsigned x = 1, y = 1, z = 1;
};
struct float2 {
  float x, y;
};
struct float4 {
  float x, y, z, w;
};
inline float2 make_float2(float x, float y) { return {x, y}; }
inline float4 make_float4(float x, float y, float z, float w) { return {x, y, z, w}; }

// ---- bf16: storage as 16 bits, arithmetic through float (as the kernels do it)
struct __nv_bfloat16 {
  uint16_t bits;
  __nv_bfloat16() = default;
  __nv_bfloat16(float f);  // NOLINT: CUDA's converts implicitly too
  operator float() const {
    uint32_t u = (uint32_t)bits << 16;
    float f;
    memcpy(&f, &u, 4);
    return f;
  }
};
inline uint16_t emu_bf16_bits(float f) {
  uint32_t u;
  memcpy(&u, &f, 4);
  if ((u & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((u >> 16) | 0x40u);  // NaN stays NaN (quiet)
  u += 0x7fffu + ((u >> 16) & 1u);
  return (uint16_t)(u >> 16);
}
inline __nv_bfloat16::__nv_bfloat16(float f) : bits(emu_bf16_bits(f)) {}
inline __nv_bfloat16 __float2bfloat16_rn(float f) { return __nv_bfloat16(f); }
inline __nv_bfloat16 __float2bfloat16(float f) { return __nv_bfloat16(f); }
inline float __bfloat162float(__nv_bfloat16 b) { return (float)b; }

// ---- the qualifiers mean nothing on one CPU thread
#define __global__
#define __device__
#define __host__
#define __forceinline__ inline
#define __restrict__ __restrict
#define __launch_bounds__(...)
#define __align__(n) __attribute__((aligned(n)))
#define __shared__ static
#define warpSize 32

// ---- the emulator's state (emulator.cpp owns it)
namespace emu {
struct Fiber;
// What the lanes of a warp leave for each other in one collective (a shuffle, ldmatrix, mma). Two
// rounds alternate, so a collective needs one barrier, not two: a lane writes round n+2 only after
// the barrier of n+1, which every lane reaches only after reading round n.
struct Round {
  uint64_t slot[32];
  uint32_t frag[32][6];
  bool unpacked;  // mma: A and B below hold this round's fragments
  float A[16][16], B[16][8];
};
struct Warp {
  uint32_t arrived;  // lanes at the warp barrier now
  uint32_t waiting;  // the mask they wait with
  uint32_t live;     // lanes that exist and have not returned
  unsigned gen;      // bumped at each release
  Round round[2];
};
struct Grid {
  dim3 block, blockSize, gridSize;
  Fiber* current;
  unsigned char* dynamicShared;
};
extern Grid grid;
const dim3& thread_index();
int linear_thread();
Warp& warp_of(int warp);
/** The current lane's round for its next collective (and the count moves on). */
Round& next_round(Warp& w);
void wait(const unsigned* counter, unsigned gen);
void block_barrier();
void warp_barrier(uint32_t mask);
}  // namespace emu

#define threadIdx (::emu::thread_index())
#define blockIdx (::emu::grid.block)
#define blockDim (::emu::grid.blockSize)
#define gridDim (::emu::grid.gridSize)

inline void __syncthreads() { emu::block_barrier(); }
inline void __syncwarp(unsigned mask = 0xffffffffu) { emu::warp_barrier(mask); }

// ---- warp collectives: every lane leaves its value in its slot, then reads the source lane's
namespace emu {
template <typename T>
T exchange(unsigned mask, T v, int (*source)(int lane, int arg, int width), int arg, int width) {
  static_assert(sizeof(T) <= 8, "a shuffled value is at most 8 bytes");
  int t = linear_thread(), lane = t % 32;
  Warp& w = warp_of(t / 32);
  uint64_t bits = 0;
  memcpy(&bits, &v, sizeof(T));
  Round& r = next_round(w);
  r.slot[lane] = bits;
  warp_barrier(mask);
  T out;
  uint64_t got = r.slot[source(lane, arg, width)];
  memcpy(&out, &got, sizeof(T));
  return out;
}
inline int segment(int lane, int width) { return lane & ~(width - 1); }
inline int xor_source(int lane, int mask, int width) {
  int src = lane ^ mask;
  return src < segment(lane, width) + width ? src : lane;
}
inline int up_source(int lane, int delta, int width) { return lane - delta >= segment(lane, width) ? lane - delta : lane; }
inline int down_source(int lane, int delta, int width) { return lane + delta < segment(lane, width) + width ? lane + delta : lane; }
inline int index_source(int lane, int src, int width) { return segment(lane, width) + (src & (width - 1)); }
}  // namespace emu

template <typename T>
T __shfl_xor_sync(unsigned mask, T v, int laneMask, int width = 32) { return emu::exchange(mask, v, emu::xor_source, laneMask, width); }
template <typename T>
T __shfl_up_sync(unsigned mask, T v, unsigned delta, int width = 32) { return emu::exchange(mask, v, emu::up_source, (int)delta, width); }
template <typename T>
T __shfl_down_sync(unsigned mask, T v, unsigned delta, int width = 32) { return emu::exchange(mask, v, emu::down_source, (int)delta, width); }
template <typename T>
T __shfl_sync(unsigned mask, T v, int src, int width = 32) { return emu::exchange(mask, v, emu::index_source, src, width); }

template <typename T>
unsigned __match_any_sync(unsigned mask, T value) {
  int t = emu::linear_thread(), lane = t % 32;
  emu::Warp& w = emu::warp_of(t / 32);
  uint64_t bits = 0;
  memcpy(&bits, &value, sizeof(T));
  emu::Round& r = emu::next_round(w);
  r.slot[lane] = bits;
  emu::warp_barrier(mask);
  unsigned same = 0;
  for (int l = 0; l < 32; l++)
    if ((mask >> l & 1u) && r.slot[l] == bits) same |= 1u << l;
  return same;
}
inline unsigned __ballot_sync(unsigned mask, int predicate) {
  int t = emu::linear_thread(), lane = t % 32;
  emu::Warp& w = emu::warp_of(t / 32);
  emu::Round& r = emu::next_round(w);
  r.slot[lane] = predicate != 0;
  emu::warp_barrier(mask);
  unsigned set = 0;
  for (int l = 0; l < 32; l++)
    if ((mask >> l & 1u) && r.slot[l]) set |= 1u << l;
  return set;
}

inline int __popc(unsigned v) { return __builtin_popcount(v); }
inline int __clz(unsigned v) { return v ? __builtin_clz(v) : 32; }
inline int __ffs(unsigned v) { return __builtin_ffs((int)v); }

// ---- atomics: fibers never interleave inside one, so a read-modify-write is atomic
template <typename T>
T atomicAdd(T* p, T v) {
  T old = *p;
  *p = old + v;
  return old;
}
template <typename T>
T atomicMax(T* p, T v) {
  T old = *p;
  *p = old > v ? old : v;
  return old;
}
template <typename T>
T atomicMin(T* p, T v) {
  T old = *p;
  *p = old < v ? old : v;
  return old;
}
template <typename T>
T atomicExch(T* p, T v) {
  T old = *p;
  *p = v;
  return old;
}
template <typename T>
T atomicCAS(T* p, T compare, T v) {
  T old = *p;
  if (old == compare) *p = v;
  return old;
}

// ---- math the CUDA headers add to C's
// min and max of mixed integer types convert as CUDA's overloads do (int with unsigned is unsigned)
template <typename A, typename B>
inline std::common_type_t<A, B> min(A a, B b) {
  using C = std::common_type_t<A, B>;
  return (C)b < (C)a ? (C)b : (C)a;
}
template <typename A, typename B>
inline std::common_type_t<A, B> max(A a, B b) {
  using C = std::common_type_t<A, B>;
  return (C)a < (C)b ? (C)b : (C)a;
}
inline float rsqrtf(float x) { return 1.f / sqrtf(x); }
inline float __expf(float x) { return expf(x); }
inline float __logf(float x) { return logf(x); }
inline float __fdividef(float a, float b) { return a / b; }
inline float __saturatef(float x) { return x < 0.f ? 0.f : x > 1.f ? 1.f : x; }
inline int __float_as_int(float f) {
  int i;
  memcpy(&i, &f, 4);
  return i;
}
inline float __int_as_float(int i) {
  float f;
  memcpy(&f, &i, 4);
  return f;
}
inline unsigned __float_as_uint(float f) { return (unsigned)__float_as_int(f); }
inline float __uint_as_float(unsigned u) { return __int_as_float((int)u); }

// ---- tensor-core and async-copy instructions (kernels/grouped_bf16.cu under MOE_EMU)
namespace emu {
void* dynamic_shared();
inline void cp_async16(void* dst, const void* src) { memcpy(dst, src, 16); }

// ldmatrix .m8n8.x4(.trans).b16: lanes 8i..8i+7 give the rows of matrix i; lane l gets, of matrix i,
// elements (l/4, 2(l%4)) and (l/4, 2(l%4)+1) — transposed: (2(l%4), l/4) and (2(l%4)+1, l/4).
inline void ldmatrix_x4(uint32_t (&r)[4], const void* p, bool trans) {
  int t = linear_thread(), lane = t % 32;
  Warp& w = warp_of(t / 32);
  Round& round = next_round(w);
  round.slot[lane] = (uint64_t)(uintptr_t)p;
  warp_barrier(0xffffffffu);
  for (int i = 0; i < 4; i++) {
    auto row = [&](int j) { return (const uint16_t*)(uintptr_t)round.slot[8 * i + j]; };
    uint16_t lo, hi;
    if (!trans) {
      lo = row(lane / 4)[2 * (lane % 4)];
      hi = row(lane / 4)[2 * (lane % 4) + 1];
    } else {
      lo = row(2 * (lane % 4))[lane / 4];
      hi = row(2 * (lane % 4) + 1)[lane / 4];
    }
    r[i] = (uint32_t)lo | (uint32_t)hi << 16;
  }
}

inline float bf16_half(uint32_t reg, int h) {
  uint32_t u = (h ? reg >> 16 : reg & 0xffffu) << 16;
  float f;
  memcpy(&f, &u, 4);
  return f;
}

// mma.sync.m16n8k16.row.col.f32.bf16.bf16.f32, d += A·B. Fragments (PTX ISA, "Matrix Fragments for
// mma.m16n8k16"): lane l, g = l/4, c = l%4; A reg r half h is A[g + 8(r%2)][2c + h + 8(r/2)]; B reg r
// half h is B[2c + h + 8r][g]; D element i is D[g + 8(i/2)][2c + i%2].
inline void mma16816(float (&d)[4], const uint32_t (&a)[4], uint32_t b0, uint32_t b1) {
  int t = linear_thread(), lane = t % 32;
  Warp& w = warp_of(t / 32);
  Round& round = next_round(w);
  for (int r = 0; r < 4; r++) round.frag[lane][r] = a[r];
  round.frag[lane][4] = b0;
  round.frag[lane][5] = b1;
  round.unpacked = false;
  warp_barrier(0xffffffffu);
  // the first lane past the barrier unpacks every lane's fragments for all
  float(&A)[16][16] = round.A;
  float(&B)[16][8] = round.B;
  if (!round.unpacked) {
    for (int l = 0; l < 32; l++) {
      int g = l / 4, c = l % 4;
      for (int r = 0; r < 4; r++)
        for (int h = 0; h < 2; h++) A[g + 8 * (r % 2)][2 * c + h + 8 * (r / 2)] = bf16_half(round.frag[l][r], h);
      for (int r = 0; r < 2; r++)
        for (int h = 0; h < 2; h++) B[2 * c + h + 8 * r][g] = bf16_half(round.frag[l][4 + r], h);
    }
    round.unpacked = true;
  }
  int g = lane / 4, c = lane % 4;
  for (int i = 0; i < 4; i++) {
    int row = g + 8 * (i / 2), col = 2 * c + i % 2;
    float s = d[i];
    for (int k = 0; k < 16; k++) s += A[row][k] * B[k][col];
    d[i] = s;
  }
}
}  // namespace emu
