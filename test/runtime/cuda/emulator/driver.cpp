// The CUDA driver API the executor calls (runtime/cuda/driver.ts SIGNATURES), on the CPU. Device
// memory is host memory: each allocation between two inaccessible pages (an overrun faults, and
// fibers.cpp names the kernel), filled with 0xff bytes at allocation (NaN as floats, -1 as ints), so
// a step that reads memory it never wrote shows instead of reading the zeros a fresh GPU often has.
// Modules are PTX text: its `.entry` names are looked up among the kernels compiled from the same
// .cu sources (a PTX that names a kernel the sources lack fails to load). One stream; work runs when
// queued, or is recorded while the stream captures, and a graph launch replays the record. Calls the
// stream forbids while capturing (synchronous copies) fail as they do on a GPU.
#include <sys/mman.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstring>
#include <map>
#include <memory>
#include <regex>
#include <set>
#include <string>
#include <vector>

#include "host.h"

namespace emu {
namespace {
constexpr int SUCCESS = 0, INVALID_VALUE = 1, OUT_OF_MEMORY = 2, INVALID_IMAGE = 200, INVALID_HANDLE = 400, NOT_FOUND = 500, ILLEGAL_STATE = 401, CAPTURE_IMPLICIT = 906;
constexpr size_t TOTAL_BYTES = size_t(8) << 30;
constexpr size_t ALIGN = 256;

std::map<std::string, Kernel>& registry() {
  static std::map<std::string, Kernel> kernels;
  return kernels;
}

struct Allocation {
  char* mapping;
  size_t mappingBytes;
  size_t bytes;
};
std::map<uintptr_t, Allocation> allocations;
size_t allocated = 0;

using Ops = std::vector<std::function<int()>>;
bool isCapturing = false;
Ops captured;

struct Module {
  std::set<std::string> entries;
};

int stream_marker, context_marker;

}  // namespace

Registrar::Registrar(const char* name, Trampoline call, std::vector<size_t> paramSizes) {
  registry()[name] = Kernel{name, call, std::move(paramSizes)};
}

Kernel* find_kernel(const std::string& name) {
  auto it = registry().find(name);
  return it == registry().end() ? nullptr : &it->second;
}

bool capturing() { return isCapturing; }

int enqueue(std::function<int()> work) {
  if (isCapturing) {
    captured.push_back(std::move(work));
    return SUCCESS;
  }
  return work();
}

bool device_range(const void* p, size_t bytes) {
  uintptr_t base = (uintptr_t)p;
  auto it = allocations.upper_bound(base);
  if (it == allocations.begin()) return false;
  --it;
  return base >= it->first && base + bytes <= it->first + it->second.bytes;
}

void report(const std::string& line) { fprintf(stderr, "%s\n", line.c_str()); }

}  // namespace emu

using namespace emu;

