/**
 * AdamW against an independent plain-JS implementation of PyTorch's `torch.optim.AdamW` formula
 * (loops over Float32Arrays, fp32 storage, double arithmetic per element), decay by the IR flag,
 * and a save/restore that continues bit-identically.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { selectBackend } from '../../../runtime/backend/select.js';
import { normalArray } from '../../../runtime/random.js';
import { tf } from '../../../runtime/tf.js';
import { AdamW, adamwConfig, type AdamWConfig } from '../../../runtime/train/adamw.js';

const CONFIG: AdamWConfig = { betas: [0.9, 0.95], weightDecay: 0.1, eps: 1e-8 };
const LR = 1e-2;
const SHAPES: Record<string, number[]> = { 'w.weight': [6, 5], 'norm.weight': [5], 'e.{j}.weight': [3, 4, 2] };
const DECAY = new Map([
  ['w.weight', true],
  ['norm.weight', false],
  ['e.{j}.weight', true],
]);

/** torch.optim.AdamW, one step, in place. */
function referenceStep(p: Float32Array, g: Float32Array, m: Float32Array, v: Float32Array, t: number, lr: number, c: AdamWConfig, decay: boolean): void {
  const [b1, b2] = c.betas;
  const bc1 = 1 - b1 ** t;
  const bc2 = 1 - b2 ** t;
  for (let i = 0; i < p.length; i++) {
    let x = p[i]!;
    if (decay) x = x * (1 - lr * c.weightDecay);
    m[i] = b1 * m[i]! + (1 - b1) * g[i]!;
    v[i] = b2 * v[i]! + (1 - b2) * g[i]! * g[i]!;
    const denom = Math.sqrt(v[i]!) / Math.sqrt(bc2) + c.eps;
    p[i] = x - (lr / bc1) * (m[i]! / denom);
  }
}

const size = (s: number[]): number => s.reduce((a, b) => a * b, 1);

function variables(seed: number): Map<string, tf.Variable> {
  return new Map(Object.entries(SHAPES).map(([name, shape], i) => [name, tf.variable(tf.tensor(normalArray(size(shape), 1, seed + i), shape), true)]));
}

function gradsAt(step: number, std = 0.5): Map<string, Float32Array> {
  return new Map(Object.entries(SHAPES).map(([name, shape], i) => [name, normalArray(size(shape), std, 1000 + 17 * step + i)]));
}

function asTensors(g: Map<string, Float32Array>): Map<string, tf.Tensor> {
  return new Map([...g].map(([n, d]) => [n, tf.tensor(d, SHAPES[n]!)]));
}

async function maxDiff(vars: Map<string, tf.Variable>, ref: Map<string, Float32Array>): Promise<number> {
  let worst = 0;
  for (const [name, v] of vars) {
    const got = await v.data();
    const want = ref.get(name)!;
    for (let i = 0; i < want.length; i++) worst = Math.max(worst, Math.abs(got[i]! - want[i]!));
  }
  return worst;
}

