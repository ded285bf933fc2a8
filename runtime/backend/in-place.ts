/**
 * Writing a new value into a tensor's own storage. tfjs updates a variable by pointing it at the
 * new value's buffer (`assign`), so on webgpu a parameter lives in a different GPU buffer after
 * every step. A captured step graph (webgpu-graph.ts) replays dispatches bound to fixed buffers, so
 * there the optimizer and the router-bias update must write into the buffers the parameters
 * already have: a buffer-to-buffer copy on the GPU, encoded in order with tfjs's own work. On the
 * other backends nothing is bound to buffers, and the plain tfjs update is kept.
 */
import { tf } from '../tf.js';
import { bufferOf, webgpuBackend, type WebgpuBackendLike } from './webgpu-internals.js';

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

/** Copies `value` into `target`'s GPU buffer (same shape and dtype); neither is disposed. */
function copyInto(backend: WebgpuBackendLike, target: tf.Tensor, value: tf.Tensor): void {
  if (target.size !== value.size || target.dtype !== value.dtype) {
    throw new Error(`in-place update of [${target.shape.join(', ')}] ${target.dtype} with [${value.shape.join(', ')}] ${value.dtype}`);
  }
  const src = bufferOf(backend, value);
  const dst = bufferOf(backend, target);
  if (src === dst) return;
  backend.ensureCommandEncoderReady();
  backend.endComputePassEncoder();
  backend.commandEncoder!.copyBufferToBuffer(src, 0, dst, 0, value.size * 4);
  inPlaceWritten();
  // tfjs must not hand either buffer to another tensor before this copy has been submitted
  backend.commandQueueOwnedIds.add(value.dataId);
  backend.commandQueueOwnedIds.add(target.dataId);
  // a host copy cached by an earlier read is stale now
  backend.tensorMap.get(target.dataId).values = null;
}

/** `variable.assign(value)`, in the variable's own buffer on webgpu. `value` is the caller's to dispose. */
export function assignInPlace(variable: tf.Variable, value: tf.Tensor): void {
  const backend = webgpuBackend();
  if (backend === null) variable.assign(value);
  else copyInto(backend, variable, value);
}

/**
 * Replaces state tensor `old` by `next` and returns the one to keep: on webgpu `old`, now holding
 * `next`'s values (`next` is disposed); elsewhere `next` (`old` is disposed).
 */
export function replaceInPlace(old: tf.Tensor, next: tf.Tensor): tf.Tensor {
  const backend = webgpuBackend();
  if (backend === null) {
    old.dispose();
    return next;
  }
  copyInto(backend, old, next);
  next.dispose();
  return old;
}
