// The cuBLASLt calls runtime/cuda/cublaslt.ts makes, on the CPU: column-major D = α·op(A)·op(B) + β·C,
// strided-batched, fp32 or bf16 operands, fp32 outputs, accumulated in fp32 in k order. COMPUTE_32F
// is exact fp32; COMPUTE_32F_FAST_TF32 rounds both operands to TF32 (10 mantissa bits) first, as the
// tensor cores do. Shapes are checked the way cuBLASLt checks them (op(A) is m×k, op(B) k×n, every
// ld at least its rows) and every operand's extent must lie inside one allocation: a product that
// reads or writes past its buffer fails with a line saying which, where a GPU reads a neighbour's
// numbers. β = 0 never reads C (cuBLAS does not either, so C may hold garbage).
#include <cstdint>
#include <cstring>
#include <string>

#include "host.h"

namespace {
constexpr int OK = 0, INVALID_VALUE = 7, NOT_SUPPORTED = 15;
constexpr int R_32F = 0, R_16BF = 14;
constexpr int COMPUTE_32F = 68, COMPUTE_32F_FAST_TF32 = 77;

struct Desc {
  int compute;
  int transa = 0, transb = 0;
};
struct Layout {
  int type;
  uint64_t rows, cols;
  int64_t ld;
  int batch = 1;
  int64_t stride = 0;
};

size_t element_bytes(int type) { return type == R_16BF ? 2 : 4; }

float read(const void* base, int type, size_t index) {
  if (type == R_32F) return static_cast<const float*>(base)[index];
  uint32_t u = (uint32_t) static_cast<const uint16_t*>(base)[index] << 16;
  float f;
  memcpy(&f, &u, 4);
  return f;
}

float tf32(float f) {
  uint32_t u;
  memcpy(&u, &f, 4);
  if ((u & 0x7f800000u) != 0x7f800000u) {
    u += 0xfffu + ((u >> 13) & 1u);
    u &= 0xffffe000u;
  }
  memcpy(&f, &u, 4);
  return f;
}

bool inside(uint64_t p, const Layout& l, const char* name) {
  if (l.rows == 0 || l.cols == 0) return true;
  size_t last = (size_t)((l.cols - 1) * l.ld + l.rows) + (size_t)(l.batch - 1) * (size_t)l.stride;
  if (emu::device_range((const void*)(uintptr_t)p, last * element_bytes(l.type))) return true;
  emu::report(std::string("cuda emulator: cublasLtMatmul's ") + name + " (" + std::to_string(l.rows) + "×" + std::to_string(l.cols) + ", ld " + std::to_string(l.ld) + ", batch " + std::to_string(l.batch) + " stride " + std::to_string(l.stride) + ") reaches outside its allocation");
  return false;
}
}  // namespace

