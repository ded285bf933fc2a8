/// <reference types="@webgpu/types" />
/**
 * Captured GPU graphs for the webgpu backend: the WebGPU counterpart of a CUDA Graph.
 *
 * Why: tfjs spends its time on the host, not the GPU. Every op allocates a uniform buffer, writes
 * it, creates a bind group and encodes a dispatch; measured with Dawn on lavapipe
 * (bench/NOTES.md "captured step graphs"), those Dawn calls alone cost about 80 µs a dispatch
 * against 8 µs for re-encoding a dispatch whose pipeline and bind group already exist, and tfjs's
 * own bookkeeping comes on top. A training step of r1-tiny is about 3,600 dispatches.
 *
 * How: `captureGraph` runs a function once through tfjs as usual while recording, below tfjs, every
 * command it encodes: each dispatch with its pipeline, bind-group descriptor and the uniform bytes
 * it saw; every buffer copy; every host upload. Freezing turns that into commands that can be
 * encoded again with no tfjs involvement: each dispatch gets a bind group of its own whose uniform
 * buffer holds the bytes it was recorded with (tfjs reuses uniform buffers from op to op), and each
 * upload becomes a copy from a constant buffer at the same point in the stream. `replay` then
 * copies new input values into the input buffers and re-encodes the whole graph into one command
 * buffer: three Dawn calls per dispatch.
 *
 * What it relies on:
 * - Static work. The function must run the same ops on the same shapes each time, with no host
 *   read inside (a read marks the capture unusable) and no host value baked into a tensor that
 *   should change between replays: such values (the learning rate, the clip factor) must come in
 *   as input tensors.
 * - Fixed buffers. Every buffer the capture touched is pinned: tfjs's pool never hands it to
 *   another tensor while the graph lives (`releaseBuffer` is wrapped for that). State that the
 *   graph reads and writes across replays (parameters, optimizer moments, router biases) must be
 *   updated in place (in-place.ts), and `valid` checks those tensors still own the buffers they had.
 * - tfjs-backend-webgpu's binding layout: binding 0 of a tfjs program is its output, and uniform
 *   buffers carry GPUBufferUsage.UNIFORM. webgpu-internals.ts lists the private fields used.
 */
import type { tf } from '../tf.js';
import { runtimeEnv } from '../config/env.js';
import type { Captured, CaptureSpec, CommandGraph } from './capabilities.js';
import { bufferOf, flushTfjs, poolKey, webgpuBackend, type WebgpuBackendLike } from './webgpu-internals.js';

type Size3 = readonly [number, number, number];

type Command =
  | { readonly kind: 'dispatch'; readonly pipeline: GPUComputePipeline; readonly group: GPUBindGroup; readonly size: Size3 }
  | { readonly kind: 'copy'; readonly src: GPUBuffer; readonly srcOffset: number; readonly dst: GPUBuffer; readonly dstOffset: number; readonly size: number };

type Recorded =
  | { readonly kind: 'dispatch'; readonly pipeline: GPUComputePipeline; readonly descriptor: GPUBindGroupDescriptor; readonly uniforms: ReadonlyMap<GPUBuffer, Uint8Array>; readonly size: Size3 }
  | { readonly kind: 'copy'; readonly src: GPUBuffer; readonly srcOffset: number; readonly dst: GPUBuffer; readonly dstOffset: number; readonly size: number }
  | { readonly kind: 'write'; readonly dst: GPUBuffer; readonly offset: number; readonly bytes: Uint8Array };

/** Why a capture cannot be replayed (the caller goes on without a graph). */
/** Runs `fn` through tfjs as usual and records its GPU work as a graph (see the file comment). */
export function captureGraph<T>(fn: () => T, spec: CaptureSpec): Captured<T> & { readonly graph: GpuGraph | null } {
  const backend = webgpuBackend();
  if (backend === null) throw new Error('captureGraph needs the webgpu backend');
  const inputs = spec.inputs.map((t) => bufferOf(backend, t));
  const state = spec.state.map((t) => bufferOf(backend, t));
  flushTfjs(backend);
  const recorder = new Recorder(backend);
  let result: T;
  try {
    result = fn();
  } finally {
    recorder.stop();
  }
  // submit the capture's own work; tfjs releases the buffers of its disposed tensors here
  flushTfjs(backend);
  if (recorder.refused !== null) return { result, graph: null, refused: recorder.refused };
  const graph = new GpuGraph(backend, recorder.recorded, {
    inputs: spec.inputs.map((t, i) => ({ buffer: inputs[i]!, shape: t.shape, dtype: t.dtype })),
    state: spec.state.map((t, i) => ({ tensor: t, buffer: state[i]! })),
  });
  return { result, graph, refused: null };
}

