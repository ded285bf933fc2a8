/**
 * A rollout as training tensors: each sequence is prompt ++ completion, right-padded to the longest
 * (causal attention: padding after a sequence never changes its positions). Position t predicts
 * token t + 1; the mask marks the positions whose next token is a completion token the loss counts.
 */
import { tf } from '../tf.js';
import type { RolloutItem } from './rollout.js';

export interface PolicyBatch {
  readonly inputIds: tf.Tensor2D;
  readonly targets: tf.Tensor2D;
  readonly mask: tf.Tensor2D;
  /** [N, 1] */
  readonly advantages: tf.Tensor2D;
  /** [N, T] the rollout's log-probabilities at the masked positions */
  readonly oldLogp: tf.Tensor2D;
  /** completion tokens counted */
  readonly tokens: number;
  dispose(): void;
}

/** `dropTruncated`: completions cut at max_new_tokens get an all-zero mask (`mask_truncated`). */
export function policyBatch(items: readonly RolloutItem[], advantages: readonly number[], pad: number, dropTruncated: boolean): PolicyBatch {
  const rows = items.length;
  const width = Math.max(...items.map((it) => it.promptIds.length + it.completion.ids.length));
  const ids = new Int32Array(rows * width).fill(pad);
  const targets = new Int32Array(rows * width);
  const mask = new Float32Array(rows * width);
  const old = new Float32Array(rows * width);
  let tokens = 0;
  items.forEach((item, n) => {
    const sequence = [...item.promptIds, ...item.completion.ids];
    sequence.forEach((id, t) => (ids[n * width + t] = id));
    const counted = !(dropTruncated && item.completion.finish === 'length');
    for (let t = 0; t + 1 < sequence.length; t++) {
      targets[n * width + t] = sequence[t + 1]!;
      const k = t + 1 - item.promptIds.length; // index of the predicted token in the completion
      if (k >= 0 && counted) {
        mask[n * width + t] = 1;
        old[n * width + t] = item.completion.logprobs[k]!;
        tokens++;
      }
    }
  });
  const tensors = {
    inputIds: tf.tensor2d(ids, [rows, width], 'int32'),
    targets: tf.tensor2d(targets, [rows, width], 'int32'),
    mask: tf.tensor2d(mask, [rows, width]),
    advantages: tf.tensor2d(Float32Array.from(advantages), [rows, 1]),
    oldLogp: tf.tensor2d(old, [rows, width]),
  };
  return { ...tensors, tokens, dispose: () => Object.values(tensors).forEach((t) => t.dispose()) };
}

/** One part of a policy batch (gradient accumulation): rows [from, to) of its tensors and of the reference log-probabilities. */
export interface PolicyRows {
  readonly inputIds: tf.Tensor2D;
  readonly targets: tf.Tensor2D;
  readonly mask: tf.Tensor2D;
  readonly advantages: tf.Tensor2D;
  readonly oldLogp: tf.Tensor2D;
  readonly refLogp?: tf.Tensor2D;
  dispose(): void;
}

export function policyRows(batch: PolicyBatch, refLogp: tf.Tensor2D | undefined, from: number, to: number): PolicyRows {
  const part = (t: tf.Tensor2D): tf.Tensor2D => tf.slice(t, [from, 0], [to - from, -1]);
  const tensors = {
    inputIds: part(batch.inputIds),
    targets: part(batch.targets),
    mask: part(batch.mask),
    advantages: part(batch.advantages),
    oldLogp: part(batch.oldLogp),
    ...(refLogp ? { refLogp: part(refLogp) } : {}),
  };
  return { ...tensors, dispose: () => Object.values(tensors).forEach((t) => t.dispose()) };
}
