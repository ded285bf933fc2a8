/**
 * Gradient accumulation (`parallel { micro_batches = M }`, specs/ir.md §5.1): the step's batch is
 * split into M equal row blocks, each is forwarded and differentiated on its own (so only one
 * micro-batch's activations are alive at a time), the gradients are summed, and then ONE clip, ONE
 * AdamW step and ONE router bias update run, as in trainStep.
 *
 * The objective of micro-batch i is weighted so the summed gradient is the whole batch's:
 *
 *   L'_i = L_i / M + Σ_k w_k · (d_k,i / D_k − 1 / M) · CE_k,i
 *
 * where the CE_k are the objective's cross-entropies (main and MTP, weight w_k in `loss.sum`),
 * d_k,i the sum of the mask weights of micro-batch i's counted positions for CE_k's shift, and D_k
 * the whole batch's. Σ_i L'_i = Σ_k w_k · CE_k(batch) + the mean over micro-batches of the
 * per-evaluation terms (balance and z losses): exact for the z loss and the sequence-wise balance
 * loss (both means over equal row blocks), a mean of per-micro-batch values for a batch-wise
 * balance loss (as Megatron and HF accumulate it). The router loads are summed over the
 * micro-batches (§5). Captured step graphs (webgpu) are not used: each micro-batch runs plainly.
 */
import { readAttrs } from '../../ir/attrs.js';
import type { ModelGraph } from '../../ir/types.js';
import { RuntimeError } from '../errors.js';
import { forward } from '../model/forward.js';
import type { ParamStore } from '../model/params.js';
import { tf } from '../tf.js';
import type { AdamW } from './adamw.js';
import { updateRouterBiases } from './bias.js';
import { clipScale, gradNormSquared } from './clip.js';
import type { TrainBatch } from './batch.js';
import { firstFlagged, nonFiniteFlags } from './finite.js';
import { reweightedLoss } from './objective.js';
import type { StepOptions, StepPlan, StepResult } from './step.js';

/** A cross-entropy term of the objective: its value, its weight in `loss.sum` and its shift. */
export interface CrossEntropyTerm {
  readonly value: string;
  readonly weight: number;
  readonly shift: number;
}

/** The objective's cross-entropy terms (the main loss, then the MTP losses). */
export function crossEntropyTerms(model: ModelGraph): CrossEntropyTerm[] {
  const shifts = new Map<string, number>();
  for (const n of model.nodes) if (n.op === 'loss.cross_entropy') shifts.set(n.outputs[0]!, readAttrs('loss.cross_entropy', n.attrs).shift);
  const node = model.nodes.find((n) => n.outputs.includes('loss'));
  if (!node) throw new RuntimeError('the graph has no loss value');
  if (node.op === 'loss.cross_entropy') return [{ value: 'loss', weight: 1, shift: shifts.get('loss')! }];
  if (node.op !== 'loss.sum') throw new RuntimeError(`the graph's loss comes from ${node.op}; gradient accumulation needs loss.sum or loss.cross_entropy`);
  const { weights } = readAttrs('loss.sum', node.attrs);
  return node.inputs.flatMap((value, i) => (shifts.has(value) ? [{ value, weight: weights[i]!, shift: shifts.get(value)! }] : []));
}

/** Σ of the mask weights of the counted positions (t < T − shift predicts t + shift) of rows [from, to). */
export function countedWeight(batch: TrainBatch, from: number, to: number, shift: number): number {
  let sum = 0;
  for (let b = from; b < to; b++) for (let t = shift; t < batch.seqLen; t++) sum += batch.lossMask[b * batch.seqLen + t]!;
  return sum;
}

/** Rows [from, to) of a batch, as tensors. */
function rows(batch: TrainBatch, from: number, to: number): { inputIds: tf.Tensor2D; lossMask: tf.Tensor2D } {
  const [start, end] = [from * batch.seqLen, to * batch.seqLen];
  return {
    inputIds: tf.tensor2d(batch.inputIds.subarray(start, end), [to - from, batch.seqLen], 'int32'),
    lossMask: tf.tensor2d(batch.lossMask.subarray(start, end), [to - from, batch.seqLen], 'float32'),
  };
}

/** Adds `next` into `into` under `key`, disposing what it replaces (and `next` once added). */
export function addInto(into: Map<string, tf.Tensor>, key: string, next: tf.Tensor): void {
  const old = into.get(key);
  if (old === undefined) {
    into.set(key, next);
    return;
  }
  into.set(key, tf.add(old, next));
  old.dispose();
  next.dispose();
}