extern "C" {

int cublasLtCreate(void** handle) {
  static int marker;
  *handle = &marker;
  return OK;
}
size_t cublasLtGetVersion() { return 130100; }

int cublasLtMatmulDescCreate(void** desc, int compute, int scale) {
  if ((compute != COMPUTE_32F && compute != COMPUTE_32F_FAST_TF32) || scale != R_32F) {
    emu::report("cuda emulator: cuBLASLt compute type " + std::to_string(compute) + " is not emulated");
    return NOT_SUPPORTED;
  }
  *desc = new Desc{compute};
  return OK;
}

int cublasLtMatmulDescSetAttribute(void* desc, int attr, const void* buf, size_t size) {
  auto* d = static_cast<Desc*>(desc);
  int32_t v;
  if (size != 4) return INVALID_VALUE;
  memcpy(&v, buf, 4);
  if (attr == 3) d->transa = v;
  else if (attr == 4) d->transb = v;
  else {
    emu::report("cuda emulator: cuBLASLt matmul attribute " + std::to_string(attr) + " is not emulated");
    return NOT_SUPPORTED;
  }
  return OK;
}

int cublasLtMatrixLayoutCreate(void** layout, int type, uint64_t rows, uint64_t cols, int64_t ld) {
  if (type != R_32F && type != R_16BF) return NOT_SUPPORTED;
  if (ld < (int64_t)rows) return INVALID_VALUE;
  *layout = new Layout{type, rows, cols, ld};
  return OK;
}

int cublasLtMatrixLayoutSetAttribute(void* layout, int attr, const void* buf, size_t size) {
  auto* l = static_cast<Layout*>(layout);
  if (attr == 5 && size == 4) memcpy(&l->batch, buf, 4);
  else if (attr == 6 && size == 8) memcpy(&l->stride, buf, 8);
  else {
    emu::report("cuda emulator: cuBLASLt layout attribute " + std::to_string(attr) + " is not emulated");
    return NOT_SUPPORTED;
  }
  return l->batch >= 1 ? OK : INVALID_VALUE;
}

int cublasLtMatmulPreferenceCreate(void** pref) {
  static int marker;
  *pref = &marker;
  return OK;
}
int cublasLtMatmulPreferenceSetAttribute(void*, int, const void*, size_t) { return OK; }

int cublasLtMatmulAlgoGetHeuristic(void*, void*, void*, void*, void*, void*, void*, int count, uint8_t* results, int* returned) {
  if (count < 1) return INVALID_VALUE;
  memset(results, 0, 96);
  *returned = 1;
  return OK;
}

int cublasLtMatmul(void*, void* descp, const void* alpha, uint64_t A, void* Adesc, uint64_t B, void* Bdesc, const void* beta, uint64_t C, void* Cdesc, uint64_t D, void* Ddesc, const void*, uint64_t, size_t, void*) {
  const Desc d = *static_cast<Desc*>(descp);
  const Layout a = *static_cast<Layout*>(Adesc), b = *static_cast<Layout*>(Bdesc), c = *static_cast<Layout*>(Cdesc), o = *static_cast<Layout*>(Ddesc);
  uint64_t m = o.rows, n = o.cols, k = d.transa ? a.rows : a.cols;
  bool shapes = (d.transa ? a.cols : a.rows) == m && (d.transb ? b.cols : b.rows) == k && (d.transb ? b.rows : b.cols) == n && c.rows == m && c.cols == n;
  bool batches = a.batch == o.batch && b.batch == o.batch && c.batch == o.batch;
  if (!shapes || !batches || o.type != R_32F || c.type != R_32F) {
    emu::report("cuda emulator: cublasLtMatmul with op(A) " + std::to_string(d.transa ? a.cols : a.rows) + "×" + std::to_string(k) + ", op(B) " + std::to_string(d.transb ? b.cols : b.rows) + "×" + std::to_string(d.transb ? b.rows : b.cols) + ", D " + std::to_string(m) + "×" + std::to_string(n) + ": the shapes, batch counts or output types do not agree");
    return INVALID_VALUE;
  }
  float al, be;
  memcpy(&al, alpha, 4);
  memcpy(&be, beta, 4);
  if (!inside(A, a, "A") || !inside(B, b, "B") || (be != 0.f && !inside(C, c, "C")) || !inside(D, o, "D")) return INVALID_VALUE;
  bool round = d.compute == COMPUTE_32F_FAST_TF32;
  return emu::enqueue([=] {
    for (int batch = 0; batch < o.batch; batch++) {
      const void* pa = (const char*)(uintptr_t)A + (size_t)batch * a.stride * element_bytes(a.type);
      const void* pb = (const char*)(uintptr_t)B + (size_t)batch * b.stride * element_bytes(b.type);
      const float* pc = (const float*)(uintptr_t)C + (size_t)batch * c.stride;
      float* pd = (float*)(uintptr_t)D + (size_t)batch * o.stride;
      for (uint64_t j = 0; j < n; j++)
        for (uint64_t i = 0; i < m; i++) {
          float s = 0.f;
          for (uint64_t p = 0; p < k; p++) {
            float x = read(pa, a.type, d.transa ? p + i * a.ld : i + p * a.ld);
            float y = read(pb, b.type, d.transb ? j + p * b.ld : p + j * b.ld);
            s += round ? tf32(x) * tf32(y) : x * y;
          }
          float prior = be != 0.f ? pc[i + j * c.ld] : 0.f;
          pd[i + j * o.ld] = al * s + (be != 0.f ? be * prior : 0.f);
        }
    }
    return OK;
  });
}

}  // extern "C"
