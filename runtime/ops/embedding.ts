/**
 * `embedding` (specs/ir.md §4.1): y[…, t, :] = W[ids[…, t + shift], :] when t + shift < T, else 0.
 * With shift k it is MTP module k's input: each position reads the token k steps ahead, and the last
 * k positions, which have no such token, get zero vectors.
 */
import { readAttrs } from '../../ir/attrs.js';
import { tf } from '../tf.js';
import type { Kernel } from './kernel.js';
import { onlyParam } from './linear.js';

/**
 * Rows of `table` for int32 `ids`, with the table's gradient as one scatter-add (tf.scatterND sums
 * duplicate rows). tf.gather's own gradient is UnsortedSegmentSum, which tfjs-backend-cpu runs as
 * one full pass per vocabulary row (O(V·N·D)) and tfjs-backend-wasm does not implement.
 */
export function lookupRows(table: tf.Tensor, ids: tf.Tensor): tf.Tensor {
  const [vocab, dim] = table.shape as [number, number];
  const gather = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const [t, save] = args as [tf.Tensor, tf.GradSaveFunc];
    // saved, not closed over: the tape keeps saved tensors alive after the forward scope disposes ids
    save([ids]);
    return {
      value: tf.gather(t, ids),
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => tf.scatterND(tf.reshape(saved[0]!, [-1, 1]), tf.reshape(dy, [-1, dim]), [vocab, dim]),
    };
  });
  return gather(table);
}

export const embedding: Kernel = ({ inputs, params, attrs }) => {
  const ids = inputs[0]!;
  const table = onlyParam(params, 'embedding');
  const { shift } = readAttrs('embedding', attrs);
  if (ids.dtype !== 'int32') throw new Error(`embedding ids must be int32, found ${ids.dtype}`);
  if (table.rank !== 2) throw new Error(`embedding table must be [vocab, dim], found [${table.shape.join(', ')}]`);
  if (shift === 0) return [lookupRows(table, ids)];
  const axis = ids.rank - 1;
  const time = ids.shape[axis]!;
  // every position is past the end: nothing to look up
  if (shift >= time) return [tf.zeros([...ids.shape, table.shape[1]!])];
  // ids shifted left by `shift` (small int tensor), the vacated tail filled with id 0 ...
  const begin = ids.shape.map((_, i) => (i === axis ? shift : 0));
  const size = ids.shape.map((d, i) => (i === axis ? time - shift : d));
  const tail = ids.shape.map((d, i) => (i === axis ? shift : d));
  const shifted = tf.concat([tf.slice(ids, begin, size), tf.zeros(tail, 'int32')], axis);
  // ... whose rows are then zeroed by a [T, 1] 0/1 factor (also zeroing their gradient)
  const keep = tf.tensor2d(Array.from({ length: time }, (_, t) => (t < time - shift ? 1 : 0)), [time, 1]);
  return [tf.mul(lookupRows(table, shifted), keep)];
};
