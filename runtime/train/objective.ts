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

/** The parts of the training loss people read apart: next-token, MTP, load-balance and router z losses. */
export type LossPartKind = 'lm' | 'mtp' | 'aux' | 'z';
export type LossParts = Readonly<Record<LossPartKind, number>>;

export interface LossTerm {
  /** the value the graph's `loss.sum` adds */
  readonly value: string;
  /** its weight there */
  readonly weight: number;
  readonly kind: LossPartKind;
}

/**
 * Every term of the graph's loss with its part, told by the op that computes it (value names carry
 * no meaning, specs/ir.md): the model-level cross-entropy is `lm`, one inside a layer `mtp`,
 * `loss.balance` `aux`, `loss.z` `z`. A graph whose loss is no sum has the one `lm` term.
 */
export function lossTerms(model: ModelGraph): LossTerm[] {
  const node = model.nodes.find((n) => n.outputs.includes('loss'));
  if (!node) throw new RuntimeError('the graph has no loss value');
  if (node.op !== 'loss.sum') return [{ value: 'loss', weight: 1, kind: 'lm' }];
  const { weights } = readAttrs('loss.sum', node.attrs);
  return node.inputs.map((value, i) => {
    const producer = model.nodes.find((n) => n.outputs.includes(value));
    const kind = producer?.op === 'loss.cross_entropy' ? (producer.layer === undefined ? 'lm' : 'mtp') : producer?.op === 'loss.balance' ? 'aux' : producer?.op === 'loss.z' ? 'z' : undefined;
    if (kind === undefined) throw new RuntimeError(`the graph's loss adds ${value}, computed by ${producer?.op ?? 'nothing'}: not a loss moe knows how to report`);
    return { value, weight: weights[i]!, kind };
  });
}

/**
 * Each part as the loss counts it (weight × value, summed per part): they add up to the loss.
 * With a scheduled MTP weight λ each MTP term weighs λ/D, as in `reweightedLoss`.
 */
export function lossParts(terms: readonly LossTerm[], values: readonly number[], mtpWeight?: number): LossParts {
  const parts = { lm: 0, mtp: 0, aux: 0, z: 0 };
  const depth = terms.filter((t) => t.kind === 'mtp').length;
  terms.forEach((t, i) => {
    const weight = t.kind === 'mtp' && mtpWeight !== undefined ? mtpWeight / depth : t.weight;
    parts[t.kind] += weight * values[i]!;
  });
  return parts;
}
