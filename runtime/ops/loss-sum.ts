/** `loss.sum` (specs/ir.md §4.15): Σ weights[i] · inputs[i] over scalar losses. */
import { readAttrs } from '../../ir/attrs.js';
import { tf } from '../tf.js';
import type { Kernel } from './kernel.js';

export const lossSum: Kernel = ({ inputs, attrs }) => {
  const { weights } = readAttrs('loss.sum', attrs);
  if (weights.length !== inputs.length) {
    throw new Error(`loss.sum needs one number in attribute weights per input (${inputs.length})`);
  }
  if (inputs.length === 0) throw new Error('loss.sum needs at least one input');
  const terms = inputs.map((x, i) => tf.mul(x, weights[i]!));
  return [terms.length === 1 ? terms[0]! : tf.addN(terms)];
};
