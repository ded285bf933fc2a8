/**
 * Captured GPU graphs (runtime/backend/webgpu-graph.ts) on Dawn over Mesa's lavapipe: a replay
 * computes what tfjs computes on the new inputs, the graph's buffers stay out of tfjs's pool while
 * other work runs, a host read inside a capture refuses the graph, and training through the step
 * graphs (runtime/train/step.ts StepGraphs) gives the plain path's losses, gradient norms and
 * parameters; decoding through a graph (runtime/infer/decoder.ts) gives the plain path's tokens. Skipped only where lavapipe is not installed (CI installs it).
 */
import { existsSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { lowerSpec } from '../../compiler/lower/index.js';
import type { ModelGraph } from '../../ir/types.js';
import { selectBackend } from '../../runtime/backend/select.js';
import { watchDeviceErrors } from '../../runtime/backend/webgpu-errors.js';
import { captureGraph } from '../../runtime/backend/webgpu-graph.js';
import { generate, releaseDecoders, type GenerateStats } from '../../runtime/infer/generate.js';
import { GREEDY } from '../../runtime/infer/sampling.js';
import { forward } from '../../runtime/model/forward.js';
import { ParamStore } from '../../runtime/model/params.js';
import { EvalGraph } from '../../runtime/train/eval-graph.js';
import { tf } from '../../runtime/tf.js';
import { AdamW } from '../../runtime/train/adamw.js';
import { stepPlan, trainStep } from '../../runtime/train/step.js';
import { checkText } from '../helpers.js';
import { IDS, MICRO } from './micro-spec.js';

const LAVAPIPE = '/usr/share/vulkan/icd.d/lvp_icd.json';
const available = existsSync(LAVAPIPE);
const CONFIG = { betas: [0.9, 0.95] as const, weightDecay: 0.1, eps: 1e-8 };

/** Puts MOE_WEBGPU_GRAPHS back as it was (assigning undefined would set the string "undefined", which config/env.ts refuses). */
function restoreGraphs(saved: string | undefined): void {
  if (saved === undefined) delete process.env.MOE_WEBGPU_GRAPHS;
  else process.env.MOE_WEBGPU_GRAPHS = saved;
}

function maxDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let d = 0;
  for (let i = 0; i < a.length; i++) d = Math.max(d, Math.abs(a[i]! - b[i]!));
  return d;
}

