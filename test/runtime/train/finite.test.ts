/** NaN/Inf detection names the first bad tensor, in map order, and is not fooled by large values. */
import { beforeAll, describe, expect, it } from 'vitest';
import { selectBackend } from '../../../runtime/backend/select.js';
import { tf } from '../../../runtime/tf.js';
import { firstNonFinite, nonFiniteMessage } from '../../../runtime/train/finite.js';

describe('finite', () => {
  beforeAll(async () => {
    await selectBackend('cpu');
  });

  it('names the first gradient holding NaN or Inf', async () => {
    const named = new Map([
      ['loss', tf.scalar(2.5)],
      ['model.embed_tokens.weight', tf.tensor([1e30, -1e30, 3], [3])], // huge but finite: its square would overflow
      ['model.layers.0.mlp.up_proj.weight', tf.tensor([0, Number.NaN, 1, 2], [2, 2])],
      ['model.norm.weight', tf.tensor([Number.POSITIVE_INFINITY])],
    ]);
    const before = tf.memory().numTensors;
    expect(await firstNonFinite(named)).toBe('model.layers.0.mlp.up_proj.weight');
    expect(tf.memory().numTensors).toBe(before);
    named.delete('model.layers.0.mlp.up_proj.weight');
    expect(await firstNonFinite(named)).toBe('model.norm.weight');
    named.delete('model.norm.weight');
    expect(await firstNonFinite(named)).toBeNull();
    named.forEach((t) => t.dispose());
    expect(nonFiniteMessage(12, 'model.norm.weight', false)).toBe(
      'step 12: the gradient of model.norm.weight is NaN or infinite; training stopped before the update (weights unchanged)',
    );
  });
});
