/**
 * Writing a new value into a tensor's own storage. tfjs updates a variable by pointing it at the
 * new value's buffer (`assign`), so on webgpu a parameter lives in a different GPU buffer after
 * every step. A captured step graph (webgpu-graph.ts) replays dispatches bound to fixed buffers, so
 * there the optimizer and the router-bias update must write into the buffers the parameters
 * already have (the backend's `inPlace` capability: on webgpu a buffer-to-buffer copy, encoded in
 * order with tfjs's own work, webgpu.ts). On the other backends nothing is bound to buffers, and the
 * plain tfjs update is kept.
 */
import type { tf } from '../tf.js';
import { backendCapabilities } from './registry.js';

let version = 0;

/**
 * A counter every in-place write advances (here, the AdamW shaders, a replayed update graph). A
 * decode graph kept across generations (infer/generate.ts) is reused only while it is unchanged:
 * its cached Wᵀ and the weights' values it was captured with are then still current. Writes of
 * optimizer moments advance it too; that only costs a reuse.
 */
export function inPlaceVersion(): number {
  return version;
}

export function inPlaceWritten(): void {
  version++;
}

/** `variable.assign(value)`, in the variable's own storage where the backend writes in place. `value` is the caller's to dispose. */
export function assignInPlace(variable: tf.Variable, value: tf.Tensor): void {
  const inPlace = backendCapabilities().inPlace;
  if (inPlace === null) variable.assign(value);
  else inPlace.copy(variable, value);
}

/**
 * Replaces state tensor `old` by `next` and returns the one to keep: where the backend writes in
 * place `old`, now holding `next`'s values (`next` is disposed); elsewhere `next` (`old` is disposed).
 */
export function replaceInPlace(old: tf.Tensor, next: tf.Tensor): tf.Tensor {
  const inPlace = backendCapabilities().inPlace;
  if (inPlace === null) {
    old.dispose();
    return next;
  }
  inPlace.copy(old, next);
  next.dispose();
  return old;
}
