/**
 * NaN/Inf detection for the loss and the gradients. A bad value must stop (or skip) the step before
 * the optimizer touches the weights, and the message must name the tensor, so the check yields the
 * first non-finite tensor's name in a fixed order (the loss, then the gradients in parameter order).
 *
 * Each tensor is reduced on the device to one flag (any element non-finite); the flags are read in
 * the same transfer as the loss and norm (see step.ts) — a per-tensor read would cost one sync per
 * parameter. The flag counts elements rather than testing a sum of the values: a sum of large but
 * finite values can overflow and would be reported as a NaN that is not there.
 */
import { tf } from '../tf.js';
import { asRows } from './clip.js';

/** [n] float32, 1 where the tensor has any NaN or ±Inf, else 0 (call inside a tidy). */
export function nonFiniteFlags(tensors: readonly tf.Tensor[]): tf.Tensor1D {
  if (tensors.length === 0) return tf.zeros([0]) as tf.Tensor1D;
  // rows first, then the tensor: see asRows
  const flags = tensors.map((t) => tf.cast(tf.any(tf.any(tf.logicalNot(tf.isFinite(asRows(t))), 1)), 'float32'));
  return tf.stack(flags) as tf.Tensor1D;
}

/** The name whose flag is set first, or null. */
export function firstFlagged(names: readonly string[], flags: ArrayLike<number>): string | null {
  for (let i = 0; i < names.length; i++) if (flags[i] !== 0) return names[i]!;
  return null;
}

/** The first tensor in map order holding NaN or Inf, or null; one device read. */
export async function firstNonFinite(named: ReadonlyMap<string, tf.Tensor>): Promise<string | null> {
  const flags = tf.tidy(() => nonFiniteFlags([...named.values()]));
  const data = await flags.data();
  flags.dispose();
  return firstFlagged([...named.keys()], data);
}

/** The message the trainer prints when it stops or skips a step. */
export function nonFiniteMessage(step: number, tensor: string, skipped: boolean): string {
  const what = tensor === 'loss' ? 'the loss' : `the gradient of ${tensor}`;
  return `step ${step}: ${what} is NaN or infinite; ${skipped ? 'the batch was skipped (weights unchanged)' : 'training stopped before the update (weights unchanged)'}`;
}
