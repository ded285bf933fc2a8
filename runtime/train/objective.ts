/**
 * The training objective with the MTP weight λ taken from a schedule instead of the graph. The
 * lowering writes λ into the final `loss.sum` node as weight λ/D for each `mtp.k.loss` (D = depth);
 * rather than re-evaluating the sum, the difference is added to the graph's loss:
 *
 *   loss' = loss + Σ_k (λ/D − w_k) · mtp.k.loss
 *
 * which is exact and keeps every other term (balance, z losses) as the graph combines them.
 */
import { readAttrs } from '../../ir/attrs.js';
import type { ModelGraph } from '../../ir/types.js';
import { RuntimeError } from '../errors.js';
import { tf } from '../tf.js';

export interface MtpTerm {
  /** the value name, `mtp.k.loss` */
  readonly value: string;
  /** its weight in the graph's `loss.sum` */
  readonly weight: number;
}

/** The MTP losses the graph's `loss` sums, with their weights; empty without MTP. */
export function mtpTerms(model: ModelGraph): MtpTerm[] {
  const node = model.nodes.find((n) => n.outputs.includes('loss'));
  if (!node) throw new RuntimeError('the graph has no loss value');
  if (node.op !== 'loss.sum') return [];
  const { weights } = readAttrs('loss.sum', node.attrs);
  // an MTP loss is a cross-entropy inside a layer (the main loss is model-level, specs/ir.md §1.6)
  const mtpLosses = new Set(model.nodes.filter((n) => n.op === 'loss.cross_entropy' && n.layer !== undefined).flatMap((n) => n.outputs));
  const terms: MtpTerm[] = [];
  node.inputs.forEach((value, i) => {
    if (mtpLosses.has(value)) terms.push({ value, weight: weights[i]! });
  });
  return terms;
}

/** The loss with λ replaced (call inside the gradient closure); `values` must hold `loss` and every term. */
export function reweightedLoss(values: ReadonlyMap<string, tf.Tensor>, terms: readonly MtpTerm[], lambda: number): tf.Scalar {
  let loss = values.get('loss') as tf.Scalar;
  const each = terms.length === 0 ? 0 : lambda / terms.length;
  for (const t of terms) {
    const delta = each - t.weight;
    if (delta !== 0) loss = tf.add(loss, tf.mul(values.get(t.value)!, delta));
  }
  return loss;
}
