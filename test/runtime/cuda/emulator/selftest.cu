// Kernels that misbehave on purpose, built into the emulator only: test/runtime/cuda/emulator.test.ts
// checks that each fault is caught and named, as a GPU would hang or read a neighbour's memory.
#include "common.cuh"

// thread 0 waits for its warp while the rest wait for the block: neither barrier can ever open
extern "C" __global__ void emu_selftest_deadlock(float* out) {
  if (threadIdx.x == 0) __syncwarp();
  else __syncthreads();
  out[threadIdx.x] = 1.f;
}

// writes one float past the end of x (n floats, a multiple of 64: the allocation ends at its guard page)
extern "C" __global__ void emu_selftest_overrun(float* x, int n) { x[n] = 1.f; }

// every thread's value summed by the block (the warp shuffles and the shared-memory step of common.cuh)
extern "C" __global__ void emu_selftest_block_sum(const float* x, float* out) {
  float s = block_sum(x[blockIdx.x * blockDim.x + threadIdx.x]);
  if (threadIdx.x == 0) out[blockIdx.x] = s;
}

// The order the grid's blocks ran in: order[k] = the k-th block to run (MOE_CUDA_EMULATOR_ORDER).
extern "C" __global__ void emu_selftest_block_order(int* order, int* next) {
  if (threadIdx.x == 0) order[atomicAdd(next, 1)] = blockIdx.x + blockIdx.y * gridDim.x;
}
