/** `add` (specs/ir.md §4.5): the residual sum of two values of identical shape. */
import { tf } from '../tf.js';
import type { Kernel } from './kernel.js';

export const add: Kernel = ({ inputs }) => {
  const [a, b] = inputs as [tf.Tensor, tf.Tensor];
  // identical shapes are required; tf.add would silently broadcast a mismatch
  if (!tf.util.arraysEqual(a.shape, b.shape)) throw new Error(`add of [${a.shape.join(', ')}] and [${b.shape.join(', ')}]`);
  return [tf.add(a, b)];
};
