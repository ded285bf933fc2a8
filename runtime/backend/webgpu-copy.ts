/**
 * Copying one tensor's values into another's own GPU buffer on webgpu: the in-place write that
 * replayed graphs need (in-place.ts, through the `inPlace` capability of webgpu.ts).
 */
import type { tf } from '../tf.js';
import { inPlaceWritten } from './in-place.js';
import { bufferOf, type WebgpuBackendLike } from './webgpu-internals.js';

/** Copies `value` into `target`'s GPU buffer (same shape and dtype); neither is disposed. */
export function copyInto(backend: WebgpuBackendLike, target: tf.Tensor, value: tf.Tensor): void {
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

