/**
 * One GRPO policy update on a rollout batch: forward the policy over the sequences, the objective
 * (objective.ts), gradients, a NaN/Inf check, global-norm clipping and AdamW — with one host read
 * for the loss, the norm, the non-finite flags and the diagnostics (KL, clip fraction, entropy).
 * The MTP heads and the router biases are left alone: the policy is the main next-token head.
 *
 * Gradient accumulation (`parallel { micro_batches = M }`): the batch's rows are split into M equal
 * parts, each forwarded and differentiated on its own (only one part's activations are alive at a
 * time) with the whole batch's normalisers (objective.ts, `whole`), so the parts' losses,
 * diagnostics and gradients add up to the whole batch's; then ONE clip and ONE AdamW step. Rows
 * are independent (causal attention, per-token routing), so a part's log-probabilities are its
 * rows' in the whole batch — except under an expert capacity factor, where the tokens dropped in a
 * part may differ from the whole batch's (routing is per evaluation, as in pretraining: specs/ir.md §5.1).
 */
import type { ModelGraph } from '../../ir/types.js';
import { RuntimeError } from '../errors.js';
import { forward, type Weights } from '../model/forward.js';
import type { ParamStore } from '../model/params.js';
import { tf } from '../tf.js';
import { addInto } from '../train/accumulate.js';
import type { AdamW } from '../train/adamw.js';
import { clipScale, gradNormSquared } from '../train/clip.js';
import { firstFlagged, nonFiniteFlags } from '../train/finite.js';
import { policyRows, type PolicyBatch, type PolicyRows } from './batch.js';
import { grpoObjective, meanEntropy, tokenLogprobs, type BatchTotals, type ObjectiveSettings } from './objective.js';

/**
 * Per-token log-probabilities [N, T] of the targets at the sampling temperature (1 when greedy).
 * `raw` is the forward pass's kept logits tensor: the caller disposes it (no tidy scope will).
 * `recompute`: full recomputation (model/recompute.ts), for the policy update's differentiated pass.
 */
export function policyLogprobs(
  model: ModelGraph,
  weights: Weights,
  batch: Pick<PolicyRows, 'inputIds' | 'targets'>,
  temperature: number,
  recompute = false,
): { logp: tf.Tensor2D; logits: tf.Tensor; raw: tf.Tensor } {
  const raw = forward(model, weights, { inputIds: batch.inputIds }, ['logits'], { recompute }).get('logits')!;
  const logits = temperature > 0 && temperature !== 1 ? tf.div(raw, temperature) : raw;
  return { logp: tokenLogprobs(logits, batch.targets), logits, raw };
}

/** The rows of each of `parts` equal parts of a batch of `rows`; a batch that does not split is an error. */
export function partRows(rows: number, parts: number): number {
  if (!Number.isInteger(parts) || parts < 1 || rows % parts !== 0) {
    throw new RuntimeError(
      `a rollout batch of ${rows} sequences does not split into ${parts} micro-batches`,
      'make batch × group (the sequences of a rollout batch) a multiple of parallel { micro_batches }',
    );
  }
  return rows / parts;
}

/**
 * The frozen reference policy's log-probabilities, kept for the whole rollout batch: forwarded in
 * `parts` equal row blocks (no gradient; each block's activations are freed before the next).
 */
export function referenceLogprobs(model: ModelGraph, reference: Weights, batch: PolicyBatch, temperature: number, parts = 1): tf.Tensor2D {
  const rows = batch.inputIds.shape[0];
  const size = partRows(rows, parts);
  const blocks: tf.Tensor2D[] = [];
  for (let from = 0; from < rows; from += size) {
    const part = policyRows(batch, undefined, from, from + size);
    let raw: tf.Tensor | undefined;
    try {
      blocks.push(
        tf.tidy(() => {
          const out = policyLogprobs(model, reference, part, temperature);
          raw = out.raw;
          return out.logp;
        }),
      );
    } finally {
      raw?.dispose();
      part.dispose();
    }
  }
  if (blocks.length === 1) return blocks[0]!;
  const logp = tf.concat(blocks, 0);
  tf.dispose(blocks);
  return logp;
}

