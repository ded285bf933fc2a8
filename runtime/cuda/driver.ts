/**
 * The CUDA driver API through koffi (an FFI with prebuilt binaries: nothing is compiled at install).
 * Only what the executor uses: one context on device 0 (the primary context, shared with any other
 * CUDA user in the process), device memory, PTX modules, kernel launches on one stream. Every call's
 * status is checked; a failure names the call and the driver's own message.
 */
import type { LibraryHandle } from 'koffi';
import { RuntimeError } from '../errors.js';
import { loadKoffi } from './koffi.js';

/** A device address. */
export type DevicePtr = bigint;

/** A kernel argument: a device pointer, a 32-bit int or a 32-bit float. */
export type KernelArg = { readonly ptr: DevicePtr } | { readonly i32: number } | { readonly f32: number } | { readonly u64: bigint };

export const ptr = (p: DevicePtr): KernelArg => ({ ptr: p });
export const i32 = (v: number): KernelArg => ({ i32: v });
export const f32 = (v: number): KernelArg => ({ f32: v });

type Koffi = typeof import('koffi');
/** a bound C function (koffi types them loosely: arguments are checked by koffi at the call) */
type CFunction = ReturnType<LibraryHandle['func']>;

interface Fns {
  readonly [name: string]: CFunction;
}

const SIGNATURES = [
  'int cuInit(unsigned int flags)',
  'int cuDriverGetVersion(_Out_ int *version)',
  'int cuDeviceGet(_Out_ int *device, int ordinal)',
  'int cuDeviceGetCount(_Out_ int *count)',
  'int cuDeviceGetName(_Out_ char *name, int len, int device)',
  'int cuDeviceGetAttribute(_Out_ int *value, int attribute, int device)',
  'int cuDeviceTotalMem_v2(_Out_ size_t *bytes, int device)',
  'int cuDevicePrimaryCtxRetain(_Out_ void **ctx, int device)',
  'int cuCtxSetCurrent(void *ctx)',
  'int cuCtxSynchronize()',
  'int cuStreamCreate(_Out_ void **stream, unsigned int flags)',
  'int cuStreamSynchronize(void *stream)',
  'int cuStreamBeginCapture_v2(void *stream, int mode)',
  'int cuStreamEndCapture(void *stream, _Out_ void **graph)',
  'int cuGraphInstantiateWithFlags(_Out_ void **exec, void *graph, unsigned long long flags)',
  'int cuGraphLaunch(void *exec, void *stream)',
  'int cuGraphExecDestroy(void *exec)',
  'int cuGraphDestroy(void *graph)',
  'int cuMemsetD8Async(uint64_t dst, uint8_t value, size_t count, void *stream)',
  'int cuMemcpyDtoDAsync_v2(uint64_t dst, uint64_t src, size_t bytes, void *stream)',
  'int cuMemGetInfo_v2(_Out_ size_t *free, _Out_ size_t *total)',
  'int cuMemAlloc_v2(_Out_ uint64_t *dptr, size_t bytes)',
  'int cuMemFree_v2(uint64_t dptr)',
  'int cuMemcpyHtoD_v2(uint64_t dst, const void *src, size_t bytes)',
  'int cuMemcpyDtoH_v2(_Out_ void *dst, uint64_t src, size_t bytes)',
  'int cuMemcpyDtoD_v2(uint64_t dst, uint64_t src, size_t bytes)',
  'int cuMemsetD8_v2(uint64_t dst, uint8_t value, size_t count)',
  'int cuModuleLoadData(_Out_ void **module, const char *image)',
  'int cuModuleGetFunction(_Out_ void **fn, void *module, const char *name)',
  'int cuFuncSetAttribute(void *fn, int attribute, int value)',
  'int cuLaunchKernel(void *fn, unsigned int gx, unsigned int gy, unsigned int gz, unsigned int bx, unsigned int by, unsigned int bz, unsigned int smem, void *stream, void *params, void *extra)',
  'int cuGetErrorString(int status, _Out_ const char **text)',
] as const;

const ATTRIBUTE = { computeMajor: 75, computeMinor: 76, multiprocessors: 16, maxSharedPerBlockOptin: 97 } as const;
/** CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES */
const MAX_DYNAMIC_SHARED = 8;
/** CU_STREAM_CAPTURE_MODE_RELAXED: allocation calls elsewhere in the process do not end a capture */
const CAPTURE_RELAXED = 2;

/** A captured CUDA graph: one launch replays every kernel, copy and memset it recorded. */
export interface CapturedGraph {
  launch(): void;
  dispose(): void;
}

