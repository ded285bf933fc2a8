/**
 * GRPO on cuda, host side: the memory plan of a backward that starts from the logits (every buffer
 * alive when a pass or the GRPO kernels use it), the per-token coefficients the host computes (with
 * the device's logits-gradient formula they give tf.grad of the cpu objective by the logits), and
 * which parameters an update changes.
 */
import { resolve } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { nodeHost } from '../../../compiler/bind/node-host.js';
import { checkFile } from '../../../compiler/check/index.js';
import { lowerSpec } from '../../../compiler/lower/index.js';
import { inverseTemperature, policyParams } from '../../../runtime/cuda/grpo.js';
import { bufferIn, gradName, lifetimes, opBuffer, shapesOf, timeline } from '../../../runtime/cuda/lifetimes.js';
import { cudaOp } from '../../../runtime/cuda/ops/index.js';
import { neededNodes } from '../../../runtime/model/forward.js';
import { grpoObjective, tokenLogprobs, type LossKind, type ObjectiveSettings } from '../../../runtime/rl/objective.js';
import { tokenObjective } from '../../../runtime/rl/token-objective.js';
import { tf } from '../../../runtime/tf.js';
import { ParamStore } from '../../../runtime/model/params.js';
import { policyLogprobs } from '../../../runtime/rl/update.js';
import { randn, useCpu } from '../gradcheck.js';

const repo = resolve(import.meta.dirname, '..', '..', '..');
const lower = (file: string) => lowerSpec(checkFile(resolve(repo, 'examples', file), nodeHost), repo).models[0]!;

describe('the plan of a backward from the logits', () => {
  for (const [file, recompute] of [['r1-tiny.moe', false], ['r1-tiny.moe', true], ['deepseek-tiny.moe', false]] as const) {
    it(`keeps every buffer alive where it is used, the logits and their gradient through the GRPO kernels (${file}${recompute ? ', recompute = full' : ''})`, () => {
      const model = lower(file);
      const nodes = neededNodes(model, ['logits']);
      const n = nodes.length;
      // no loss node runs: the objective is the host's
      expect(nodes.some((node) => node.op.startsWith('loss.'))).toBe(false);
      const [B, T] = [2, 16];
      const needs = lifetimes(model, nodes, B, T, 'train', ['logits'], 'fp32', recompute);
      const byName = new Map(needs.map((b) => [b.name, b]));
      const alive = (name: string, step: number): boolean => {
        const need = byName.get(name);
        return need !== undefined && need.first <= step && step <= need.last;
      };
      // grpo_token_stats reads the logits after the last forward (step n − 1); the seed writes ∇logits from them at step n, before any backward
      expect(alive('logits', n - 1) && alive('logits', n)).toBe(true);
      expect(alive(gradName('logits'), n)).toBe(true);
      const line = timeline(nodes, 'train', recompute);
      expect(line.events[n]).toEqual({ pass: recompute && nodes[n - 1]!.layer !== undefined ? 're' : 'bwd', node: n - 1 });
      line.events.forEach(({ pass, node: i }, step) => {
        const node = nodes[i]!;
        const name = (x: string): string => bufferIn(x, pass, line.re[i] !== undefined, (y) => byName.has(y));
        const access = [...node.inputs, ...node.outputs].map(name);
        for (const b of cudaOp(node.op)!.buffers(shapesOf(model, node), B, T, 'fp32')) {
          if (b.scope === 'grad' ? pass === 'bwd' : pass !== 'bwd' || b.scope === 'saved') access.push(name(opBuffer(i, b.name)));
        }
        if (pass === 'bwd') for (const v of [...node.inputs, ...node.outputs]) if (byName.has(gradName(v))) access.push(gradName(v));
        for (const x of access) expect(alive(x, step), `${pass} of ${node.op} (step ${step}) uses ${x}`).toBe(true);
      });
      // every parameter the logits depend on gets a gradient: each is read by some node of the walk
      expect(policyParams(model).size).toBeGreaterThan(0);
    });
  }

  it('updates exactly the parameters the cpu update gives a gradient: the MTP head\'s own are left alone', async () => {
    await useCpu();
    const model = lower('deepseek-tiny.moe');
    const store = ParamStore.initialise(model, 3);
    const ids = tf.tensor2d(Int32Array.from({ length: 8 }, (_, i) => 3 + i), [1, 8], 'int32');
    try {
      const byName = new Map([...store.params].map(([name, v]) => [v.name, name]));
      let raw: tf.Tensor | undefined;
      const { value, grads } = tf.variableGrads(() => {
        const out = policyLogprobs(model, store, { inputIds: ids, targets: ids }, 1);
        raw = out.raw;
        return tf.sum(out.logp) as tf.Scalar;
      }, [...store.params.values()]);
      raw?.dispose();
      value.dispose();
      const cpu = new Set(Object.keys(grads).map((v) => byName.get(v)!));
      tf.dispose(Object.values(grads));
      const updated = policyParams(model);
      expect([...updated].sort()).toEqual([...cpu].sort());
      // the deepseek-tiny spec has an MTP head: some parameters really are left out
      expect(updated.size).toBeLessThan(model.params.length);
    } finally {
      ids.dispose();
      store.dispose();
    }
  });
});