describe.skipIf(!available)('captured GPU graphs on webgpu (lavapipe)', () => {
  beforeAll(async () => {
    process.env.VK_ICD_FILENAMES = LAVAPIPE;
    await selectBackend('webgpu');
  });

  afterAll(async () => {
    await selectBackend('cpu');
  });

  // attention-like work: matmuls, a constant made from host values inside (the mask), a scalar, softmax
  const work = (x: tf.Tensor2D, w: tf.Tensor2D): tf.Tensor =>
    tf.tidy(() => {
      const scores = tf.mul(tf.matMul(x, w), 0.5);
      const mask = tf.tensor2d(Array.from({ length: 64 }, (_, i) => (i % 8 > Math.floor(i / 8) ? -1e9 : 0)), [8, 8]);
      return tf.matMul(tf.softmax(tf.add(scores, mask)), x);
    });

  it('a replay on new inputs equals tfjs on them, even after other work reused the pool', async () => {
    const w = tf.randomNormal([8, 8], 0, 1, 'float32', 2) as tf.Tensor2D;
    const first = tf.randomNormal([8, 8], 0, 1, 'float32', 3) as tf.Tensor2D;
    tf.dispose(work(first, w)); // shaders compile outside the capture, as in training
    const captured = captureGraph(() => work(first, w), { inputs: [first], state: [w] });
    expect(captured.refused).toBeNull();
    const graph = captured.graph!;
    expect(graph.dispatches).toBeGreaterThanOrEqual(5);
    expect(maxDiff(await graph.read(captured.result), await work(first, w).data())).toBe(0);

    for (const seed of [4, 5]) {
      const x = tf.randomNormal([8, 8], 0, 1, 'float32', seed) as tf.Tensor2D;
      // allocate and compute plenty in between: a pinned buffer handed out here would be clobbered
      const noise = tf.tidy(() => Array.from({ length: 20 }, (_, i) => tf.keep(tf.add(tf.matMul(x, w), i))));
      graph.replay([x]);
      const expected = await work(x, w).data();
      expect(maxDiff(await graph.read(captured.result), expected)).toBe(0);
      // and the tensors made in between still hold their values
      expect(maxDiff(await noise[19]!.data(), await tf.add(tf.matMul(x, w), 19).data())).toBe(0);
      tf.dispose([x, ...noise]);
    }
    graph.dispose();
    tf.dispose([w, first, captured.result]);
  });

  it('a host read inside the capture refuses the graph, and the function still ran', async () => {
    const x = tf.tensor1d([1, 2, 3]);
    tf.dispose(tf.add(x, 1));
    const captured = captureGraph(
      () => {
        const y = tf.add(x, 1);
        void y.data();
        return y;
      },
      { inputs: [x], state: [] },
    );
    expect(captured.graph).toBeNull();
    expect(captured.refused).toMatch(/read of GPU data back to the host/);
    expect(Array.from(await captured.result.data())).toEqual([2, 3, 4]);
    tf.dispose([x, captured.result]);
  });

  it('state that moved to another buffer makes the graph invalid; in-place updates keep it valid', async () => {
    const v = tf.variable(tf.ones([4]));
    const x = tf.ones([4]);
    tf.dispose(tf.mul(x, v));
    const captured = captureGraph(() => tf.mul(x, v), { inputs: [x], state: [v] });
    const graph = captured.graph!;
    expect(graph.valid([v])).toBe(true);
    v.assign(tf.fill([4], 3)); // tfjs points the variable at a new buffer
    expect(graph.valid([v])).toBe(false);
    graph.dispose();
    tf.dispose([v, x, captured.result]);
  });

  describe('training the micro spec through step graphs', () => {
    let model: ModelGraph;
    beforeAll(() => {
      model = lowerSpec(checkText(MICRO), '/mem').models[0]!;
    });

    async function train(graphs: boolean): Promise<{ losses: number[]; norms: number[]; params: Float32Array; replays: number }> {
      const saved = process.env.MOE_WEBGPU_GRAPHS;
      process.env.MOE_WEBGPU_GRAPHS = graphs ? '1' : '0';
      const store = ParamStore.initialise(model, 1);
      const opt = AdamW.forStore(store, CONFIG);
      const plan = stepPlan(model, store);
      restoreGraphs(saved);
      const losses: number[] = [];
      const norms: number[] = [];
      for (let s = 0; s < 6; s++) {
        // a new input tensor every step, as the trainer makes them
        const inputIds = tf.tensor2d(IDS, [IDS.length, IDS[0]!.length], 'int32');
        const r = await trainStep(model, store, opt, { inputIds }, { lr: 1e-2, clip: 1 }, plan);
        inputIds.dispose();
        expect(r.nonFinite).toBeNull();
        losses.push(r.loss);
        norms.push(r.gradNorm);
      }
      const params = (await store.params.get('model.layers.1.self_attn.kv_b_proj.weight')!.data()) as Float32Array;
      const replays = plan.graphs?.replays ?? 0;
      plan.graphs?.dispose();
      opt.dispose();
      store.dispose();
      return { losses, norms, params, replays };
    }

    it('validation passes through a graph give the plain forward\'s loss, before and after training moved the weights', async () => {
      const saved = process.env.MOE_WEBGPU_GRAPHS;
      process.env.MOE_WEBGPU_GRAPHS = '1';
      const graph = EvalGraph.forBackend()!;
      restoreGraphs(saved);
      const store = ParamStore.initialise(model, 1);
      const opt = AdamW.forStore(store, CONFIG);
      const plan = stepPlan(model, store);
      const batches = [IDS, [...IDS].reverse()].map((rows) => [tf.tensor2d(rows, [rows.length, rows[0]!.length], 'int32'), tf.onesLike(tf.tensor2d(rows, [rows.length, rows[0]!.length])) as tf.Tensor2D] as const);
      const plain = async (b: (typeof batches)[number]): Promise<number> => {
        const out = forward(model, store, { inputIds: b[0], lossMask: b[1] }, ['loss.main']);
        const v = (await out.get('loss.main')!.data())[0]!;
        out.forEach((t) => t.dispose());
        return v;
      };
      for (let round = 0; round < 3; round++) {
        for (const b of batches) {
          const expected = await plain(b);
          const got = await graph.loss(model, store, b);
          expect(Math.abs(got - expected) / expected, `round ${round}`).toBeLessThan(1e-6);
        }
        // the weights move in place between validations, as in training
        await trainStep(model, store, opt, { inputIds: batches[0]![0] }, { lr: 1e-2, clip: 1 }, plan);
      }
      // pass 1 plain, pass 2 captured, passes 3–6 replayed
      expect(graph.replays).toBe(4);
      graph.dispose();
      tf.dispose(batches.flat());
      plan.graphs?.dispose();
      opt.dispose();
      store.dispose();
    });

    it('6 steps: the plain path\'s losses, gradient norms and parameters, with no Dawn error', async () => {
      const watch = watchDeviceErrors();
      const plain = await train(false);
      const graphed = await train(true);
      await watch.settle();
      watch.stop();
      expect(watch.errors).toEqual([]);
      expect(plain.replays).toBe(0);
      // step 1 plain, step 2 captured, steps 3–6 replayed
      expect(graphed.replays).toBe(4);
      // the same kernels on the same inputs: equal on lavapipe (a margin for GPUs whose float atomics reorder)
      graphed.losses.forEach((loss, s) => expect(Math.abs(loss - plain.losses[s]!) / plain.losses[s]!, `loss, step ${s}`).toBeLessThan(1e-6));
      graphed.norms.forEach((norm, s) => expect(Math.abs(norm - plain.norms[s]!) / plain.norms[s]!, `grad norm, step ${s}`).toBeLessThan(1e-5));
      expect(maxDiff(graphed.params, plain.params)).toBeLessThan(1e-6);
      // and training moved: the loss fell
      expect(graphed.losses[5]!).toBeLessThan(graphed.losses[0]! * 0.8);
    });
  });

  describe('decoding the micro spec through a graph', () => {
    async function decode(graphs: boolean, eos: number[], sampling = GREEDY): Promise<{ out: string[]; logprobs: number[][]; stats: GenerateStats }> {
      const saved = process.env.MOE_WEBGPU_GRAPHS;
      process.env.MOE_WEBGPU_GRAPHS = graphs ? '1' : '0';
      try {
        const model = lowerSpec(checkText(MICRO), '/mem').models[0]!;
        const store = ParamStore.initialise(model, 3);
        const stats: GenerateStats = { prefillTokens: 0, decodeTokens: 0, prefillMs: 0, decodeMs: 0, cacheFloatsPerToken: 0 };
        // prompts of different lengths (left padding), rows that finish at different steps
        const prompts = [[5, 9, 11, 3], [7, 2], [1, 2, 3, 4, 5, 6]];
        const completions = await generate(model, store, prompts, { maxNewTokens: 10, sampling, seed: 7, eos }, stats);
        store.dispose();
        return { out: completions.map((c) => `${c.ids.join(',')} ${c.finish}`), logprobs: completions.map((c) => c.logprobs), stats };
      } finally {
        restoreGraphs(saved);
      }
    }

    it('greedy and sampled batches: the plain path\'s tokens, rows finishing on the way', async () => {
      const watch = watchDeviceErrors();
      for (const [eos, sampling] of [
        [[-1], GREEDY],
        [[39], GREEDY],
        [[-1], { ...GREEDY, temperature: 1, topK: 8 }],
      ] as const) {
        const plain = await decode(false, [...eos], sampling);
        const graphed = await decode(true, [...eos], sampling);
        expect(plain.stats.graphReplays).toBe(0);
        // prefill plain, the first decode step captured, the rest replay (rows that finish early still count)
        expect(graphed.stats.graphReplays).toBe(8);
        expect(graphed.out).toEqual(plain.out);
        graphed.logprobs.forEach((row, i) => row.forEach((lp, t) => expect(Math.abs(lp - plain.logprobs[i]![t]!), `row ${i} token ${t}`).toBeLessThan(1e-4)));
      }
      await watch.settle();
      watch.stop();
      expect(watch.errors).toEqual([]);
    });

    it('a kept decoder serves the next generation of the same shapes, and not one after the weights changed', async () => {
      const model = lowerSpec(checkText(MICRO), '/mem').models[0]!;
      const store = ParamStore.initialise(model, 3);
      const prompts = [[5, 9, 11, 3], [7, 2]];
      const run = async (): Promise<{ ids: string; replays: number }> => {
        const stats: GenerateStats = { prefillTokens: 0, decodeTokens: 0, prefillMs: 0, decodeMs: 0, cacheFloatsPerToken: 0 };
        const out = await generate(model, store, prompts, { maxNewTokens: 8, sampling: GREEDY, seed: 1, eos: [] }, stats);
        return { ids: out.map((c) => c.ids.join(',')).join(' | '), replays: stats.graphReplays ?? 0 };
      };
      const first = await run();
      const second = await run();
      expect(first.replays).toBe(6); // 8 new tokens: one from the prompt, one captured, six replayed
      expect(second.replays).toBe(7); // the kept graph replays from the first single-token step
      expect(second.ids).toBe(first.ids);

      // an in-place update of the weights: the kept decoder must not serve stale weights
      const opt = AdamW.forStore(store, CONFIG);
      const grads = new Map([...store.params].map(([name, p]) => [name, tf.onesLike(p)]));
      opt.apply(grads, { lr: 0.05 });
      tf.dispose([...grads.values()]);
      const after = await run();
      expect(after.replays).toBe(6);
      const saved = process.env.MOE_WEBGPU_GRAPHS;
      process.env.MOE_WEBGPU_GRAPHS = '0';
      const plainAfter = await run();
      restoreGraphs(saved);
      expect(after.ids).toBe(plainAfter.ids);
      expect(after.ids).not.toBe(first.ids);
      releaseDecoders(store);
      opt.dispose();
      store.dispose();
    });
  });
});