interface InputSlot {
  readonly buffer: GPUBuffer;
  readonly shape: readonly number[];
  readonly dtype: string;
}

interface StateSlot {
  readonly tensor: tf.Tensor;
  readonly buffer: GPUBuffer;
}

export class GpuGraph implements CommandGraph {
  private readonly commands: Command[] = [];
  /** buffers this graph created (uniforms, upload constants, the read-back staging): destroyed with it */
  private readonly owned: GPUBuffer[] = [];
  private readonly pinnedBuffers: GPUBuffer[];
  private staging: GPUBuffer | null = null;
  /** the next replay's commands, encoded ahead by `prepare` */
  private prepared: GPUCommandBuffer[] | null = null;
  private disposed = false;
  readonly dispatches: number;
  /** commands per submitted command buffer during a replay (MOE_GRAPH_SUBMIT_EVERY, config/env.ts) */
  private readonly submitEvery = runtimeEnv().graphSubmitEvery;

  constructor(
    private readonly backend: WebgpuBackendLike,
    recorded: readonly Recorded[],
    private readonly io: { readonly inputs: readonly InputSlot[]; readonly state: readonly StateSlot[] },
  ) {
    const device = backend.device;
    const uniforms = new Map<string, GPUBuffer>();
    const constant = (bytes: Uint8Array, usage: number): GPUBuffer => {
      const buffer = device.createBuffer({ size: Math.ceil(bytes.length / 4) * 4, usage, mappedAtCreation: true });
      new Uint8Array(buffer.getMappedRange()).set(bytes);
      buffer.unmap();
      this.owned.push(buffer);
      return buffer;
    };
    const uniformFor = (bytes: Uint8Array): GPUBuffer => {
      const key = Buffer.from(bytes).toString('base64');
      let buffer = uniforms.get(key);
      if (!buffer) {
        buffer = constant(bytes, GPUBufferUsage.UNIFORM);
        uniforms.set(key, buffer);
      }
      return buffer;
    };
    const touched = new Set<GPUBuffer>();
    for (const r of recorded) {
      if (r.kind === 'dispatch') {
        const entries = [...(r.descriptor.entries as Iterable<GPUBindGroupEntry>)].map((e): GPUBindGroupEntry => {
          const binding = e.resource as GPUBufferBinding;
          const bytes = binding.buffer ? r.uniforms.get(binding.buffer) : undefined;
          if (bytes === undefined) {
            if (binding.buffer) touched.add(binding.buffer);
            return e;
          }
          return { binding: e.binding, resource: { buffer: uniformFor(bytes), offset: 0, size: binding.size ?? bytes.length } };
        });
        const group = device.createBindGroup({ layout: r.descriptor.layout, entries });
        this.commands.push({ kind: 'dispatch', pipeline: r.pipeline, group, size: r.size });
      } else if (r.kind === 'copy') {
        touched.add(r.src).add(r.dst);
        this.commands.push(r);
      } else {
        touched.add(r.dst);
        const src = constant(r.bytes, GPUBufferUsage.COPY_SRC);
        this.commands.push({ kind: 'copy', src, srcOffset: 0, dst: r.dst, dstOffset: r.offset, size: Math.ceil(r.bytes.length / 4) * 4 });
      }
    }
    for (const s of io.inputs) touched.add(s.buffer);
    this.pinnedBuffers = [...touched];
    pin(backend, this.pinnedBuffers);
    this.dispatches = this.commands.filter((c) => c.kind === 'dispatch').length;
  }

  /** Whether `state` is still the capture's state, each tensor in the buffer the graph was captured with. */
  valid(state: readonly tf.Tensor[]): boolean {
    if (this.disposed || state.length !== this.io.state.length) return false;
    return state.every((t, i) => {
      const slot = this.io.state[i]!;
      return t === slot.tensor && !t.isDisposed && this.backend.tensorMap.get(t.dataId).resource === slot.buffer;
    });
  }

