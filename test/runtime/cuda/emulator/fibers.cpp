// Runs a kernel's grid on the CPU: blocks one after another; a block's threads as fibers on this one
// OS thread, switched only where a thread waits at a barrier. The switch saves the callee-saved
// registers and the stack pointer (x86-64 System V; ucontext elsewhere): glibc's swapcontext also
// saves the signal mask, a system call each way, which made the checks spend more time in the kernel
// than in the kernels (7 of 15 minutes, measured). A barrier that can never
// open (a __syncthreads some threads skip, a warp collective with missing lanes) would hang a GPU;
// here it is reported with the kernel's name and the launch fails. So is a fault inside a kernel
// (device memory is guarded: driver.cpp), with the block and thread that made it.
#include <signal.h>
#include <stdlib.h>
#include <ucontext.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "emu.h"
#include "host.h"

namespace emu {

#if defined(__x86_64__)
// emu_switch(from, to): saves this fiber's registers on its stack and its stack pointer in *from,
// then resumes the fiber whose stack pointer is `to`
extern "C" void emu_switch(void** from, void* to);
asm(R"(
  .text
  .globl emu_switch
  .hidden emu_switch
  .type emu_switch, @function
emu_switch:
  pushq %rbp
  pushq %rbx
  pushq %r12
  pushq %r13
  pushq %r14
  pushq %r15
  movq %rsp, (%rdi)
  movq %rsi, %rsp
  popq %r15
  popq %r14
  popq %r13
  popq %r12
  popq %rbx
  popq %rbp
  ret
  .size emu_switch, .-emu_switch
)");
struct Context {
  void* sp = nullptr;
};
#else
struct Context {
  ucontext_t uc;
};
#endif

struct Fiber {
  Context ctx;
  char* stack = nullptr;
  dim3 tid;
  int linear = 0;
  bool done = true;
  unsigned collectives = 0;
  // while waiting at a barrier: its generation counter and the value it had (resumed once it moves)
  const unsigned* waitOn = nullptr;
  unsigned waitGen = 0;
};

Grid grid;

namespace {
constexpr size_t STACK_BYTES = 256 * 1024;
constexpr int CUDA_ERROR_INVALID_VALUE = 1;
constexpr int CUDA_ERROR_LAUNCH_FAILED = 719;

Context scheduler;
std::vector<Fiber> fibers;
int threadCount = 0, alive = 0;
int barrierArrived = 0;
unsigned barrierGen = 0;
Warp warps[32];
unsigned long epoch = 0;
Kernel* running = nullptr;
void** runningParams = nullptr;
std::vector<unsigned char> dynamicBuffer;
// MOE_CUDA_EMULATOR_ORDER=reverse runs a block's threads last to first between barriers: a read that
// lacks its barrier then sees the writes of the other order, so a check that passes both ways has no
// such race (a GPU promises neither order). It runs the grid's blocks last to first too, so atomic
// sums over blocks (flash attention's dQ) add in the other order, and a block that counts on an
// earlier block's writes shows
bool reverseOrder = false;

uint32_t need_of(int w, uint32_t mask) { return mask & warps[w].live; }

void release_after_exit(const Fiber& f) {
  if (barrierArrived > 0 && barrierArrived >= alive) {
    barrierArrived = 0;
    barrierGen++;
  }
  Warp& w = warps[f.linear / 32];
  uint32_t need = need_of(f.linear / 32, w.waiting);
  if (w.arrived != 0 && (w.arrived & need) == need) {
    w.arrived = 0;
    w.gen++;
  }
}

void switch_to(Context& from, Context& to) {
#if defined(__x86_64__)
  emu_switch(&from.sp, to.sp);
#else
  swapcontext(&from.uc, &to.uc);
#endif
}

void fiber_main() {
  running->call(runningParams);
  grid.current->done = true;
#if defined(__x86_64__)
  // back to the scheduler for good (this stack is started afresh for the next block)
  switch_to(grid.current->ctx, scheduler);
  __builtin_unreachable();
#endif
}

std::string where() {
  char text[160];
  const Fiber* f = grid.current;
  snprintf(text, sizeof text, "block (%u, %u, %u) thread (%u, %u, %u)", grid.block.x, grid.block.y, grid.block.z, f ? f->tid.x : 0, f ? f->tid.y : 0, f ? f->tid.z : 0);
  return text;
}

// A fault inside a kernel: name it before the process dies (the handler then steps aside, and the
// instruction faults again into the default action). Outside a kernel the fault is not ours.
struct sigaction previous;
char altStack[64 * 1024];

void on_fault(int sig, siginfo_t* info, void*) {
  if (running) {
    std::string line = "cuda emulator: kernel " + running->name + " " + where() + " touched memory outside every allocation (address " + std::to_string((uintptr_t)info->si_addr) + ")\n";
    ssize_t ignored = write(2, line.data(), line.size());
    (void)ignored;
  }
  sigaction(sig, &previous, nullptr);
}

void install_fault_handler() {
  static bool installed = false;
  if (installed) return;
  installed = true;
  stack_t ss{};
  ss.ss_sp = altStack;
  ss.ss_size = sizeof altStack;
  sigaltstack(&ss, nullptr);
  struct sigaction sa{};
  sa.sa_sigaction = on_fault;
  sa.sa_flags = SA_SIGINFO | SA_ONSTACK;
  sigaction(SIGSEGV, &sa, &previous);
}

void start_fiber(Fiber& f, int linear) {
  if (!f.stack) f.stack = static_cast<char*>(malloc(STACK_BYTES));
#if defined(__x86_64__)
  // the stack emu_switch pops: six registers, then fiber_main as the return address, then a null
  // return address for fiber_main itself (so it starts with rsp ≡ 8 mod 16, as after a call)
  auto top = reinterpret_cast<uintptr_t>(f.stack + STACK_BYTES) & ~uintptr_t(15);
  auto* slots = reinterpret_cast<void**>(top) - 8;
  for (int i = 0; i < 6; i++) slots[i] = nullptr;
  slots[6] = reinterpret_cast<void*>(&fiber_main);
  slots[7] = nullptr;
  f.ctx.sp = slots;
#else
  getcontext(&f.ctx.uc);
  f.ctx.uc.uc_stack.ss_sp = f.stack;
  f.ctx.uc.uc_stack.ss_size = STACK_BYTES;
  f.ctx.uc.uc_link = &scheduler.uc;
  makecontext(&f.ctx.uc, fiber_main, 0);
#endif
  f.linear = linear;
  f.tid = {(unsigned)linear % grid.blockSize.x, (unsigned)linear / grid.blockSize.x % grid.blockSize.y, (unsigned)linear / (grid.blockSize.x * grid.blockSize.y)};
  f.done = false;
  f.collectives = 0;
  f.waitOn = nullptr;
}

int run_block() {
  for (int i = 0; i < threadCount; i++) start_fiber(fibers[i], i);
  alive = threadCount;
  barrierArrived = 0;
  for (int w = 0; w < 32; w++) {
    warps[w].arrived = warps[w].waiting = 0;
    int lanes = threadCount - 32 * w;
    warps[w].live = lanes >= 32 ? ~0u : lanes > 0 ? (1u << lanes) - 1u : 0u;
  }
  // shared memory starts as garbage on a GPU: NaN here, so a kernel that reads before it writes shows
  memset(dynamicBuffer.data(), 0xff, dynamicBuffer.size());
  while (alive > 0) {
    unsigned long before = epoch;
    for (int n = 0; n < threadCount; n++) {
      int i = reverseOrder ? threadCount - 1 - n : n;
      Fiber& f = fibers[i];
      if (f.done || (f.waitOn && *f.waitOn == f.waitGen)) continue;
      f.waitOn = nullptr;
      grid.current = &f;
      switch_to(scheduler, f.ctx);
      if (f.done) {
        warps[i / 32].live &= ~(1u << (i % 32));
        alive--;
        epoch++;
        release_after_exit(f);
      }
    }
    if (alive > 0 && epoch == before) {
      int waiting = -1;
      for (int i = 0; i < threadCount && waiting < 0; i++)
        if (!fibers[i].done) waiting = i;
      grid.current = &fibers[waiting];
      report("cuda emulator: kernel " + running->name + " deadlocks: " + std::to_string(alive) + " threads wait at a barrier the others never reach (" + where() + " is one)");
      grid.current = nullptr;
      return CUDA_ERROR_LAUNCH_FAILED;
    }
  }
  grid.current = nullptr;
  return 0;
}
}  // namespace

const dim3& thread_index() { return grid.current->tid; }
int linear_thread() { return grid.current->linear; }
Warp& warp_of(int w) { return warps[w]; }
void* dynamic_shared() { return dynamicBuffer.data(); }

Round& next_round(Warp& w) { return w.round[grid.current->collectives++ % 2]; }

// back to the scheduler, which resumes this fiber once *counter has moved past gen
void wait(const unsigned* counter, unsigned gen) {
  grid.current->waitOn = counter;
  grid.current->waitGen = gen;
  switch_to(grid.current->ctx, scheduler);
}

void block_barrier() {
  unsigned gen = barrierGen;
  if (++barrierArrived >= alive) {
    barrierArrived = 0;
    barrierGen++;
    epoch++;
    return;
  }
  wait(&barrierGen, gen);
}

void warp_barrier(uint32_t mask) {
  int t = linear_thread(), w = t / 32;
  Warp& warp = warps[w];
  unsigned gen = warp.gen;
  warp.arrived |= 1u << (t % 32);
  warp.waiting = mask;
  uint32_t need = need_of(w, mask);
  if ((warp.arrived & need) == need) {
    warp.arrived = 0;
    warp.gen++;
    epoch++;
    return;
  }
  wait(&warp.gen, gen);
}

int run_kernel(Kernel& kernel, unsigned gx, unsigned gy, unsigned gz, unsigned bx, unsigned by, unsigned bz, unsigned sharedBytes, void** params) {
  unsigned threads = bx * by * bz;
  if (gx == 0 || gy == 0 || gz == 0 || threads == 0 || threads > 1024 || (int)sharedBytes > kernel.maxDynamicShared) {
    report("cuda emulator: kernel " + kernel.name + " launched with grid (" + std::to_string(gx) + ", " + std::to_string(gy) + ", " + std::to_string(gz) + "), block of " + std::to_string(threads) + " threads, " + std::to_string(sharedBytes) + " bytes of dynamic shared memory (allowed " + std::to_string(kernel.maxDynamicShared) + ")");
    return CUDA_ERROR_INVALID_VALUE;
  }
  install_fault_handler();
  const char* order = getenv("MOE_CUDA_EMULATOR_ORDER");
  reverseOrder = order && std::string(order) == "reverse";
  if (fibers.size() < threads) fibers.resize(threads);
  threadCount = (int)threads;
  grid.blockSize = {bx, by, bz};
  grid.gridSize = {gx, gy, gz};
  dynamicBuffer.assign(sharedBytes > 0 ? sharedBytes : 1, 0xff);
  running = &kernel;
  runningParams = params;
  int status = 0;
  unsigned long blocks = (unsigned long)gx * gy * gz;
  for (unsigned long n = 0; n < blocks && status == 0; n++) {
    unsigned long b = reverseOrder ? blocks - 1 - n : n;  // x fastest, as a GPU numbers them
    grid.block = {(unsigned)(b % gx), (unsigned)(b / gx % gy), (unsigned)(b / ((unsigned long)gx * gy))};
    status = run_block();
  }
  running = nullptr;
  return status;
}

}  // namespace emu
