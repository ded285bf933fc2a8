/**
 * The GRPO objective on one rollout batch, as tensors. With per-token log-probabilities
 * logp = log π_θ(o_t | q, o_<t), the rollout's logp_old, the frozen reference's logp_ref and the
 * sequence's advantage A:
 *
 *   r_t   = exp(logp − logp_old)
 *   s_t   = min(r_t · A, clip(r_t, 1 − ε_low, 1 + ε_high) · A)          (PPO's clipped surrogate)
 *   kl_t  = exp(logp_ref − logp) − (logp_ref − logp) − 1                (k3, unbiased, ≥ 0)
 *   ℓ_t   = −(s_t − β · kl_t)
 *
 * summed over completion tokens (mask m_t) and normalised by `loss`:
 *
 *   grpo     (1/N) Σ_i (1/|o_i|) Σ_t ℓ_it          each sequence weighs the same (DeepSeekMath)
 *   dapo     Σ_i Σ_t ℓ_it / Σ_i |o_i|              each token weighs the same (DAPO)
 *   dr_grpo  Σ_i Σ_t ℓ_it / (N · L_max)            a constant denominator, no length bias (Dr. GRPO)
 *
 * N sequences, |o_i| completion tokens of sequence i, L_max = max_new_tokens.
 *
 * Under gradient accumulation (`parallel { micro_batches }`, update.ts) the objective runs on one
 * part of the rows at a time with N and Σ_i |o_i| of the WHOLE batch (`whole`): each part's loss,
 * KL and clip fraction are then its terms of the whole batch's sums, so the parts add up to the
 * whole batch's values and gradients exactly (up to float summation order) under every `loss`.
 */
import { tf } from '../tf.js';

export type LossKind = 'grpo' | 'dr_grpo' | 'dapo';

export interface ObjectiveSettings {
  readonly clipLow: number;
  readonly clipHigh: number;
  /** β; 0 skips the reference policy entirely */
  readonly kl: number;
  readonly loss: LossKind;
  readonly maxNewTokens: number;
}

export interface ObjectiveBatch {
  /** [N, T]: 1 at positions whose next token is a completion token counted in the loss */
  readonly mask: tf.Tensor2D;
  /** [N, 1] */
  readonly advantages: tf.Tensor2D;
  /** [N, T] log-probabilities at rollout time (0 where masked) */
  readonly oldLogp: tf.Tensor2D;
  /** [N, T] the reference policy's; absent when β = 0 */
  readonly refLogp?: tf.Tensor2D;
  /** the whole batch these rows are a part of (gradient accumulation); absent: the rows are the whole batch */
  readonly whole?: BatchTotals;
}

/** The sizes the objective normalises by: sequences N and counted completion tokens Σ_i |o_i|. */
export interface BatchTotals {
  readonly sequences: number;
  readonly tokens: number;
}

/** Σ values·mask / the whole batch's counted tokens (at least 1: a batch with none gives 0, not 0/0). */
function tokenMean(values: tf.Tensor, mask: tf.Tensor2D, whole: BatchTotals | undefined): tf.Scalar {
  const counted = whole === undefined ? tf.maximum(tf.sum(mask), 1) : Math.max(whole.tokens, 1);
  return tf.div(tf.sum(tf.mul(values, mask)), counted) as tf.Scalar;
}

/**
 * log softmax(logits)[t, target_t] for logits [N, T, V] and targets [N, T], as a masked sum over a
 * one-hot (int32 one-hot then a cast: wasm's float32 oneHot is wrong; the gather's gradient is slow).
 */
export function tokenLogprobs(logits: tf.Tensor, targets: tf.Tensor2D): tf.Tensor2D {
  const vocab = logits.shape[2]!;
  const logProbs = tf.logSoftmax(logits);
  const picked = tf.cast(tf.oneHot(targets, vocab), 'float32');
  return tf.sum(tf.mul(logProbs, picked), -1) as tf.Tensor2D;
}

/** Mean entropy −Σ p log p per counted token of the `whole` batch (a diagnostic; no gradient is taken through it). */
export function meanEntropy(logits: tf.Tensor, mask: tf.Tensor2D, whole?: BatchTotals): tf.Scalar {
  const logProbs = tf.logSoftmax(logits);
  return tokenMean(tf.neg(tf.sum(tf.mul(tf.exp(logProbs), logProbs), -1)), mask, whole);
}

export interface ObjectiveValues {
  readonly loss: tf.Scalar;
  /** token-mean k3 KL (0 when β = 0) */
  readonly kl: tf.Scalar;
  /** share of counted tokens where the clipped term was the smaller one (the update was clipped) */
  readonly clipped: tf.Scalar;
}

export function grpoObjective(logp: tf.Tensor2D, batch: ObjectiveBatch, settings: ObjectiveSettings): ObjectiveValues {
  const { mask, advantages, whole } = batch;
  const ratio = tf.exp(tf.sub(logp, batch.oldLogp));
  const unclipped = tf.mul(ratio, advantages);
  const clippedTerm = tf.mul(tf.clipByValue(ratio, 1 - settings.clipLow, 1 + settings.clipHigh), advantages);
  const surrogate = tf.minimum(unclipped, clippedTerm);
  let perToken = tf.neg(surrogate);
  let kl = tf.scalar(0);
  if (settings.kl > 0 && batch.refLogp) {
    const delta = tf.sub(batch.refLogp, logp);
    const k3 = tf.sub(tf.sub(tf.exp(delta), delta), 1);
    perToken = tf.add(perToken, tf.mul(k3, settings.kl));
    kl = tokenMean(k3, mask, whole);
  }
  const masked = tf.mul(perToken, mask);
  const sequences = whole?.sequences ?? mask.shape[0];
  const loss =
    settings.loss === 'grpo' ? tf.div(tf.sum(tf.div(tf.sum(masked, 1), tf.maximum(tf.sum(mask, 1), 1))), sequences)
    : settings.loss === 'dapo' ? tokenMean(perToken, mask, whole)
    : tf.div(tf.sum(masked), sequences * settings.maxNewTokens);
  const clipped = tokenMean(tf.cast(tf.less(clippedTerm, unclipped), 'float32'), mask, whole);
  return { loss: loss as tf.Scalar, kl: kl as tf.Scalar, clipped: clipped as tf.Scalar };
}