export interface DeviceInfo {
  readonly name: string;
  readonly computeCapability: string;
  readonly multiprocessors: number;
  readonly totalBytes: number;
  readonly driverVersion: string;
  readonly maxSharedPerBlock: number;
}

export class CudaDriver {
  private readonly fn: Fns;
  private readonly koffi: Koffi;
  /** one argument block per launch: 8 bytes a value, and the pointer array into it */
  private readonly argValues: unknown;
  private readonly argPointers: unknown;
  private readonly argBase: bigint;
  readonly info: DeviceInfo;
  private readonly ctx: unknown;
  /** the one stream all work goes to (a captured graph needs a stream of its own, not the legacy default) */
  readonly stream: unknown;

  private constructor(koffi: Koffi, lib: LibraryHandle) {
    this.koffi = koffi;
    const fns: Record<string, CFunction> = {};
    for (const sig of SIGNATURES) {
      const name = /\b(cu\w+)\(/.exec(sig)![1]!;
      fns[name] = lib.func(sig);
    }
    this.fn = fns;
    this.check('cuInit', this.fn.cuInit!(0));
    const count = [0];
    this.check('cuDeviceGetCount', this.fn.cuDeviceGetCount!(count));
    if (count[0]! < 1) throw new RuntimeError('the CUDA driver sees no GPU', 'check `nvidia-smi`; in a container, expose the GPU');
    const device = [0];
    this.check('cuDeviceGet', this.fn.cuDeviceGet!(device, 0));
    const ctx = [null];
    this.check('cuDevicePrimaryCtxRetain', this.fn.cuDevicePrimaryCtxRetain!(ctx, device[0]));
    this.ctx = ctx[0];
    this.check('cuCtxSetCurrent', this.fn.cuCtxSetCurrent!(this.ctx));
    this.info = this.readInfo(device[0]!);
    const stream = [null];
    this.check('cuStreamCreate', this.fn.cuStreamCreate!(stream, 0));
    this.stream = stream[0];
    this.argValues = koffi.alloc('uint64_t', 64);
    this.argPointers = koffi.alloc('void *', 64);
    this.argBase = BigInt(koffi.address(this.argValues));
  }

  /** Loads the driver library at `path` and opens device 0; a one-line RuntimeError when it cannot. */
  static async open(path: string): Promise<CudaDriver> {
    const koffi = await loadKoffi();
    let lib: LibraryHandle;
    try {
      lib = koffi.load(path);
    } catch (e) {
      throw new RuntimeError(`the CUDA driver at ${path} could not be loaded: ${(e as Error).message.split('\n')[0]}`);
    }
    return new CudaDriver(koffi, lib);
  }

  private readInfo(device: number): DeviceInfo {
    const attr = (a: number): number => {
      const v = [0];
      this.check('cuDeviceGetAttribute', this.fn.cuDeviceGetAttribute!(v, a, device));
      return v[0]!;
    };
    const name = Buffer.alloc(256);
    this.check('cuDeviceGetName', this.fn.cuDeviceGetName!(name, 256, device));
    const total = [0];
    this.check('cuDeviceTotalMem_v2', this.fn.cuDeviceTotalMem_v2!(total, device));
    const version = [0];
    this.check('cuDriverGetVersion', this.fn.cuDriverGetVersion!(version));
    return {
      name: name.toString('utf8', 0, name.indexOf(0)),
      computeCapability: `${attr(ATTRIBUTE.computeMajor)}.${attr(ATTRIBUTE.computeMinor)}`,
      multiprocessors: attr(ATTRIBUTE.multiprocessors),
      totalBytes: Number(total[0]),
      driverVersion: `${Math.floor(version[0]! / 1000)}.${(version[0]! % 1000) / 10}`,
      maxSharedPerBlock: attr(ATTRIBUTE.maxSharedPerBlockOptin),
    };
  }

  check(call: string, status: number): void {
    if (status === 0) return;
    const text: (string | null)[] = [null];
    this.fn.cuGetErrorString?.(status, text);
    throw new RuntimeError(`CUDA ${call} failed: ${text[0] ?? `error ${status}`}`);
  }

  memInfo(): { free: number; total: number } {
    const free = [0];
    const total = [0];
    this.check('cuMemGetInfo', this.fn.cuMemGetInfo_v2!(free, total));
    return { free: Number(free[0]), total: Number(total[0]) };
  }

  alloc(bytes: number): DevicePtr {
    const out: (number | bigint)[] = [0];
    const status = this.fn.cuMemAlloc_v2!(out, Math.max(bytes, 1)) as number;
    if (status === 2) {
      const { free } = this.memInfo();
      throw new RuntimeError(`out of GPU memory: ${(bytes / 2 ** 20).toFixed(1)} MiB asked for, ${(free / 2 ** 20).toFixed(0)} MiB free`, 'use a smaller batch or sequence length, micro_batches, or recompute');
    }
    this.check('cuMemAlloc', status);
    return BigInt(out[0]!);
  }

  free(p: DevicePtr): void {
    this.check('cuMemFree', this.fn.cuMemFree_v2!(p));
  }

  upload(dst: DevicePtr, src: ArrayBufferView): void {
    this.check('cuMemcpyHtoD', this.fn.cuMemcpyHtoD_v2!(dst, src, src.byteLength));
  }

  download(dst: ArrayBufferView, src: DevicePtr): void {
    this.check('cuMemcpyDtoH', this.fn.cuMemcpyDtoH_v2!(dst, src, dst.byteLength));
  }

  /** Device-to-device copy, queued on the stream (capturable). */
  copy(dst: DevicePtr, src: DevicePtr, bytes: number): void {
    this.check('cuMemcpyDtoDAsync', this.fn.cuMemcpyDtoDAsync_v2!(dst, src, bytes, this.stream));
  }

  /** Zeroes device memory, queued on the stream (capturable). */
  zero(dst: DevicePtr, bytes: number): void {
    this.check('cuMemsetD8Async', this.fn.cuMemsetD8Async!(dst, 0, bytes, this.stream));
  }

  synchronize(): void {
    this.check('cuStreamSynchronize', this.fn.cuStreamSynchronize!(this.stream));
  }

  /** Records everything `work` queues on the stream as a graph (nothing runs), instantiated for replay. */
  capture(work: () => void): CapturedGraph {
    this.check('cuStreamBeginCapture', this.fn.cuStreamBeginCapture_v2!(this.stream, CAPTURE_RELAXED));
    const graph = [null];
    try {
      work();
    } finally {
      this.check('cuStreamEndCapture', this.fn.cuStreamEndCapture!(this.stream, graph));
    }
    const exec = [null];
    this.check('cuGraphInstantiate', this.fn.cuGraphInstantiateWithFlags!(exec, graph[0], 0));
    this.check('cuGraphDestroy', this.fn.cuGraphDestroy!(graph[0]));
    return {
      launch: () => this.check('cuGraphLaunch', this.fn.cuGraphLaunch!(exec[0], this.stream)),
      dispose: () => this.check('cuGraphExecDestroy', this.fn.cuGraphExecDestroy!(exec[0])),
    };
  }

  /** Loads PTX text; returns a function lookup. */
  loadModule(ptx: string): (name: string) => unknown {
    const mod = [null];
    this.check('cuModuleLoadData', this.fn.cuModuleLoadData!(mod, ptx));
    return (name) => {
      const f = [null];
      this.check(`cuModuleGetFunction(${name})`, this.fn.cuModuleGetFunction!(f, mod[0], name));
      return f[0];
    };
  }

  /** Lets a kernel take more than 48 KB of dynamic shared memory. */
  allowSharedMemory(fn: unknown, bytes: number): void {
    this.check('cuFuncSetAttribute', this.fn.cuFuncSetAttribute!(fn, MAX_DYNAMIC_SHARED, bytes));
  }

  launch(fn: unknown, grid: readonly [number, number?, number?], block: number, args: readonly KernelArg[], sharedBytes = 0): void {
    if (args.length > 64) throw new RangeError('at most 64 kernel arguments');
    const k = this.koffi;
    args.forEach((a, i) => {
      const at = i * 8;
      if ('ptr' in a) k.encode(this.argValues, at, 'uint64_t', a.ptr);
      else if ('u64' in a) k.encode(this.argValues, at, 'uint64_t', a.u64);
      else if ('i32' in a) k.encode(this.argValues, at, 'int32_t', a.i32);
      else k.encode(this.argValues, at, 'float', a.f32);
      k.encode(this.argPointers, i * 8, 'uint64_t', this.argBase + BigInt(at));
    });
    const [gx, gy = 1, gz = 1] = grid;
    this.check('cuLaunchKernel', this.fn.cuLaunchKernel!(fn, gx, gy, gz, block, 1, 1, sharedBytes, this.stream, this.argPointers, null));
  }
}
