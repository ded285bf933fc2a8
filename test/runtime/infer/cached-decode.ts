/** Shared by the decoder tests: cached greedy decoding checked step by step against a full forward pass. */
import { expect } from 'vitest';
import type { ModelGraph } from '../../../ir/types.js';
import type { MlaCacheMode } from '../../../runtime/infer/cache.js';
import { Decoder } from '../../../runtime/infer/decoder.js';
import type { ParamStore } from '../../../runtime/model/params.js';

export function relativeError(a: Float32Array, b: Float32Array): number {
  let diff = 0;
  let scale = 0;
  b.forEach((v, i) => {
    diff = Math.max(diff, Math.abs(a[i]! - v));
    scale = Math.max(scale, Math.abs(v));
  });
  return diff / scale;
}

export const argmax = (values: Float32Array): number => values.indexOf(Math.max(...values));

/**
 * Decodes `steps` greedy tokens after `prompt` through the cache, comparing each step's logits with
 * `reference` (the uncached last-position logits of the ids so far): the greedy ids must agree.
 * Returns the worst relative error over the steps.
 */
export async function worstCachedError(model: ModelGraph, store: ParamStore, prompt: readonly number[], mode: MlaCacheMode, reference: (ids: readonly number[]) => Promise<Float32Array>, steps = 8): Promise<number> {
  const decoder = new Decoder(model, store, 1, mode);
  const ids = [...prompt];
  let logits = decoder.step([prompt], [prompt.map(() => true)]);
  let worst = 0;
  for (let i = 0; i < steps; i++) {
    const cached = (await logits.data()) as Float32Array;
    logits.dispose();
    const expected = await reference(ids);
    worst = Math.max(worst, relativeError(cached, expected));
    expect(argmax(cached)).toBe(argmax(expected));
    ids.push(argmax(expected));
    logits = decoder.step([[ids.at(-1)!]], [[true]]);
  }
  logits.dispose();
  decoder.dispose();
  return worst;
}
