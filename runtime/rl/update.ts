/**
 * One GRPO policy update on a rollout batch: forward the policy over the sequences, the objective
 * (objective.ts), gradients, a NaN/Inf check, global-norm clipping and AdamW — with one host read
 * for the loss, the norm, the non-finite flags and the diagnostics (KL, clip fraction, entropy).
 * The MTP heads and the router biases are left alone: the policy is the main next-token head.
 */
import type { ModelGraph } from '../../ir/types.js';
import { forward, type Weights } from '../model/forward.js';
import type { ParamStore } from '../model/params.js';
import { tf } from '../tf.js';
import type { AdamW } from '../train/adamw.js';
import { clipScale, gradNormSquared } from '../train/clip.js';
import { firstFlagged, nonFiniteFlags } from '../train/finite.js';
import type { PolicyBatch } from './batch.js';
import { grpoObjective, meanEntropy, tokenLogprobs, type ObjectiveSettings } from './objective.js';

/**
 * Per-token log-probabilities [N, T] of the targets at the sampling temperature (1 when greedy).
 * `raw` is the forward pass's kept logits tensor: the caller disposes it (no tidy scope will).
 */
export function policyLogprobs(model: ModelGraph, weights: Weights, batch: PolicyBatch, temperature: number): { logp: tf.Tensor2D; logits: tf.Tensor; raw: tf.Tensor } {
  const raw = forward(model, weights, { inputIds: batch.inputIds }, ['logits']).get('logits')!;
  const logits = temperature > 0 && temperature !== 1 ? tf.div(raw, temperature) : raw;
  return { logp: tokenLogprobs(logits, batch.targets), logits, raw };
}

/** The frozen reference policy's log-probabilities, kept for the whole rollout batch. */
export function referenceLogprobs(model: ModelGraph, reference: Weights, batch: PolicyBatch, temperature: number): tf.Tensor2D {
  let raw: tf.Tensor | undefined;
  const logp = tf.tidy(() => {
    const out = policyLogprobs(model, reference, batch, temperature);
    raw = out.raw;
    return out.logp;
  });
  raw?.dispose();
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
}

export async function grpoUpdate(
  model: ModelGraph,
  store: ParamStore,
  optimizer: AdamW,
  batch: PolicyBatch,
  refLogp: tf.Tensor2D | undefined,
  options: UpdateOptions,
): Promise<UpdateResult> {
  let diagnostics: tf.Tensor[] = [];
  let raw: tf.Tensor | undefined;
  const { value, grads: byVariable } = tf.variableGrads(() => {
    const { logp, logits, raw: kept } = policyLogprobs(model, store, batch, options.temperature);
    raw = kept;
    const objective = grpoObjective(logp, { mask: batch.mask, advantages: batch.advantages, oldLogp: batch.oldLogp, ...(refLogp ? { refLogp } : {}) }, options);
    diagnostics = [objective.kl, objective.clipped, meanEntropy(logits, batch.mask)].map((t) => tf.keep(t));
    return objective.loss;
  }, [...store.params.values()]);
  const grads = new Map<string, tf.Tensor>();
  // by parameter name, in the store's order; the MTP heads take no part and get no gradient
  for (const [name, variable] of store.params) {
    const g = byVariable[variable.name];
    if (g) grads.set(name, g);
  }
  try {
    const packed = tf.tidy(() =>
      tf.concat([tf.reshape(value, [1]), tf.reshape(gradNormSquared(grads.values()), [1]), ...diagnostics.map((d) => tf.reshape(d, [1])), nonFiniteFlags([value, ...grads.values()])]),
    );
    const host = (await packed.data()) as Float32Array;
    packed.dispose();
    const [loss, normSquared, kl, clipFraction, entropy] = [...host.subarray(0, 5)] as [number, number, number, number, number];
    const gradNorm = Math.sqrt(normSquared);
    const nonFinite = firstFlagged(['loss', ...grads.keys()], host.subarray(5));
    if (nonFinite === null) optimizer.apply(grads, { lr: options.lr, gradScale: clipScale(gradNorm, options.clipGrad) });
    return { loss, gradNorm, kl, clipFraction, entropy, nonFinite };
  } finally {
    value.dispose();
    raw?.dispose();
    diagnostics.forEach((d) => d.dispose());
    grads.forEach((g) => g.dispose());
  }
}
