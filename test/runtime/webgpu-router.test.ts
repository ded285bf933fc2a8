/**
 * The routers' one-shader selection on webgpu (runtime/backend/webgpu-router.ts) against the tfjs-ops
 * selection of `moe.router` on the cpu backend, on inputs full of ties: x in {0, 1} and W in
 * {−1, 0, 1} make the logits small integers, so many experts and groups share a score and only the
 * tie rule (the smaller index first) orders them. The selected experts must be equal, in order.
 * Skipped only where lavapipe is not installed (CI installs it).
 */
import { existsSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { selectBackend } from '../../runtime/backend/select.js';
import { watchDeviceErrors } from '../../runtime/backend/webgpu-errors.js';
import { moeRouter } from '../../runtime/ops/moe-router.js';
import { mulberry32 } from '../../runtime/random.js';
import { tf } from '../../runtime/tf.js';

const LAVAPIPE = '/usr/share/vulkan/icd.d/lvp_icd.json';
const available = existsSync(LAVAPIPE);
const [N, D] = [300, 12];

interface Case {
  readonly name: string;
  readonly experts: number;
  readonly top_k: number;
  readonly groups: number;
  readonly top_groups: number;
  readonly score: 'sigmoid' | 'softmax';
  readonly group_score: 'top2_sum' | 'max';
  readonly bias: boolean;
}

const CASES: Case[] = [
  { name: 'sigmoid, bias, 4 of 8 groups by top-2 sum, top-6 of 64', experts: 64, top_k: 6, groups: 8, top_groups: 4, score: 'sigmoid', group_score: 'top2_sum', bias: true },
  { name: 'softmax, 1 of 4 groups by max, top-2 of 16', experts: 16, top_k: 2, groups: 4, top_groups: 1, score: 'softmax', group_score: 'max', bias: false },
  { name: 'sigmoid, no group limit, top-8 of 32', experts: 32, top_k: 8, groups: 1, top_groups: 1, score: 'sigmoid', group_score: 'top2_sum', bias: false },
  { name: 'groups of one expert, top-3 of 12', experts: 12, top_k: 3, groups: 12, top_groups: 5, score: 'sigmoid', group_score: 'top2_sum', bias: true },
];

/** Values drawn from `choices` by a seeded generator: the same on every backend. */
function draws(count: number, choices: readonly number[], seed: number): Float32Array {
  const next = mulberry32(seed);
  return Float32Array.from({ length: count }, () => choices[Math.floor(next() * choices.length)]!);
}

/** The selected experts, in order, then the per-expert load. */
async function selected(c: Case): Promise<number[][]> {
  const x = tf.tensor2d(draws(N * D, [0, 1], 1), [N, D]);
  const W = tf.tensor2d(draws(c.experts * D, [-1, 0, 0, 1], 2), [c.experts, D]);
  // a bias of quarters keeps ties among the biased scores too
  const state = c.bias ? [tf.tensor1d(draws(c.experts, [0, 0, 0.25], 3))] : [];
  // every attribute the typed table (ir/attrs.ts) declares for moe.router, as the lowering writes them
  const attrs = {
    experts: c.experts,
    top_k: c.top_k,
    score: c.score,
    groups: c.groups,
    top_groups: c.top_groups,
    normalize: true,
    scale: 1,
    bias_rate: c.bias ? 1e-3 : null,
    group_score: c.group_score,
  };
  const outputs = moeRouter({ inputs: [x], params: [W], state, attrs });
  const indices = Array.from(await outputs[1]!.data());
  const load = Array.from(await outputs[4]!.data());
  tf.dispose([x, W, ...state, ...outputs]);
  return [indices, load];
}

describe.skipIf(!available)('router selection on webgpu (lavapipe) against the cpu backend, with ties', () => {
  afterAll(async () => {
    await selectBackend('cpu');
  });

  it('selects the same experts in the same order, and counts the same load', async () => {
    await selectBackend('cpu');
    const expected = await Promise.all(CASES.map(selected));
    process.env.VK_ICD_FILENAMES = LAVAPIPE;
    await selectBackend('webgpu');
    tf.env().set('WEBGPU_CPU_FORWARD', false);
    const watch = watchDeviceErrors();
    try {
      for (const [i, c] of CASES.entries()) {
        const [indices, load] = await selected(c);
        expect(indices!.length, c.name).toBe(N * c.top_k);
        expect(indices, c.name).toEqual(expected[i]![0]);
        // counted by one shader on webgpu: N·K = 900 to 2,400 selections, several strides of its threads
        expect(load, c.name).toEqual(expected[i]![1]);
      }
      await watch.settle();
      expect(watch.errors).toEqual([]);
    } finally {
      watch.stop();
    }
  });
});