  /** Runs the graph again on new `inputs` (the capture's shapes and dtypes; not disposed). */
  replay(inputs: readonly tf.Tensor[]): void {
    if (this.disposed) throw new Error('replay of a disposed graph');
    if (inputs.length !== this.io.inputs.length) throw new Error(`the graph takes ${this.io.inputs.length} inputs, got ${inputs.length}`);
    const { device, queue } = this.backend;
    const encoder = device.createCommandEncoder();
    inputs.forEach((t, i) => {
      const slot = this.io.inputs[i]!;
      if (t.dtype !== slot.dtype || t.shape.length !== slot.shape.length || t.shape.some((d, k) => d !== slot.shape[k])) {
        throw new Error(`graph input ${i} was [${slot.shape.join(', ')}] ${slot.dtype}, got [${t.shape.join(', ')}] ${t.dtype}`);
      }
      const data = this.backend.tensorMap.get(t.dataId);
      if (data.resource == null && data.values != null) {
        // host values go straight into the graph's input buffer
        const values = data.values as ArrayLike<number>;
        queue.writeBuffer(slot.buffer, 0, t.dtype === 'float32' ? Float32Array.from(values) : Int32Array.from(values));
      } else {
        const src = bufferOf(this.backend, t);
        if (src !== slot.buffer) encoder.copyBufferToBuffer(src, 0, slot.buffer, 0, t.size * 4);
      }
    });
    // tfjs's pending work (whatever wrote the inputs and the state) goes first
    flushTfjs(this.backend);
    if (this.prepared !== null) {
      queue.submit([encoder.finish(), ...this.prepared]);
      this.prepared = null;
    } else {
      // submitted in chunks, so the GPU starts on the first part while the host encodes the rest
      this.encode(encoder, (buffer) => queue.submit([buffer]));
    }
    // a host copy that a read cached (a checkpoint) is stale now
    for (const s of this.io.state) this.backend.tensorMap.get(s.tensor.dataId).values = null;
  }

  /**
   * Encodes the next replay's commands now, so that `replay` only writes its inputs and submits:
   * called while the GPU runs the previous replay (decoding, between submitting a step and reading
   * its logits), the host's encoding, about half of a 0.5B model's decoding step, overlaps the GPU's
   * work instead of preceding it. The command buffers hold no input values; a graph that is not
   * replayed again just drops them.
   */
  prepare(): void {
    if (this.disposed || this.prepared !== null) return;
    const buffers: GPUCommandBuffer[] = [];
    this.encode(this.backend.device.createCommandEncoder(), (buffer) => buffers.push(buffer));
    this.prepared = buffers;
  }

  /** The graph's commands into command buffers of `submitEvery` commands each, starting with `encoder`, each passed to `emit` once finished. */
  private encode(encoder: GPUCommandEncoder, emit: (buffer: GPUCommandBuffer) => void): void {
    let pass: GPUComputePassEncoder | null = null;
    let pipeline: GPUComputePipeline | null = null;
    let encoded = 0;
    for (const c of this.commands) {
      if (++encoded % this.submitEvery === 0) {
        pass?.end();
        pass = null;
        emit(encoder.finish());
        encoder = this.backend.device.createCommandEncoder();
      }
      if (c.kind === 'dispatch') {
        if (pass === null) {
          pass = encoder.beginComputePass();
          pipeline = null;
        }
        if (c.pipeline !== pipeline) pass.setPipeline((pipeline = c.pipeline));
        pass.setBindGroup(0, c.group);
        pass.dispatchWorkgroups(c.size[0], c.size[1], c.size[2]);
      } else {
        pass?.end();
        pass = null;
        encoder.copyBufferToBuffer(c.src, c.srcOffset, c.dst, c.dstOffset, c.size);
      }
    }
    pass?.end();
    emit(encoder.finish());
  }