extern "C" {

int cuInit(unsigned) { return SUCCESS; }
int cuDriverGetVersion(int* v) {
  *v = 13000;
  return SUCCESS;
}
int cuDeviceGetCount(int* n) {
  *n = 1;
  return SUCCESS;
}
int cuDeviceGet(int* d, int ordinal) {
  *d = ordinal;
  return ordinal == 0 ? SUCCESS : INVALID_VALUE;
}
int cuDeviceGetName(char* name, int len, int) {
  snprintf(name, (size_t)len, "moe CUDA emulator (CPU)");
  return SUCCESS;
}
int cuDeviceGetAttribute(int* value, int attribute, int) {
  switch (attribute) {
    case 75: *value = 9; break;       // compute capability major: Hopper, so bf16 paths run
    case 76: *value = 0; break;
    case 16: *value = 4; break;       // multiprocessors
    case 97: *value = 232448; break;  // shared memory per block with opt-in, as an H100
    default: *value = 0;
  }
  return SUCCESS;
}
int cuDeviceTotalMem_v2(size_t* bytes, int) {
  *bytes = TOTAL_BYTES;
  return SUCCESS;
}
int cuDevicePrimaryCtxRetain(void** ctx, int) {
  *ctx = &context_marker;
  return SUCCESS;
}
int cuCtxSetCurrent(void*) { return SUCCESS; }
int cuCtxSynchronize() { return SUCCESS; }
int cuStreamCreate(void** stream, unsigned) {
  *stream = &stream_marker;
  return SUCCESS;
}
int cuStreamSynchronize(void*) { return isCapturing ? CAPTURE_IMPLICIT : SUCCESS; }

int cuStreamBeginCapture_v2(void*, int) {
  if (isCapturing) return ILLEGAL_STATE;
  isCapturing = true;
  captured.clear();
  return SUCCESS;
}
int cuStreamEndCapture(void*, void** graph) {
  if (!isCapturing) return ILLEGAL_STATE;
  isCapturing = false;
  *graph = new Ops(std::move(captured));
  captured = Ops();
  return SUCCESS;
}
int cuGraphInstantiateWithFlags(void** exec, void* graph, unsigned long long) {
  *exec = new Ops(*static_cast<Ops*>(graph));
  return SUCCESS;
}
int cuGraphLaunch(void* exec, void*) {
  if (isCapturing) return CAPTURE_IMPLICIT;
  for (auto& op : *static_cast<Ops*>(exec)) {
    int status = op();
    if (status != SUCCESS) return status;
  }
  return SUCCESS;
}
int cuGraphExecDestroy(void* exec) {
  delete static_cast<Ops*>(exec);
  return SUCCESS;
}
int cuGraphDestroy(void* graph) {
  delete static_cast<Ops*>(graph);
  return SUCCESS;
}

int cuMemGetInfo_v2(size_t* free, size_t* total) {
  *total = TOTAL_BYTES;
  *free = TOTAL_BYTES - allocated;
  return SUCCESS;
}

int cuMemAlloc_v2(uint64_t* dptr, size_t bytes) {
  if (bytes == 0) return INVALID_VALUE;
  if (allocated + bytes > TOTAL_BYTES) return OUT_OF_MEMORY;
  size_t page = (size_t)sysconf(_SC_PAGESIZE);
  size_t body = (bytes + ALIGN - 1) / ALIGN * ALIGN;
  size_t inner = (body + page - 1) / page * page;
  size_t total = inner + 2 * page;
  void* m = mmap(nullptr, total, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (m == MAP_FAILED) return OUT_OF_MEMORY;
  char* mapping = static_cast<char*>(m);
  mprotect(mapping, page, PROT_NONE);
  mprotect(mapping + page + inner, page, PROT_NONE);
  // the allocation ends where the guard page starts (to ALIGN): an overrun by more than its slack faults
  char* start = mapping + page + inner - body;
  memset(start, 0xff, body);
  allocations[(uintptr_t)start] = {mapping, total, bytes};
  allocated += bytes;
  *dptr = (uint64_t)(uintptr_t)start;
  return SUCCESS;
}

int cuMemFree_v2(uint64_t dptr) {
  auto it = allocations.find((uintptr_t)dptr);
  if (it == allocations.end()) return INVALID_VALUE;
  allocated -= it->second.bytes;
  munmap(it->second.mapping, it->second.mappingBytes);
  allocations.erase(it);
  return SUCCESS;
}

static int check_range(uint64_t p, size_t bytes, const char* call) {
  if (bytes == 0 || device_range((const void*)(uintptr_t)p, bytes)) return SUCCESS;
  report(std::string("cuda emulator: ") + call + " of " + std::to_string(bytes) + " bytes at an address outside every allocation");
  return INVALID_VALUE;
}

int cuMemcpyHtoD_v2(uint64_t dst, const void* src, size_t bytes) {
  if (isCapturing) return CAPTURE_IMPLICIT;
  if (int s = check_range(dst, bytes, "cuMemcpyHtoD")) return s;
  memcpy((void*)(uintptr_t)dst, src, bytes);
  return SUCCESS;
}
int cuMemcpyDtoH_v2(void* dst, uint64_t src, size_t bytes) {
  if (isCapturing) return CAPTURE_IMPLICIT;
  if (int s = check_range(src, bytes, "cuMemcpyDtoH")) return s;
  memcpy(dst, (const void*)(uintptr_t)src, bytes);
  return SUCCESS;
}
int cuMemcpyDtoD_v2(uint64_t dst, uint64_t src, size_t bytes) {
  if (isCapturing) return CAPTURE_IMPLICIT;
  if (int s = check_range(dst, bytes, "cuMemcpyDtoD")) return s;
  if (int s = check_range(src, bytes, "cuMemcpyDtoD")) return s;
  memmove((void*)(uintptr_t)dst, (const void*)(uintptr_t)src, bytes);
  return SUCCESS;
}
int cuMemsetD8_v2(uint64_t dst, uint8_t value, size_t count) {
  if (isCapturing) return CAPTURE_IMPLICIT;
  if (int s = check_range(dst, count, "cuMemsetD8")) return s;
  memset((void*)(uintptr_t)dst, value, count);
  return SUCCESS;
}
int cuMemcpyDtoDAsync_v2(uint64_t dst, uint64_t src, size_t bytes, void*) {
  if (int s = check_range(dst, bytes, "cuMemcpyDtoDAsync")) return s;
  if (int s = check_range(src, bytes, "cuMemcpyDtoDAsync")) return s;
  return enqueue([=] {
    memmove((void*)(uintptr_t)dst, (const void*)(uintptr_t)src, bytes);
    return SUCCESS;
  });
}
int cuMemsetD8Async(uint64_t dst, uint8_t value, size_t count, void*) {
  if (int s = check_range(dst, count, "cuMemsetD8Async")) return s;
  return enqueue([=] {
    memset((void*)(uintptr_t)dst, value, count);
    return SUCCESS;
  });
}

int cuModuleLoadData(void** module, const char* image) {
  auto* m = new Module();
  static const std::regex entry(R"(\.entry\s+([A-Za-z_][A-Za-z0-9_]*)\s*\()");
  std::string text(image);
  for (auto it = std::sregex_iterator(text.begin(), text.end(), entry); it != std::sregex_iterator(); ++it) {
    std::string name = (*it)[1];
    if (!find_kernel(name)) {
      report("cuda emulator: the PTX names kernel " + name + ", which the emulator's build of the .cu sources lacks (rebuild it)");
      delete m;
      return INVALID_IMAGE;
    }
    m->entries.insert(name);
  }
  if (m->entries.empty()) {
    delete m;
    return INVALID_IMAGE;
  }
  *module = m;
  return SUCCESS;
}

int cuModuleGetFunction(void** fn, void* module, const char* name) {
  auto* m = static_cast<Module*>(module);
  if (!m) return INVALID_HANDLE;
  if (!m->entries.count(name)) return NOT_FOUND;
  *fn = find_kernel(name);
  return SUCCESS;
}

int cuFuncSetAttribute(void* fn, int attribute, int value) {
  auto* k = static_cast<Kernel*>(fn);
  if (!k) return INVALID_HANDLE;
  if (attribute == 8) {  // CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES
    if (value > 232448) return INVALID_VALUE;
    k->maxDynamicShared = value;
  }
  return SUCCESS;
}

int cuLaunchKernel(void* fn, unsigned gx, unsigned gy, unsigned gz, unsigned bx, unsigned by, unsigned bz, unsigned smem, void*, void** params, void** extra) {
  auto* k = static_cast<Kernel*>(fn);
  if (!k || extra) return INVALID_VALUE;
  // the arguments are copied now, as the driver does: the caller reuses its argument block at once
  auto values = std::make_shared<std::vector<std::vector<unsigned char>>>();
  for (size_t i = 0; i < k->paramSizes.size(); i++) {
    const auto* p = static_cast<const unsigned char*>(params[i]);
    values->emplace_back(p, p + k->paramSizes[i]);
  }
  return enqueue([=] {
    std::vector<void*> pointers;
    for (auto& v : *values) pointers.push_back(v.data());
    return run_kernel(*k, gx, gy, gz, bx, by, bz, smem, pointers.data());
  });
}

int cuGetErrorString(int status, const char** text) {
  switch (status) {
    case SUCCESS: *text = "no error"; break;
    case INVALID_VALUE: *text = "invalid argument"; break;
    case OUT_OF_MEMORY: *text = "out of memory"; break;
    case INVALID_IMAGE: *text = "device kernel image is invalid"; break;
    case INVALID_HANDLE: *text = "invalid resource handle"; break;
    case ILLEGAL_STATE: *text = "the operation cannot be performed in the present state"; break;
    case NOT_FOUND: *text = "named symbol not found"; break;
    case 719: *text = "unspecified launch failure"; break;
    case CAPTURE_IMPLICIT: *text = "operation would make the legacy stream depend on a capturing blocking stream"; break;
    default: *text = "unknown error";
  }
  return SUCCESS;
}

}  // extern "C"