describe('AdamW', () => {
  beforeAll(async () => {
    await selectBackend('cpu');
  });

  for (const weightDecay of [0.1, 0]) {
    it(`matches the PyTorch formula over 5 steps to 1e-6 (weight_decay ${weightDecay})`, async () => {
      const config = { ...CONFIG, weightDecay };
      const vars = variables(1);
      const opt = new AdamW(vars, DECAY, config);
      const ref = new Map([...vars].map(([n, v]) => [n, Float32Array.from(v.dataSync())]));
      const m = new Map([...ref].map(([n, d]) => [n, new Float32Array(d.length)]));
      const v = new Map([...ref].map(([n, d]) => [n, new Float32Array(d.length)]));
      for (let t = 1; t <= 5; t++) {
        const g = gradsAt(t);
        const gt = asTensors(g);
        const lr = LR * (1 - 0.1 * t); // a changing lr, as a schedule gives
        opt.apply(gt, { lr });
        gt.forEach((x) => x.dispose());
        for (const name of ref.keys()) referenceStep(ref.get(name)!, g.get(name)!, m.get(name)!, v.get(name)!, t, lr, config, DECAY.get(name)!);
      }
      expect(opt.step).toBe(5);
      expect(await maxDiff(vars, ref)).toBeLessThan(1e-6);
      const state = await opt.state();
      for (const name of ref.keys()) {
        const sm = state.m.get(name)!.data;
        for (let i = 0; i < sm.length; i++) expect(Math.abs(sm[i]! - m.get(name)![i]!)).toBeLessThan(1e-7);
      }
      opt.dispose();
      vars.forEach((x) => x.dispose());
    });
  }

  it('decays only parameters whose decay flag is true: zero gradients shrink those by (1 − lr·wd)^n', async () => {
    const vars = variables(2);
    const before = new Map([...vars].map(([n, v]) => [n, Float32Array.from(v.dataSync())]));
    const opt = new AdamW(vars, DECAY, CONFIG);
    for (let t = 0; t < 3; t++) {
      const zeros = new Map([...vars].map(([n, x]) => [n, tf.zerosLike(x)]));
      opt.apply(zeros, { lr: LR });
      zeros.forEach((x) => x.dispose());
    }
    const shrink = (1 - LR * CONFIG.weightDecay) ** 3;
    for (const [name, x] of vars) {
      const got = await x.data();
      const was = before.get(name)!;
      for (let i = 0; i < was.length; i++) {
        if (DECAY.get(name)) expect(got[i]).toBeCloseTo(was[i]! * shrink, 6);
        else expect(got[i]).toBe(was[i]);
      }
    }
    opt.dispose();
    vars.forEach((x) => x.dispose());
  });

  it('continues identically after state() and restore() into a fresh optimizer', async () => {
    const a = variables(3);
    const optA = new AdamW(a, DECAY, CONFIG);
    const feed = (opt: AdamW, t: number, gradScale = 1): void => {
      const g = asTensors(gradsAt(t));
      opt.apply(g, { lr: LR, gradScale });
      g.forEach((x) => x.dispose());
    };
    for (let t = 1; t <= 3; t++) feed(optA, t);
    const saved = await optA.state();
    const b = new Map([...a].map(([n, v]) => [n, tf.variable(tf.tensor(v.dataSync(), v.shape), true)]));
    const optB = new AdamW(b, DECAY, CONFIG);
    optB.restore(saved);
    expect(optB.step).toBe(3);
    for (let t = 4; t <= 5; t++) {
      feed(optA, t, 0.7);
      feed(optB, t, 0.7);
    }
    for (const [name, v] of a) expect(await b.get(name)!.data()).toEqual(await v.data());
    // a mismatched state is refused with the parameter's name
    expect(() => optB.restore({ step: 1, m: new Map(), v: new Map() })).toThrow(/lacks w\.weight/);
    optA.dispose();
    optB.dispose();
    a.forEach((x) => x.dispose());
    b.forEach((x) => x.dispose());
  });

  it('leaks no tensors per step', () => {
    const vars = variables(4);
    const opt = new AdamW(vars, DECAY, CONFIG);
    const g = asTensors(gradsAt(1));
    opt.apply(g, { lr: LR, gradScale: 0.5 });
    const before = tf.memory().numTensors;
    for (let t = 0; t < 5; t++) opt.apply(g, { lr: LR, gradScale: 0.5 });
    expect(tf.memory().numTensors).toBe(before);
    g.forEach((x) => x.dispose());
    opt.dispose();
    vars.forEach((x) => x.dispose());
  });

  it("reads the plan's optimizer attribute", () => {
    expect(adamwConfig({ kind: 'adamw', lr: 3e-3, betas: [0.9, 0.95], weight_decay: 0.1, eps: 1e-8 })).toEqual({
      lr: 3e-3,
      betas: [0.9, 0.95],
      weightDecay: 0.1,
      eps: 1e-8,
    });
    expect(() => adamwConfig({ kind: 'sgd' })).toThrow(/only adamw/);
  });
});