describe('the per-token coefficients of the GRPO objective', () => {
  beforeAll(useCpu);

  /** The device's formula (kernels/grpo.cu grpo_logits_grad): ∇logits = c/τ · (onehot(y) − softmax(logits/τ)). */
  function logitsGradient(logits: Float32Array, targets: Int32Array, coef: Float32Array, V: number, temperature: number): Float32Array {
    const inv = inverseTemperature(temperature);
    const out = new Float32Array(logits.length);
    for (let r = 0; r < targets.length; r++) {
      const z = Array.from(logits.subarray(r * V, (r + 1) * V), (x) => x * inv);
      const mx = Math.max(...z);
      const sum = z.reduce((s, x) => s + Math.exp(x - mx), 0);
      for (let v = 0; v < V; v++) out[r * V + v] = inv * coef[r]! * ((v === targets[r] ? 1 : 0) - Math.exp(z[v]! - mx) / sum);
    }
    return out;
  }

  const cases: { loss: LossKind; kl: number; temperature: number; parts: number }[] = [
    { loss: 'grpo', kl: 0.1, temperature: 1, parts: 1 },
    { loss: 'dapo', kl: 0.05, temperature: 0.7, parts: 2 },
    { loss: 'dr_grpo', kl: 0, temperature: 1.3, parts: 2 },
  ];
  for (const c of cases) {
    it(`equal tf.grad of the cpu objective by the logits (${c.loss}, β = ${c.kl}, τ = ${c.temperature}, ${c.parts} part(s))`, async () => {
      const [N, T, V] = [4, 5, 7];
      const settings: ObjectiveSettings = { clipLow: 0.2, clipHigh: 0.28, kl: c.kl, loss: c.loss, maxNewTokens: 6 };
      const logits = randn([N, T, V], 11, 1.5);
      const targets = tf.tensor2d(Int32Array.from({ length: N * T }, (_, i) => (i * 5 + 3) % V), [N, T], 'int32');
      const maskData = Float32Array.from({ length: N * T }, (_, i) => (i % T >= 1 && i % T <= 1 + (Math.floor(i / T) % 4) ? 1 : 0));
      const mask = tf.tensor2d(maskData, [N, T]);
      const advantages = tf.tensor2d([1.2, -0.7, 0.3, -1.1], [N, 1]);
      // old and reference log-probabilities near the current ones, so some ratios clip and some do not
      const current = tokenLogprobs(tf.div(logits, c.temperature), targets);
      const oldLogp = tf.mul(tf.add(current, randn([N, T], 12, 0.3)), mask) as tf.Tensor2D;
      const refLogp = tf.add(current, randn([N, T], 13, 0.2)) as tf.Tensor2D;
      const tokens = maskData.reduce((a, b) => a + b, 0);
      const whole = { sequences: N, tokens };
      const full = { mask, advantages, oldLogp, ...(c.kl > 0 ? { refLogp } : {}) };

      // the cpu update's objective and its gradient by the logits, on the whole batch
      const cpu = tf.valueAndGrad((x: tf.Tensor) => grpoObjective(tokenLogprobs(tf.div(x, c.temperature), targets), full, settings).loss)(logits);
      const cpuValues = grpoObjective(current, full, settings);

      // the cuda path: per part, the objective of its log-probabilities with the whole batch's totals, then the device's formula
      const size = N / c.parts;
      const logitsHost = (await logits.data()) as Float32Array;
      const targetsHost = Int32Array.from(await targets.data());
      const currentHost = (await current.data()) as Float32Array;
      const gradient = new Float32Array(N * T * V);
      let [loss, kl, clipped] = [0, 0, 0];
      for (let from = 0; from < N; from += size) {
        const rows = (t: tf.Tensor2D): tf.Tensor2D => tf.slice(t, [from, 0], [size, -1]);
        const part = { mask: rows(mask), advantages: rows(advantages), oldLogp: rows(oldLogp), ...(c.kl > 0 ? { refLogp: rows(refLogp) } : {}) };
        const r = await tokenObjective(currentHost.slice(from * T, (from + size) * T), part, whole, settings);
        [loss, kl, clipped] = [loss + r.loss, kl + r.kl, clipped + r.clipped];
        const span = [from * T, (from + size) * T] as const;
        gradient.set(logitsGradient(logitsHost.slice(span[0] * V, span[1] * V), targetsHost.slice(...span), r.coefficients, V, c.temperature), span[0] * V);
      }
      const close = (a: number, b: number, rel: number): boolean => Math.abs(a - b) <= rel * Math.max(Math.abs(b), 1e-6);
      expect(close(loss, (await cpu.value.data())[0]!, 1e-5), `loss ${loss}`).toBe(true);
      expect(close(kl, (await cpuValues.kl.data())[0]!, 1e-5)).toBe(true);
      expect(close(clipped, (await cpuValues.clipped.data())[0]!, 1e-6)).toBe(true);
      // the objective really clips here, and the KL term is on when asked
      expect(clipped).toBeGreaterThan(0);
      if (c.kl > 0) expect(kl).toBeGreaterThan(0);
      const expected = (await cpu.grad.data()) as Float32Array;
      const scale = Math.max(...expected.map(Math.abs));
      expect(scale).toBeGreaterThan(0);
      expected.forEach((g, i) => expect(Math.abs(gradient[i]! - g), `∇logits[${i}]`).toBeLessThanOrEqual(1e-5 * scale));
      // masked positions get no gradient at all
      maskData.forEach((m, r) => {
        if (m === 0) for (let v = 0; v < V; v++) expect(Math.abs(gradient[r * V + v]!)).toBe(0);
      });
    });
  }
});