  /** The current values of `t`, a tensor the captured function returned (read from its buffer, never cached). */
  async read(t: tf.Tensor): Promise<Float32Array | Int32Array> {
    const bytes = t.size * 4;
    const { device, queue } = this.backend;
    if (this.staging === null || this.staging.size < bytes) {
      this.staging?.destroy();
      this.staging = device.createBuffer({ size: bytes, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
    }
    const staging = this.staging;
    const encoder = device.createCommandEncoder();
    encoder.copyBufferToBuffer(bufferOf(this.backend, t), 0, staging, 0, bytes);
    flushTfjs(this.backend);
    queue.submit([encoder.finish()]);
    await staging.mapAsync(GPUMapMode.READ, 0, bytes);
    const copy = staging.getMappedRange(0, bytes).slice(0);
    staging.unmap();
    return t.dtype === 'float32' ? new Float32Array(copy) : new Int32Array(copy);
  }

  /** Unpins the graph's buffers (tfjs may reuse them again) and destroys the ones it created. */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.prepared = null;
    // work already submitted may still read them
    flushTfjs(this.backend);
    unpin(this.backend, this.pinnedBuffers);
    for (const b of this.owned) b.destroy();
    this.staging?.destroy();
  }
}

// ---- recording ----

/** Bytes of a writeBuffer source (ArrayBuffer: offsets in bytes; typed array: in elements). */
function bytesOf(data: ArrayBuffer | ArrayBufferView | SharedArrayBuffer, dataOffset = 0, size?: number): Uint8Array {
  if (data instanceof ArrayBuffer || data instanceof SharedArrayBuffer) {
    return new Uint8Array(data.slice(dataOffset, size === undefined ? undefined : dataOffset + size));
  }
  const view = data as ArrayBufferView & { readonly BYTES_PER_ELEMENT?: number; readonly length?: number };
  const element = view.BYTES_PER_ELEMENT ?? 1;
  const count = size ?? (view.length ?? view.byteLength) - dataOffset;
  return new Uint8Array(view.buffer, view.byteOffset + dataOffset * element, count * element).slice();
}

/**
 * Records the commands tfjs encodes while it is installed, by wrapping the Dawn prototypes' methods
 * (and the backend's upload) and restoring them on `stop`.
 */
class Recorder {
  readonly recorded: Recorded[] = [];
  refused: string | null = null;
  private readonly restore: (() => void)[] = [];
  private readonly descriptors = new WeakMap<GPUBindGroup, GPUBindGroupDescriptor>();
  /** the bytes last written to each uniform buffer */
  private readonly uniformBytes = new Map<GPUBuffer, Uint8Array>();
  private pipeline: GPUComputePipeline | null = null;
  private group: GPUBindGroup | null = null;
  private uploading = false;

  constructor(private readonly backend: WebgpuBackendLike) {
    // eslint-disable-next-line @typescript-eslint/no-this-alias -- the wrappers below need both Dawn's `this` and the recorder
    const self = this;
    this.wrap(GPUDevice.prototype, 'createBindGroup', (original) =>
      function (this: GPUDevice, descriptor: GPUBindGroupDescriptor) {
        const group = original.call(this, descriptor) as GPUBindGroup;
        self.descriptors.set(group, descriptor);
        return group;
      },
    );
    this.wrap(GPUQueue.prototype, 'writeBuffer', (original) =>
      function (this: GPUQueue, buffer: GPUBuffer, offset: number, data: ArrayBuffer | ArrayBufferView, dataOffset?: number, size?: number) {
        const bytes = bytesOf(data, dataOffset, size);
        if ((buffer.usage & GPUBufferUsage.UNIFORM) !== 0 && offset === 0) self.uniformBytes.set(buffer, bytes);
        else self.recorded.push({ kind: 'write', dst: buffer, offset, bytes });
        return original.call(this, buffer, offset, data, dataOffset, size);
      },
    );
    this.wrap(GPUComputePassEncoder.prototype, 'setPipeline', (original) =>
      function (this: GPUComputePassEncoder, pipeline: GPUComputePipeline) {
        self.pipeline = pipeline;
        return original.call(this, pipeline);
      },
    );
    this.wrap(GPUComputePassEncoder.prototype, 'setBindGroup', (original) =>
      function (this: GPUComputePassEncoder, index: number, group: GPUBindGroup, ...rest: unknown[]) {
        if (index !== 0 || rest.length > 0) self.refuse('a bind group other than group 0 without offsets');
        self.group = group;
        return original.call(this, index, group, ...rest);
      },
    );
    this.wrap(GPUComputePassEncoder.prototype, 'dispatchWorkgroups', (original) =>
      function (this: GPUComputePassEncoder, x: number, y = 1, z = 1) {
        self.dispatch([x, y, z]);
        return original.call(this, x, y, z);
      },
    );
    this.wrap(GPUComputePassEncoder.prototype, 'dispatchWorkgroupsIndirect', (original) =>
      function (this: GPUComputePassEncoder, ...args: unknown[]) {
        self.refuse('an indirect dispatch');
        return original.call(this, ...args);
      },
    );
    this.wrap(GPUCommandEncoder.prototype, 'copyBufferToBuffer', (original) =>
      function (this: GPUCommandEncoder, src: GPUBuffer, srcOffset: number, dst: GPUBuffer, dstOffset: number, size: number) {
        if (!self.uploading) self.recorded.push({ kind: 'copy', src, srcOffset, dst, dstOffset, size });
        return original.call(this, src, srcOffset, dst, dstOffset, size);
      },
    );
    this.wrap(GPUBuffer.prototype, 'mapAsync', (original) =>
      function (this: GPUBuffer, ...args: unknown[]) {
        self.refuse('a read of GPU data back to the host');
        return original.call(this, ...args);
      },
    );
    // uploads of host values: recorded as writes of those values (their staging copy is not)
    const upload = backend.uploadToGPU;
    backend.uploadToGPU = (dataId: object): void => {
      const data = backend.tensorMap.get(dataId);
      const values = data.resource == null && data.values != null ? (data.values as ArrayLike<number>) : null;
      this.uploading = true;
      try {
        upload.call(backend, dataId);
      } finally {
        this.uploading = false;
      }
      if (values !== null && data.resource != null) {
        const typed = data.dtype === 'float32' ? Float32Array.from(values) : Int32Array.from(values);
        this.recorded.push({ kind: 'write', dst: data.resource, offset: 0, bytes: new Uint8Array(typed.buffer) });
      }
    };
    this.restore.push(() => {
      backend.uploadToGPU = upload;
    });
  }

