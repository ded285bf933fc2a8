/**
 * The router bias update moves each biased router's bias by ±rate·sign(mean − load), replaces the
 * state tensor and disposes the old one, and leaves routers without bias alone.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { lowerSpec } from '../../../compiler/lower/index.js';
import type { ModelGraph } from '../../../ir/types.js';
import { selectBackend } from '../../../runtime/backend/select.js';
import { ParamStore } from '../../../runtime/model/params.js';
import { tf } from '../../../runtime/tf.js';
import { routerLoads, updateRouterBiases } from '../../../runtime/train/bias.js';
import { checkText } from '../../helpers.js';

const TWO_ROUTERS = `model Two {
  vocab = 16, dim = 8, layers = 3, context = 16
  attention gqa { heads = 2, kv_heads = 1 }
  layers 0..0 { ffn swiglu { hidden = 16 } }
  layers 1..1 { moe { experts = 4, hidden = 8, top_k = 2, router { score = sigmoid, balance = bias { rate = 1e-3 } } } }
  layers 2..2 { moe { experts = 4, hidden = 8, top_k = 2, router { score = softmax, balance = none } } }
}`;

describe('router bias update', () => {
  let model: ModelGraph;
  beforeAll(async () => {
    await selectBackend('cpu');
    const checked = checkText(TWO_ROUTERS);
    expect(checked.diagnostics).toEqual([]);
    model = lowerSpec(checked, '/mem').models[0]!;
  });

  it('finds routers by op, with their bias state and rate (null without bias)', () => {
    const routers = routerLoads(model);
    expect(routers).toHaveLength(2);
    expect(routers[0]).toMatchObject({ bias: 'model.layers.1.mlp.gate.e_score_correction_bias', rate: 1e-3 });
    expect(routers[1]).toMatchObject({ bias: null, rate: null });
  });

  it('moves the bias by ±rate·sign(mean − load) and only for routers with bias state', async () => {
    const store = ParamStore.initialise(model, 1);
    const routers = routerLoads(model);
    const [biased, plain] = routers as [(typeof routers)[0], (typeof routers)[0]];
    const loads = new Map<string, tf.Tensor | number[]>([
      [biased.load, tf.tensor1d([5, 1, 3, 3])], // mean 3: over, under, even, even
      [plain.load, [8, 0, 0, 4]],
    ]);
    const name = biased.bias!;
    const old = store.state.get(name)!;
    const stateBefore = store.state.size;
    const before = tf.memory().numTensors;
    updateRouterBiases(store, routers, loads);
    expect(old.isDisposed).toBe(true);
    expect(tf.memory().numTensors).toBe(before);
    expect(store.state.size).toBe(stateBefore); // nothing added for the router without bias
    const b1 = await store.state.get(name)!.data();
    expect(Array.from(b1)).toEqual(Array.from(new Float32Array([-1e-3, 1e-3, 0, 0])));
    // a γ from a schedule overrides the node's rate, and the updates accumulate
    updateRouterBiases(store, routers, loads, 0.5);
    const b2 = await store.state.get(name)!.data();
    expect(Array.from(b2)).toEqual(Array.from(new Float32Array([-1e-3 - 0.5, 1e-3 + 0.5, 0, 0])));
    (loads.get(biased.load) as tf.Tensor).dispose();
    expect(() => updateRouterBiases(store, routers, new Map())).toThrow(/no load counts for/);
    store.dispose();
  });
});
