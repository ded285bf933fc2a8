// Tensor-core building blocks shared by the bf16 kernels (grouped_bf16.cu, flash.cu): mma.sync
// m16n8k16 bf16 with fp32 accumulators, ldmatrix and cp.async (sm_80+; the PTX stays compute_80).
// Under MOE_EMU the CPU emulator (test/runtime/cuda/emulator/emu.h) supplies the same instructions.
//
// Fragment layouts (PTX ISA, "Matrix Fragments for mma.m16n8k16"), lane l, g = l/4, c = l%4: A reg r
// half h is A[g + 8(r%2)][2c + h + 8(r/2)]; B reg r half h is B[2c + h + 8r][g]; accumulator element i
// is D[g + 8(i/2)][2c + i%2]. So two neighbouring 16×8 accumulators, packed to bf16, are the A
// fragment of the next product (flash.cu's P·V).
#pragma once

#include <cuda_bf16.h>
#include <stdint.h>
#include <string.h>

namespace tc {

typedef __nv_bfloat16 bf16;

#ifndef MOE_EMU
__device__ __forceinline__ uint32_t smem_addr(const void* p) { return (uint32_t)__cvta_generic_to_shared(p); }

__device__ __forceinline__ void cp_async16(void* dst, const void* src) {
  asm volatile("cp.async.cg.shared.global [%0], [%1], 16;\n" ::"r"(smem_addr(dst)), "l"(src));
}
__device__ __forceinline__ void cp_async_commit() { asm volatile("cp.async.commit_group;\n" ::); }
template <int N>
__device__ __forceinline__ void cp_async_wait() { asm volatile("cp.async.wait_group %0;\n" ::"n"(N)); }

__device__ __forceinline__ void ldsm_x4(uint32_t (&r)[4], const void* p) {
  asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0,%1,%2,%3}, [%4];\n" : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3]) : "r"(smem_addr(p)));
}
__device__ __forceinline__ void ldsm_x4_t(uint32_t (&r)[4], const void* p) {
  asm volatile("ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16 {%0,%1,%2,%3}, [%4];\n" : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3]) : "r"(smem_addr(p)));
}

// d += a·b, one 16×8×16 product (A row-major 16×16, B column-major 16×8, fp32 accumulators)
__device__ __forceinline__ void mma16816(float (&d)[4], const uint32_t (&a)[4], uint32_t b0, uint32_t b1) {
  asm volatile("mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, {%0,%1,%2,%3};\n"
               : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
               : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
}
#else
__device__ __forceinline__ void cp_async16(void* dst, const void* src) { emu::cp_async16(dst, src); }
__device__ __forceinline__ void cp_async_commit() {}
template <int N>
__device__ __forceinline__ void cp_async_wait() {}
__device__ __forceinline__ void ldsm_x4(uint32_t (&r)[4], const void* p) { emu::ldmatrix_x4(r, p, false); }
__device__ __forceinline__ void ldsm_x4_t(uint32_t (&r)[4], const void* p) { emu::ldmatrix_x4(r, p, true); }
__device__ __forceinline__ void mma16816(float (&d)[4], const uint32_t (&a)[4], uint32_t b0, uint32_t b1) { emu::mma16816(d, a, b0, b1); }
#endif

// Two floats as one bf16x2 register: `lo` in the low half (the fragment's even column).
__device__ __forceinline__ uint32_t pack_bf16(float lo, float hi) {
  bf16 pair[2] = {__float2bfloat16_rn(lo), __float2bfloat16_rn(hi)};
  uint32_t r;
  memcpy(&r, pair, 4);
  return r;
}

// Fragments from a padded shared tile of pitch `ld` (bf16), every row address 16-byte aligned.
// A (16×16 at (m, k)) from a tile stored [m][k], or with A_T from one stored [k][m].
template <bool A_T>
__device__ __forceinline__ void load_a(uint32_t (&a)[4], const bf16* s, int ld, int m, int k) {
  int lane = threadIdx.x % 32;
  if (A_T) ldsm_x4_t(a, s + (k + lane % 8 + (lane / 16) * 8) * ld + m + ((lane / 8) % 2) * 8);
  else ldsm_x4(a, s + (m + lane % 16) * ld + k + (lane / 16) * 8);
}

// B for two 16×8 products (16 deep at k, columns n..n+15): b[0], b[1] for n..n+7, b[2], b[3] for
// n+8..n+15; from a tile stored [n][k], or with B_T from one stored [k][n].
template <bool B_T>
__device__ __forceinline__ void load_b(uint32_t (&b)[4], const bf16* s, int ld, int k, int n) {
  int lane = threadIdx.x % 32;
  if (B_T) ldsm_x4_t(b, s + (k + lane % 8 + ((lane / 8) % 2) * 8) * ld + n + (lane / 16) * 8);
  else ldsm_x4(b, s + (n + lane % 8 + (lane / 16) * 8) * ld + k + ((lane / 8) % 2) * 8);
}

}  // namespace tc
