/**
 * The whole model on the cpu backend: a micro spec with every feature (MLA with q compression and
 * YaRN, a dense layer, MoE with a shared expert, sigmoid routing with groups and bias, capacity,
 * balance and z losses, MTP) runs forward with the expected initial loss, its autograd gradients
 * agree with finite differences, initialisation is reproducible, and no tensor leaks.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { lowerSpec } from '../../compiler/lower/index.js';
import type { ModelGraph } from '../../ir/types.js';
import { forward } from '../../runtime/model/forward.js';
import { ParamStore } from '../../runtime/model/params.js';
import { tf } from '../../runtime/tf.js';
import { checkText } from '../helpers.js';
import { gradCheck, useCpu } from './gradcheck.js';
import { MICRO, IDS } from './micro-spec.js';

function micro(): ModelGraph {
  const checked = checkText(MICRO);
  expect(checked.diagnostics).toEqual([]);
  return lowerSpec(checked, '/mem').models[0]!;
}

describe('the micro model', () => {
  let model: ModelGraph;
  beforeAll(async () => {
    await useCpu();
    model = micro();
  });

  it('starts near ln(vocab) per token and combines the losses with their weights', async () => {
    const store = ParamStore.initialise(model, 1);
    const out = forward(model, store, { inputIds: tf.tensor2d(IDS, [2, 8], 'int32') }, ['loss', 'loss.main', 'mtp.1.loss']);
    const [loss, main, mtp] = await Promise.all(['loss', 'loss.main', 'mtp.1.loss'].map(async (n) => (await out.get(n)!.data())[0]!));
    expect(Math.abs(main! - Math.log(40))).toBeLessThan(1);
    // the rest of the total is the balance and z losses: small and positive
    expect(loss! - (main! + 0.3 * mtp!)).toBeGreaterThan(0);
    expect(loss! - (main! + 0.3 * mtp!)).toBeLessThan(0.1);
    out.forEach((t) => t.dispose());
    store.dispose();
  });

  it('initialises identically for a seed and differently for another', async () => {
    const a = await ParamStore.initialise(model, 7).snapshot();
    const b = await ParamStore.initialise(model, 7).snapshot();
    const c = await ParamStore.initialise(model, 8).snapshot();
    const name = 'model.layers.1.mlp.experts.{j}.gate_proj.weight';
    expect(a.params.get(name)!.data).toEqual(b.params.get(name)!.data);
    expect(a.params.get(name)!.data).not.toEqual(c.params.get(name)!.data);
  });

  it('has autograd gradients equal to finite differences for every kind of parameter (< 2e-2)', async () => {
    const store = ParamStore.initialise(model, 3);
    const names = [
      'model.embed_tokens.weight',
      'model.layers.0.self_attn.q_a_proj.weight',
      'model.layers.0.self_attn.kv_b_proj.weight',
      'model.layers.0.mlp.up_proj.weight',
      'model.layers.1.mlp.experts.{j}.down_proj.weight',
      'model.layers.1.mlp.shared_experts.gate_proj.weight',
      'model.layers.2.eh_proj.weight',
      'lm_head.weight',
    ];
    const ids = tf.tensor2d(IDS, [2, 8], 'int32');
    const result = await gradCheck(
      (xs) => {
        const params = new Map<string, tf.Tensor>(store.params);
        names.forEach((n, i) => params.set(n, xs[i]!));
        return [forward(model, { params, state: store.state }, { inputIds: ids }, ['loss']).get('loss')!];
      },
      names.map((n) => tf.clone(store.params.get(n)!)),
      { step: 1e-2, coordinates: 3 },
    );
    expect(result.checked).toBe(names.length * 3);
    expect(result.maxRelativeError).toBeLessThan(2e-2);
    store.dispose();
  });

  it('leaks no tensors across forward passes', () => {
    const store = ParamStore.initialise(model, 1);
    const ids = tf.tensor2d(IDS, [2, 8], 'int32');
    const run = (): void => forward(model, store, { inputIds: ids }, ['loss']).forEach((t) => t.dispose());
    run();
    const before = tf.memory().numTensors;
    run();
    run();
    expect(tf.memory().numTensors).toBe(before);
    store.dispose();
  });
});
