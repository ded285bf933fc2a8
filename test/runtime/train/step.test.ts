/**
 * A few training steps of the micro model (every feature: MLA, dense + MoE layers, sigmoid routing
 * with groups and bias, balance and z losses, MTP) on one fixed batch: the loss falls, the router
 * bias moves, the MTP weight can be overridden, a NaN stops the step untouched, no tensor leaks.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import type { ModelGraph } from '../../../ir/types.js';
import { selectBackend } from '../../../runtime/backend/select.js';
import { forward } from '../../../runtime/model/forward.js';
import { ParamStore } from '../../../runtime/model/params.js';
import { tf } from '../../../runtime/tf.js';
import { AdamW } from '../../../runtime/train/adamw.js';
import { stepPlan, trainStep } from '../../../runtime/train/step.js';
import { IDS, microModel } from '../micro-spec.js';

const CONFIG = { betas: [0.9, 0.95] as const, weightDecay: 0.1, eps: 1e-8 };

describe('trainStep', () => {
  let model: ModelGraph;
  beforeAll(async () => {
    await selectBackend('cpu');
    model = microModel();
  });

  it('reduces the loss on a fixed batch over 20 steps at lr 1e-2 with flat tensor memory', async () => {
    const store = ParamStore.initialise(model, 1);
    const opt = AdamW.forStore(store, CONFIG);
    const plan = stepPlan(model, store);
    const inputIds = tf.tensor2d(IDS, [2, 8], 'int32');
    const bias = 'model.layers.1.mlp.gate.e_score_correction_bias';
    const losses: number[] = [];
    const counts: number[] = [];
    for (let s = 0; s < 20; s++) {
      const r = await trainStep(model, store, opt, { inputIds }, { lr: 1e-2, clip: 1 }, plan);
      expect(r.nonFinite).toBeNull();
      expect(r.gradNorm).toBeGreaterThan(0);
      expect(r.clipScale).toBeLessThanOrEqual(1);
      // every router reports its load: B·T·K = 2·8·2 selections
      expect(r.loads.size).toBe(plan.routers.length);
      for (const load of r.loads.values()) expect(load.reduce((a, b) => a + b, 0)).toBe(32);
      losses.push(r.loss);
      counts.push(tf.memory().numTensors);
    }
    expect(opt.step).toBe(20);
    // measured on cpu: 5.306 → 0.497; the bound asks for a fall to below a quarter
    expect(losses[19]!).toBeLessThan(losses[0]! / 4);
    for (let s = 1; s < 20; s++) expect(losses[s]!).toBeLessThan(losses[0]!);
    // flat: the same number of tensors after every step (the first step creates nothing lasting either)
    expect(new Set(counts).size).toBe(1);
    // the bias has moved in multiples of its rate 1e-3
    const b = await store.state.get(bias)!.data();
    expect(b.some((x) => x !== 0)).toBe(true);
    for (const x of b) expect(Math.abs(Math.round(x / 1e-3) * 1e-3 - x)).toBeLessThan(1e-6);
    inputIds.dispose();
    opt.dispose();
    store.dispose();
  });

  it('takes λ from a schedule: loss + (λ − 0.3)·mtp.1.loss', async () => {
    const inputIds = tf.tensor2d(IDS, [2, 8], 'int32');
    const probe = ParamStore.initialise(model, 5);
    const out = forward(model, probe, { inputIds }, ['loss', 'mtp.1.loss']);
    const loss = (await out.get('loss')!.data())[0]!;
    const mtp = (await out.get('mtp.1.loss')!.data())[0]!;
    out.forEach((t) => t.dispose());
    probe.dispose();
    for (const lambda of [0.3, 0.1, 0]) {
      const store = ParamStore.initialise(model, 5);
      const opt = AdamW.forStore(store, CONFIG);
      const r = await trainStep(model, store, opt, { inputIds }, { lr: 1e-3, clip: 0, mtpWeight: lambda, updateBias: false });
      expect(r.loss).toBeCloseTo(loss + (lambda - 0.3) * mtp, 5);
      expect(r.clipScale).toBe(1);
      opt.dispose();
      store.dispose();
    }
    inputIds.dispose();
  });

  it('reports the loss in its parts (lm, mtp, aux, z), read with it, adding up to the loss, with a scheduled λ too', async () => {
    const inputIds = tf.tensor2d(IDS, [2, 8], 'int32');
    const of = (op: string): string[] => model.nodes.filter((n) => n.op === op).flatMap((n) => n.outputs);
    const [balance, z] = [of('loss.balance'), of('loss.z')];
    expect(balance.length).toBeGreaterThan(0);
    expect(z.length).toBeGreaterThan(0);
    const probe = ParamStore.initialise(model, 5);
    const out = forward(model, probe, { inputIds }, ['loss', 'loss.main', 'mtp.1.loss', ...balance, ...z]);
    const read = async (names: readonly string[]): Promise<number> => (await Promise.all(names.map(async (n) => (await out.get(n)!.data())[0]!))).reduce((a, b) => a + b, 0);
    const expected = { lm: await read(['loss.main']), mtp: await read(['mtp.1.loss']), aux: await read(balance), z: await read(z) };
    out.forEach((t) => t.dispose());
    probe.dispose();
    for (const lambda of [undefined, 0.1]) {
      const store = ParamStore.initialise(model, 5);
      const opt = AdamW.forStore(store, CONFIG);
      const r = await trainStep(model, store, opt, { inputIds }, { lr: 1e-3, clip: 0, updateBias: false, ...(lambda === undefined ? {} : { mtpWeight: lambda }) });
      // the micro model's λ is 0.3 over one MTP depth
      expect(r.parts).toBeDefined();
      const parts = r.parts!;
      expect(parts.lm).toBeCloseTo(expected.lm, 5);
      expect(parts.mtp).toBeCloseTo((lambda ?? 0.3) * expected.mtp, 5);
      expect(parts.aux).toBeCloseTo(expected.aux, 6);
      expect(parts.z).toBeCloseTo(expected.z, 6);
      expect(parts.aux).toBeGreaterThan(0);
      expect(parts.z).toBeGreaterThan(0);
      expect(parts.lm + parts.mtp + parts.aux + parts.z).toBeCloseTo(r.loss, 5);
      opt.dispose();
      store.dispose();
    }
    inputIds.dispose();
  });

  it('stops before the update when the loss is NaN, naming it', async () => {
    const store = ParamStore.initialise(model, 2);
    const opt = AdamW.forStore(store, CONFIG);
    const norm = store.params.get('model.norm.weight')!;
    norm.assign(tf.fill(norm.shape, Number.NaN));
    const bias = 'model.layers.1.mlp.gate.e_score_correction_bias';
    const before = await store.snapshot();
    const inputIds = tf.tensor2d(IDS, [2, 8], 'int32');
    const tensors = tf.memory().numTensors;
    const r = await trainStep(model, store, opt, { inputIds }, { lr: 1e-2, clip: 1 });
    expect(r.nonFinite).toBe('loss');
    expect(tf.memory().numTensors).toBe(tensors);
    expect(opt.step).toBe(0);
    const after = await store.snapshot();
    expect(after.params.get('model.embed_tokens.weight')!.data).toEqual(before.params.get('model.embed_tokens.weight')!.data);
    expect(after.state.get(bias)!.data).toEqual(before.state.get(bias)!.data);
    inputIds.dispose();
    opt.dispose();
    store.dispose();
  });
});
