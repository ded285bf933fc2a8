// The host side of the CUDA emulator, shared by driver.cpp, cublaslt.cpp and the generated kernel
// files: the kernel registry, and the stream that either runs work now or records it into a graph.
#pragma once

#include <cstddef>
#include <functional>
#include <string>
#include <vector>

namespace emu {

/** Calls a kernel with its arguments unpacked from cuLaunchKernel's array of pointers. */
using Trampoline = void (*)(void** params);

struct Kernel {
  std::string name;
  Trampoline call;
  std::vector<size_t> paramSizes;
  int maxDynamicShared = 48 * 1024;
};

/** Generated kernel files register each `extern "C" __global__` function at load time. */
struct Registrar {
  Registrar(const char* name, Trampoline call, std::vector<size_t> paramSizes);
};

Kernel* find_kernel(const std::string& name);

/** Work on the one stream: run now, or appended to the graph being captured. Returns a CUresult. */
int enqueue(std::function<int()> work);
bool capturing();

/** Runs a kernel over a grid (blocks one after another, threads as fibers); a CUresult. */
int run_kernel(Kernel& kernel, unsigned gx, unsigned gy, unsigned gz, unsigned bx, unsigned by, unsigned bz, unsigned sharedBytes, void** params);

/** Whether [p, p + bytes) lies inside one live allocation (emulated device memory). */
bool device_range(const void* p, size_t bytes);

/** One line to stderr: the emulator's account of what went wrong (the CUresult says the rest). */
void report(const std::string& line);

}  // namespace emu