  stop(): void {
    for (const undo of this.restore.reverse()) undo();
    this.restore.length = 0;
  }

  private refuse(reason: string): void {
    this.refused ??= reason;
  }

  private dispatch(size: Size3): void {
    const descriptor = this.group === null ? undefined : this.descriptors.get(this.group);
    if (this.pipeline === null || descriptor === undefined) {
      this.refuse('a dispatch whose bind group was made before the capture');
      return;
    }
    const uniforms = new Map<GPUBuffer, Uint8Array>();
    for (const e of descriptor.entries as Iterable<GPUBindGroupEntry>) {
      const buffer = (e.resource as GPUBufferBinding).buffer as GPUBuffer | undefined;
      if (buffer === undefined || (buffer.usage & GPUBufferUsage.UNIFORM) === 0) continue;
      const bytes = this.uniformBytes.get(buffer);
      if (bytes === undefined) this.refuse('a uniform buffer written before the capture');
      else uniforms.set(buffer, bytes);
    }
    this.recorded.push({ kind: 'dispatch', pipeline: this.pipeline, descriptor, uniforms, size });
  }

  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- Dawn's prototypes are patched generically; each wrapper above is typed
  private wrap(proto: any, name: string, make: (original: (...args: any[]) => unknown) => (...args: any[]) => unknown): void {
    const original = proto[name] as (...args: unknown[]) => unknown;
    proto[name] = make(original);
    this.restore.push(() => {
      proto[name] = original;
    });
  }
}

// ---- pinning: buffers a live graph uses stay out of tfjs's pool ----

const pins = new Map<GPUBuffer, number>();
const guarded = new WeakSet<object>();

/** Wraps the pool's release once per backend: a pinned buffer leaves tfjs's books but is never reused. */
function guardPool(backend: WebgpuBackendLike): void {
  const pool = backend.bufferManager;
  if (guarded.has(pool)) return;
  guarded.add(pool);
  const release = pool.releaseBuffer.bind(pool);
  pool.releaseBuffer = (buffer: GPUBuffer, reuse = true): void => {
    if (!pins.has(buffer)) return release(buffer, reuse);
    const used = pool.usedBuffers.get(poolKey(buffer));
    const at = used?.indexOf(buffer) ?? -1;
    if (used && at >= 0) {
      used.splice(at, 1);
      pool.numUsedBuffers--;
      pool.numBytesUsed -= buffer.size;
    }
  };
}

function pin(backend: WebgpuBackendLike, buffers: readonly GPUBuffer[]): void {
  guardPool(backend);
  for (const b of buffers) pins.set(b, (pins.get(b) ?? 0) + 1);
  // the capture's temporaries went back to the free lists when tfjs disposed them: take them out
  const pool = backend.bufferManager;
  for (const [key, free] of pool.freeBuffers) {
    const kept = free.filter((b) => !pins.has(b));
    pool.numFreeBuffers -= free.length - kept.length;
    pool.freeBuffers.set(key, kept);
  }
}

function unpin(backend: WebgpuBackendLike, buffers: readonly GPUBuffer[]): void {
  const pool = backend.bufferManager;
  for (const b of buffers) {
    const n = (pins.get(b) ?? 1) - 1;
    if (n > 0) {
      pins.set(b, n);
      continue;
    }
    pins.delete(b);
    // a buffer no live tensor holds goes back to the pool; one still held is released by tfjs later
    const key = poolKey(b);
    if (pool.usedBuffers.get(key)?.includes(b)) continue;
    const free = pool.freeBuffers.get(key) ?? [];
    free.push(b);
    pool.freeBuffers.set(key, free);
    pool.numFreeBuffers++;
  }
}
