/**
 * What a backend offers beyond kernels, as one object per backend (registry.ts): the work that is not
 * one op's arithmetic — capturing and replaying a step's commands, writing into a tensor's own
 * storage, a fused optimizer update. A caller reads the capability it needs and uses it where it is
 * there (`backendCapabilities().graphs`), never the backend's name. A CUDA executor would fill in the
 * same fields.
 */
import type { tf } from '../tf.js';

/** A step's commands, recorded once and replayed on new inputs (webgpu-graph.ts's GpuGraph). */
export interface CommandGraph {
  /** dispatches the graph holds */
  readonly dispatches: number;
  /** whether `state` is still the capture's state, each tensor in the storage it was captured with */
  valid(state: readonly tf.Tensor[]): boolean;
  /** runs the graph again on new inputs (the capture's shapes and dtypes) */
  replay(inputs: readonly tf.Tensor[]): void;
  /** encodes the next replay ahead, while the device runs the current one */
  prepare(): void;
  /** the current values of a tensor the captured function returned */
  read(t: tf.Tensor): Promise<Float32Array | Int32Array>;
  dispose(): void;
}

export interface CaptureSpec {
  /** tensors whose values change from replay to replay: `replay` takes new ones of the same shapes */
  readonly inputs: readonly tf.Tensor[];
  /** tensors the graph reads and updates in place across replays (parameters, optimizer state) */
  readonly state: readonly tf.Tensor[];
}

export interface Captured<T> {
  /** what the function returned, from the real run during the capture */
  readonly result: T;
  /** the replayable graph, or null with `refused` saying why */
  readonly graph: CommandGraph | null;
  readonly refused: string | null;
}

export interface GraphCapture {
  /** runs `fn` as usual while recording its commands as a graph */
  capture<T>(fn: () => T, spec: CaptureSpec): Captured<T>;
  /** resolves when the work submitted so far has finished (timing diagnostics) */
  settled(): Promise<void>;
}

/**
 * Writes into a tensor's own storage, for state a replayed graph reads from fixed places. Where a
 * backend has none, tfjs's own `assign` (a new buffer) is kept.
 */
export interface InPlaceWrites {
  /** copies `value` into `target`'s storage (same shape and dtype); neither is disposed */
  copy(target: tf.Tensor, value: tf.Tensor): void;
  /** writes `fresh` [B, H, t, W] into `cache` [B, H, capacity, W] at the column `at` [1] holds */
  writeColumns(cache: tf.Tensor, fresh: tf.Tensor, at: tf.Tensor1D): void;
}

/** The numbers of one AdamW step as a float32 [4]: gradient scale, decay shrink, √(1 − β₂ᵗ), step size. */
export interface FusedAdamW {
  update(slot: { param: tf.Tensor; m: tf.Tensor; v: tf.Tensor; g: tf.Tensor }, step: tf.Tensor1D, constants: { beta1: number; beta2: number; eps: number }, decay: boolean): void;
}

export interface BackendCapabilities {
  /** tensors live in host memory: a host read of the routers' loads costs little (moe-experts.ts) */
  readonly hostMemory: boolean;
  /** captured command graphs, or null */
  readonly graphs: GraphCapture | null;
  /** in-place writes, or null */
  readonly inPlace: InPlaceWrites | null;
  /** the AdamW update as fused in-place kernels, or null (tfjs ops) */
  readonly adamw: FusedAdamW | null;
}
