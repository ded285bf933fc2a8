/// <reference types="@webgpu/types" />
/**
 * The parts of tfjs-backend-webgpu 4.22's `WebGPUBackend` that in-place updates (in-place.ts) and
 * captured step graphs (webgpu-graph.ts) use. They are not public API: the names were read from
 * the package's dist/tf-backend-webgpu.node.js, and the version is pinned in package.json. Kept in
 * one place so an upgrade has one file to check.
 */
import { tf } from '../tf.js';

export interface TensorDataLike {
  /** host copy: set for a tensor made from host values, and cached after a read */
  values: unknown;
  // undefined until the tensor is first uploaded
  resource: GPUBuffer | null | undefined;
  readonly dtype: string;
  readonly shape: readonly number[];
}

export interface BufferManagerLike {
  readonly freeBuffers: Map<string, GPUBuffer[]>;
  readonly usedBuffers: Map<string, GPUBuffer[]>;
  numUsedBuffers: number;
  numFreeBuffers: number;
  numBytesUsed: number;
  releaseBuffer(buffer: GPUBuffer, reuse?: boolean): void;
}

export interface WebgpuBackendLike {
  readonly device: GPUDevice;
  readonly queue: GPUQueue;
  commandEncoder: GPUCommandEncoder | null;
  computePassEncoder: GPUComputePassEncoder | null;
  commandQueueOwnedIds: WeakSet<object>;
  readonly tensorMap: { get(dataId: object): TensorDataLike };
  readonly bufferManager: BufferManagerLike;
  uploadToGPU(dataId: object): void;
  ensureCommandEncoderReady(): void;
  endComputePassEncoder(): void;
  submitQueue(): void;
}

/** The active backend when it is webgpu, else null. */
export function webgpuBackend(): WebgpuBackendLike | null {
  return tf.getBackend() === 'webgpu' ? (tf.backend() as unknown as WebgpuBackendLike) : null;
}

/** The GPU buffer holding `t`, uploading its host values first if it has none yet. */
export function bufferOf(backend: WebgpuBackendLike, t: tf.TensorInfo): GPUBuffer {
  backend.uploadToGPU(t.dataId);
  const resource = backend.tensorMap.get(t.dataId).resource;
  if (!(resource instanceof GPUBuffer)) throw new Error('a webgpu tensor without a GPU buffer (a texture?)');
  return resource;
}

/** Ends tfjs's open compute pass and submits what it has encoded, so work queued after runs after it. */
export function flushTfjs(backend: WebgpuBackendLike): void {
  if (backend.commandEncoder === null) return;
  backend.endComputePassEncoder();
  backend.submitQueue();
}

/** The key tfjs's buffer pool files a buffer under (BufferManager's getBufferKey). */
export function poolKey(buffer: GPUBuffer): string {
  return `${buffer.size}_${buffer.usage}`;
}

/** The slice of tfjs-backend-webgpu's program interface our own shaders fill in. */
export interface FlatProgram {
  readonly variableNames: readonly string[];
  readonly outputShape: number[];
  readonly shaderKey: string;
  readonly dispatchLayout: { readonly x: number[] };
  readonly dispatch: [number, number, number];
  readonly workgroupSize: [number, number, number];
  readonly size: boolean;
  getUserCode(): string;
}

const WORKGROUP = 64;

/**
 * A shader with one thread per element of `outputShape` (tfjs reshapes the dispatch past the
 * per-dimension limit): `body` runs with `index` below `uniforms.size`, reads the inputs as arrays
 * named by `inputs` and writes `result`. tfjs compiles one pipeline per `key` and shapes.
 */
export function flatProgram(key: string, outputShape: readonly number[], inputs: readonly string[], body: string): FlatProgram {
  const size = outputShape.reduce((a, b) => a * b, 1);
  return {
    variableNames: inputs,
    outputShape: [...outputShape],
    shaderKey: key,
    dispatchLayout: { x: outputShape.map((_, i) => i) },
    dispatch: [Math.ceil(size / WORKGROUP), 1, 1],
    workgroupSize: [WORKGROUP, 1, 1],
    size: true,
    getUserCode: () => `
      fn main(index : i32) {
        if (index < uniforms.size) {
          ${body}
        }
      }`,
  };
}

/**
 * Runs `program` with `output` as its result: the shader writes into that tensor's own buffer (and
 * may read it first through `result`). A host copy cached by an earlier read is dropped.
 */
export function runInPlace(backend: WebgpuBackendLike, program: FlatProgram, inputs: readonly tf.TensorInfo[], output: tf.TensorInfo): void {
  bufferOf(backend, output);
  const runner = backend as unknown as {
    runWebGPUProgram(program: FlatProgram, inputs: tf.TensorInfo[], dtype: 'float32', uniforms: undefined, output: tf.TensorInfo): tf.TensorInfo;
  };
  runner.runWebGPUProgram(program, [...inputs], 'float32', undefined, output);
  backend.tensorMap.get(output.dataId).values = null;
}

/** What a registered program kernel runs: the program, with int32 uniforms in its declared order. */
export interface ProgramRun {
  readonly program: object;
  readonly uniforms?: readonly number[];
  /** the output's dtype (default float32) */
  readonly dtype?: 'float32' | 'int32';
}

/**
 * Registers `name` on webgpu once, as a kernel that runs the program `make` builds for its inputs
 * and attributes; the inputs bind in the order `order` names them (those present), so that tfjs's
 * engine, profiles and captured graphs see our shaders as kernels like its own.
 */
export function registerProgram(
  name: string,
  order: readonly string[],
  make: (inputs: Readonly<Record<string, tf.TensorInfo>>, attrs: Readonly<Record<string, unknown>>) => ProgramRun,
): void {
  if (tf.getKernel(name, 'webgpu')) return;
  tf.registerKernel({
    kernelName: name,
    backendName: 'webgpu',
    kernelFunc: ({ inputs, backend, attrs }) => {
      const named = inputs as Record<string, tf.TensorInfo>;
      const { program, uniforms, dtype = 'float32' } = make(named, attrs as Record<string, unknown>);
      const runner = backend as unknown as {
        runWebGPUProgram(program: object, inputs: tf.TensorInfo[], dtype: string, uniforms?: { type: 'int32'; data: number[] }[]): tf.TensorInfo;
      };
      const bound = order.filter((k) => k in named).map((k) => named[k]!);
      return runner.runWebGPUProgram(program, bound, dtype, uniforms?.map((v) => ({ type: 'int32' as const, data: [v] })));
    },
  });
}

/** Runs a kernel registered with registerProgram (attributes: a plain object of numbers, strings and booleans). */
export function runProgram(name: string, inputs: Readonly<Record<string, tf.Tensor>>, attrs: object = {}): tf.Tensor {
  // tfjs's attribute map holds plain values; the attribute objects of our kernels are
  return tf.engine().runKernel(name, { ...inputs }, attrs as unknown as tf.NamedAttrMap) as tf.Tensor;
}

/** A WGSL f32 literal of x (rounded to float32 as tfjs rounds a scalar). */
export function wgslFloat(x: number): string {
  const s = String(Math.fround(x));
  return /[.eE]/.test(s) ? s : `${s}.0`;
}
