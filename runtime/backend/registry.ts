/**
 * The backend seam. A backend is, for the executor, three things registered under its tfjs name:
 *
 * - kernel overrides keyed by IR op (`registerBackendKernels('cuda', { 'moe.router': … })`): the op's
 *   whole semantics; runtime/ops/index.ts's `kernelFor(op)` returns the active backend's override or
 *   the generic tfjs kernel of runtime/ops/;
 * - fused-op overrides: a fused op is a building block that several IR ops share (RMSNorm, the
 *   SwiGLU gate, the rotary map, the router's selection, the expert products), declared with its
 *   generic tfjs form next to the ops that use it (`fusedOp('rms_norm', generic)`) and overridden
 *   per backend (`rmsnorm.register('webgpu', shaders)`);
 * - capabilities (capabilities.ts): graphs, in-place writes, a fused optimizer.
 *
 * Callers (model/forward.ts, infer/decoder.ts, train/step.ts, the ops) look these up and never test
 * which backend is active. The lookups go by `tf.getBackend()`, so they follow the backend that
 * select.ts activated; select.ts registers a backend's overrides when it starts it.
 */
import { tf } from '../tf.js';
import type { Kernel } from '../ops/kernel.js';
import type { BackendCapabilities } from './capabilities.js';

/** A backend with nothing beyond tfjs's kernels: no graphs, no in-place writes, no fused optimizer. */
const PLAIN: BackendCapabilities = { hostMemory: false, graphs: null, inPlace: null, adamw: null };
const HOST: BackendCapabilities = { ...PLAIN, hostMemory: true };

const capabilities = new Map<string, BackendCapabilities>([
  ['cpu', HOST],
  ['wasm', HOST],
  // tfjs-node-gpu keeps its tensors behind libtensorflow, read through host memory
  ['tensorflow', HOST],
]);

/** Sets what backend `name` offers beyond kernels (select.ts, when it starts the backend). */
export function registerBackendCapabilities(name: string, caps: BackendCapabilities): void {
  capabilities.set(name, caps);
}

/** The active backend's capabilities (a backend nobody registered has none). */
export function backendCapabilities(): BackendCapabilities {
  return capabilities.get(tf.getBackend()) ?? PLAIN;
}

const kernelOverrides = new Map<string, Map<string, Kernel>>();

/** Registers kernels of `backend` for IR ops, replacing the generic ones while it is active. */
export function registerBackendKernels(backend: string, kernels: { readonly [op: string]: Kernel }): void {
  const table = kernelOverrides.get(backend) ?? new Map<string, Kernel>();
  for (const [op, kernel] of Object.entries(kernels)) table.set(op, kernel);
  kernelOverrides.set(backend, table);
}

/** Removes kernels `registerBackendKernels` registered for `backend` (tests). */
export function unregisterBackendKernels(backend: string, ops: readonly string[]): void {
  for (const op of ops) kernelOverrides.get(backend)?.delete(op);
}

/** The active backend's kernel for IR op `op`, or undefined where it keeps the generic one. */
export function kernelOverride(op: string): Kernel | undefined {
  return kernelOverrides.get(tf.getBackend())?.get(op);
}

/** A fused op: callable as its generic form, dispatching to the active backend's override. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- any function type; each handle is typed by its generic form
export type FusedOp<F extends (...args: any[]) => unknown> = F & {
  readonly opName: string;
  /** makes `impl` this op on `backend` */
  register(backend: string, impl: F): void;
};

/** Declares fused op `name` with its generic tfjs form (the default on every backend). */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- see FusedOp
export function fusedOp<F extends (...args: any[]) => unknown>(name: string, generic: F): FusedOp<F> {
  const impls = new Map<string, F>();
  const dispatch = ((...args: Parameters<F>) => (impls.get(tf.getBackend()) ?? generic)(...args)) as F;
  return Object.assign(dispatch, {
    opName: name,
    register(backend: string, impl: F): void {
      impls.set(backend, impl);
    },
  });
}
