#!/usr/bin/env bash
# Installs g++ when it is missing, so test/runtime/cuda/emulator.test.ts can build the CUDA emulator
# (the .cu kernels compiled as C++) and run the cuda device checks on the CPU. Needs root and apt;
# otherwise it says so and those tests skip (they say why).
set -uo pipefail
if command -v "${CXX:-g++}" >/dev/null; then echo "g++: $(${CXX:-g++} --version | head -1)"; exit 0; fi
if [[ $(id -u) -ne 0 ]] || ! command -v apt-get >/dev/null; then
  echo "g++: not installed (needs root and apt-get); the cuda emulator tests will be skipped" >&2
  exit 0
fi
if apt-get update -qq >/dev/null 2>&1 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq g++ >/dev/null 2>&1; then
  echo "g++: installed $(g++ --version | head -1)"
else
  echo "g++: installation failed; the cuda emulator tests will be skipped" >&2
fi
exit 0
