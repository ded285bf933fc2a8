#!/usr/bin/env bash
# Builds bench/cuda/bin/moe-kernels-check from bench/cuda/moe-kernels-check.cu with nvcc, HERE (the
# GPU machine has no compiler; the binary links the CUDA runtime statically, so it needs only the
# driver there). Then, on the GPU machine, from the repository root:
#   ./bench/cuda/bin/moe-kernels-check       (one PASS/FAIL line per check; exit status 1 on any FAIL)
# SASS for sm_90 (H100/H200) and PTX for compute_80, which the driver JIT-compiles on other GPUs.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
mkdir -p "$here/bin"
"${NVCC:-nvcc}" -std=c++17 -O3 -lineinfo \
  -gencode arch=compute_90,code=sm_90 -gencode arch=compute_80,code=compute_80 \
  -o "$here/bin/moe-kernels-check" "$here/moe-kernels-check.cu"
echo "built $here/bin/moe-kernels-check"
