// Shared by the kernel files: warp and block reductions, grid-stride loops.
#pragma once

#include <cuda_bf16.h>

#define WARP 32
#define GRID_STRIDE(i, n) for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < (n); i += (size_t)gridDim.x * blockDim.x)

__device__ __forceinline__ float warp_sum(float v) {
  for (int o = WARP / 2; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
  return v;
}

__device__ __forceinline__ float warp_max(float v) {
  for (int o = WARP / 2; o > 0; o >>= 1) v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, o));
  return v;
}

// A reduction over the block (blockDim a multiple of 32, at most 1024); every thread gets the result.
template <bool MAX>
__device__ float block_reduce(float v) {
  __shared__ float part[WARP];
  __shared__ float total;
  int lane = threadIdx.x % WARP, warp = threadIdx.x / WARP;
  v = MAX ? warp_max(v) : warp_sum(v);
  if (lane == 0) part[warp] = v;
  __syncthreads();
  if (warp == 0) {
    float s = lane < (int)(blockDim.x / WARP) ? part[lane] : (MAX ? -INFINITY : 0.f);
    s = MAX ? warp_max(s) : warp_sum(s);
    if (lane == 0) total = s;
  }
  __syncthreads();
  float r = total;
  __syncthreads();
  return r;
}

__device__ __forceinline__ float block_sum(float v) { return block_reduce<false>(v); }
__device__ __forceinline__ float block_max(float v) { return block_reduce<true>(v); }

// log Σ exp over a row of n values, for every thread of the block
__device__ __forceinline__ float row_lse(const float* z, int n) {
  float mx = -INFINITY;
  for (int i = threadIdx.x; i < n; i += blockDim.x) mx = fmaxf(mx, z[i]);
  mx = block_max(mx);
  float sum = 0.f;
  for (int i = threadIdx.x; i < n; i += blockDim.x) sum += expf(z[i] - mx);
  return mx + logf(block_sum(sum));
}

// A float stored as T (fp32 as is, bf16 rounded to nearest even): kernels that write either precision.
template <typename T>
__device__ __forceinline__ T store_as(float v);
template <>
__device__ __forceinline__ float store_as<float>(float v) { return v; }
template <>
__device__ __forceinline__ __nv_bfloat16 store_as<__nv_bfloat16>(float v) { return __float2bfloat16_rn(v); }