export interface UpdateResult {
  readonly loss: number;
  readonly gradNorm: number;
  readonly kl: number;
  readonly clipFraction: number;
  readonly entropy: number;
  /** the first non-finite tensor; nothing was updated when set */
  readonly nonFinite: string | null;
}

export interface UpdateOptions extends ObjectiveSettings {
  readonly lr: number;
  readonly clipGrad: number;
  readonly temperature: number;
  /** `parallel { micro_batches }`: the rows in this many equal parts, one forward and backward each */
  readonly microBatches: number;
  /** `parallel { recompute = full }`: each decoder layer keeps only its inputs and runs again in the backward */
  readonly recompute?: boolean;
}

/** The summed scalars, in the order of the host read after the loss and the gradient norm. */
const DIAGNOSTICS = ['kl', 'clipped', 'entropy'] as const;

export async function grpoUpdate(
  model: ModelGraph,
  store: ParamStore,
  optimizer: AdamW,
  batch: PolicyBatch,
  refLogp: tf.Tensor2D | undefined,
  options: UpdateOptions,
): Promise<UpdateResult> {
  const rows = batch.inputIds.shape[0];
  const size = partRows(rows, options.microBatches);
  const whole: BatchTotals = { sequences: rows, tokens: batch.tokens };
  const byName = new Map([...store.params].map(([name, variable]) => [variable.name, name]));
  const sums = new Map<string, tf.Tensor>();
  const summed = new Map<string, tf.Tensor>();
  try {
    for (let from = 0; from < rows; from += size) {
      const part = policyRows(batch, refLogp, from, from + size);
      let raw: tf.Tensor | undefined;
      let diagnostics: tf.Tensor[] = [];
      try {
        const { value, grads } = tf.variableGrads(() => {
          const { logp, logits, raw: kept } = policyLogprobs(model, store, part, options.temperature, options.recompute === true);
          raw = kept;
          const objective = grpoObjective(logp, { ...part, whole }, options);
          diagnostics = [objective.kl, objective.clipped, meanEntropy(logits, part.mask, whole)].map((t) => tf.keep(t));
          return objective.loss;
        }, [...store.params.values()]);
        addInto(sums, 'loss', value);
        DIAGNOSTICS.forEach((key, i) => addInto(sums, key, diagnostics[i]!));
        diagnostics = [];
        for (const [variable, g] of Object.entries(grads)) addInto(summed, byName.get(variable)!, g);
      } finally {
        raw?.dispose();
        tf.dispose(diagnostics);
        part.dispose();
      }
    }
    // by parameter name, in the store's order (so "first bad tensor" is stable); the MTP heads take no part and get no gradient
    const grads = new Map([...store.params.keys()].filter((n) => summed.has(n)).map((n) => [n, summed.get(n)!]));
    const loss = sums.get('loss')!;
    const packed = tf.tidy(() =>
      tf.concat([
        tf.reshape(loss, [1]),
        tf.reshape(gradNormSquared(grads.values()), [1]),
        ...DIAGNOSTICS.map((key) => tf.reshape(sums.get(key)!, [1])),
        nonFiniteFlags([loss, ...grads.values()]),
      ]),
    );
    const host = (await packed.data()) as Float32Array;
    packed.dispose();
    const [lossValue, normSquared, kl, clipFraction, entropy] = [...host.subarray(0, 5)] as [number, number, number, number, number];
    const gradNorm = Math.sqrt(normSquared);
    const nonFinite = firstFlagged(['loss', ...grads.keys()], host.subarray(5));
    if (nonFinite === null) optimizer.apply(grads, { lr: options.lr, gradScale: clipScale(gradNorm, options.clipGrad) });
    return { loss: lossValue, gradNorm, kl, clipFraction, entropy, nonFinite };
  } finally {
    tf.dispose([...sums.values(), ...summed.values()]);
  }
}