export async function accumulatedStep(
  model: ModelGraph,
  store: ParamStore,
  optimizer: AdamW,
  batch: TrainBatch,
  microBatches: number,
  options: StepOptions,
  plan: StepPlan,
): Promise<StepResult> {
  if (batch.batch % microBatches !== 0) {
    throw new RuntimeError(`a batch of ${batch.batch} sequences does not split into ${microBatches} micro-batches`, 'make the batch a multiple of micro_batches');
  }
  const size = batch.batch / microBatches;
  const reweight = options.mtpWeight !== undefined && plan.mtp.length > 0;
  const mtp = new Set(plan.mtp.map((t) => t.value));
  const terms = crossEntropyTerms(model).map((t) => ({ ...t, weight: reweight && mtp.has(t.value) ? options.mtpWeight! / plan.mtp.length : t.weight }));
  const totals = terms.map((t) => countedWeight(batch, 0, batch.batch, t.shift));
  const loadNames = plan.routers.map((r) => r.load);
  const wanted = [...new Set(['loss', ...(reweight ? plan.mtp.map((t) => t.value) : []), ...terms.map((t) => t.value), ...loadNames])];
  const grads = new Map<string, tf.Tensor>();
  const sums = new Map<string, tf.Tensor>();
  try {
    for (let i = 0; i < microBatches; i++) {
      const from = i * size;
      const shares = terms.map((t, k) => (totals[k] === 0 ? 0 : countedWeight(batch, from, from + size, t.shift) / totals[k]!));
      const inputs = rows(batch, from, from + size);
      let values = new Map<string, tf.Tensor>();
      try {
        const { value, grads: byVariable } = tf.variableGrads(() => {
          values = forward(model, store, inputs, wanted, { recompute: options.recompute === true });
          const loss = reweight ? reweightedLoss(values, plan.mtp, options.mtpWeight!) : (values.get('loss') as tf.Scalar);
          return terms.reduce<tf.Scalar>((sum, t, k) => tf.add(sum, tf.mul(values.get(t.value)!, t.weight * (shares[k]! - 1 / microBatches))), tf.div(loss, microBatches));
        }, [...plan.variables]);
        addInto(sums, 'loss', value);
        for (const n of loadNames) addInto(sums, n, tf.cast(values.get(n)!, 'float32'));
        for (const [vname, g] of Object.entries(byVariable)) addInto(grads, plan.byVariable.get(vname)!, g);
      } finally {
        tf.dispose([inputs.inputIds, inputs.lossMask]);
        // the loads were copied into `sums` (tf.cast always makes a new tensor)
        for (const t of values.values()) t.dispose();
      }
    }
    // the store's (= the IR's) order, so "first bad tensor" is stable
    const ordered = new Map([...store.params.keys()].filter((n) => grads.has(n)).map((n) => [n, grads.get(n)!]));
    const loss = sums.get('loss')!;
    const packed = tf.tidy(() =>
      tf.concat([tf.reshape(loss, [1]), tf.reshape(gradNormSquared(ordered.values()), [1]), nonFiniteFlags([loss, ...ordered.values()]), ...loadNames.map((n) => tf.reshape(sums.get(n)!, [-1]))]),
    );
    const host = (await packed.data()) as Float32Array;
    packed.dispose();
    const names = ['loss', ...ordered.keys()];
    const nonFinite = firstFlagged(names, Array.from({ length: names.length }, (_, i) => host[2 + i]!));
    const reported = options.loadOutputs ?? loadNames;
    const loads = new Map<string, Float32Array>();
    let at = 2 + names.length;
    for (const n of loadNames) {
      const count = sums.get(n)!.size;
      if (reported.includes(n)) loads.set(n, host.slice(at, at + count));
      at += count;
    }
    const read = { loss: host[0]!, gradNorm: Math.sqrt(host[1]!), loads, nonFinite };
    if (nonFinite !== null) return { ...read, clipScale: 1 };
    const scale = clipScale(read.gradNorm, options.clip);
    optimizer.apply(ordered, { lr: options.lr, gradScale: scale });
    if (options.updateBias ?? true) updateRouterBiases(store, plan.routers, sums, options.biasRate);
    return { ...read, clipScale: scale };
  } finally {
    tf.dispose([...grads.values(), ...sums.values()]);
  }
}
