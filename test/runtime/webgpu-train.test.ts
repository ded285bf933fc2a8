/**
 * Training on the webgpu backend (Dawn on Mesa's lavapipe) follows the cpu backend: 20 steps of the
 * micro spec (MLA, a dense and a MoE layer, sigmoid routing with groups and bias, balance and z
 * losses, MTP) from the same seed on the same batch, with clipping and the router bias update, give
 * the same loss at every step, and Dawn reports no device error on the way. Both bugs this guards
 * against printed Dawn errors (or none) while training went on with wrong numbers: an AddN of more
 * than 7 tensors (the global gradient norm) and the 2-D denseBincount of the balance loss
 * (bench/NOTES.md, "webgpu correctness"). With `recompute = full` (each layer run again in the
 * backward, model/recompute.ts) the steps, captured step graphs and their replays included, follow
 * the cpu backend too.
 *
 * The webgpu backend runs with its defaults here (small ops on host data still go to the CPU), as
 * `moe train --backend webgpu` does; webgpu-kernels.test.ts tests the shaders one kernel at a time.
 * Skipped only where lavapipe is not installed (CI installs it; see webgpu.test.ts).
 */
import { existsSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { lowerSpec } from '../../compiler/lower/index.js';
import type { ModelGraph } from '../../ir/types.js';
import { selectBackend } from '../../runtime/backend/select.js';
import { watchDeviceErrors } from '../../runtime/backend/webgpu-errors.js';
import { ParamStore } from '../../runtime/model/params.js';
import { tf } from '../../runtime/tf.js';
import { AdamW } from '../../runtime/train/adamw.js';
import { stepPlan, trainStep, type StepResult } from '../../runtime/train/step.js';
import { checkText } from '../helpers.js';
import { IDS, MICRO } from './micro-spec.js';

const LAVAPIPE = '/usr/share/vulkan/icd.d/lvp_icd.json';
const available = existsSync(LAVAPIPE);
const STEPS = 20;
const CONFIG = { betas: [0.9, 0.95] as const, weightDecay: 0.1, eps: 1e-8 };

interface Run {
  readonly losses: number[];
  readonly gradNorms: number[];
  readonly bias: Float32Array;
  /** steps that replayed a captured step graph (0 where the backend captures none) */
  readonly replays: number;
  /** the tensor bytes at the peak of the first step (it runs plainly: no captured graph yet) */
  readonly firstPeak: number;
}

async function train(model: ModelGraph, recompute = false): Promise<Run> {
  const store = ParamStore.initialise(model, 1);
  const opt = AdamW.forStore(store, CONFIG);
  const plan = stepPlan(model, store);
  const inputIds = tf.tensor2d(IDS, [IDS.length, IDS[0]!.length], 'int32');
  const losses: number[] = [];
  const gradNorms: number[] = [];
  let firstPeak = 0;
  for (let s = 0; s < STEPS; s++) {
    let r: StepResult | undefined;
    const run = async (): Promise<void> => void (r = await trainStep(model, store, opt, { inputIds }, { lr: 1e-2, clip: 1, recompute }, plan));
    // only the first step is profiled: a profiled step is not captured
    if (s === 0) firstPeak = (await tf.profile(run)).peakBytes;
    else await run();
    if (!r) throw new Error('no step result');
    expect(r.nonFinite).toBeNull();
    losses.push(r.loss);
    gradNorms.push(r.gradNorm);
  }
  const bias = (await store.state.get('model.layers.1.mlp.gate.e_score_correction_bias')!.data()) as Float32Array;
  const replays = plan.graphs?.replays ?? 0;
  plan.graphs?.dispose();
  inputIds.dispose();
  opt.dispose();
  store.dispose();
  return { losses, gradNorms, bias, replays, firstPeak };
}

describe.skipIf(!available)('training on webgpu (lavapipe) against the cpu backend', () => {
  let model: ModelGraph;
  let cpu: Run;

  beforeAll(async () => {
    const checked = checkText(MICRO);
    expect(checked.diagnostics).toEqual([]);
    model = lowerSpec(checked, '/mem').models[0]!;
    await selectBackend('cpu');
    cpu = await train(model);
  });

  afterAll(async () => {
    await selectBackend('cpu');
  });

  it(`${STEPS} steps of the micro MoE + MLA spec: every loss within 1e-3 relative, no Dawn error`, async () => {
    process.env.VK_ICD_FILENAMES = LAVAPIPE;
    await selectBackend('webgpu');
    const watch = watchDeviceErrors();
    const gpu = await train(model);
    await watch.settle();
    watch.stop();
    expect(watch.errors).toEqual([]);
    // measured on lavapipe: at most 2e-6 relative over the 20 steps
    gpu.losses.forEach((loss, s) => expect(Math.abs(loss - cpu.losses[s]!) / cpu.losses[s]!, `step ${s}`).toBeLessThan(1e-3));
    gpu.gradNorms.forEach((norm, s) => expect(Math.abs(norm - cpu.gradNorms[s]!) / cpu.gradNorms[s]!, `grad norm, step ${s}`).toBeLessThan(1e-3));
    // the same routing decisions all along: the bias moved by the same multiples of its rate
    expect(Array.from(gpu.bias)).toEqual(Array.from(cpu.bias));
  });

  it(`${STEPS} steps with recompute = full (captured step graphs included): the cpu losses, no Dawn error`, async () => {
    process.env.VK_ICD_FILENAMES = LAVAPIPE;
    await selectBackend('webgpu');
    const watch = watchDeviceErrors();
    const plain = await train(model);
    const gpu = await train(model, true);
    await watch.settle();
    watch.stop();
    expect(watch.errors).toEqual([]);
    expect(gpu.replays).toBeGreaterThan(0);
    expect(gpu.firstPeak).toBeLessThan(plain.firstPeak);
    gpu.losses.forEach((loss, s) => expect(Math.abs(loss - cpu.losses[s]!) / cpu.losses[s]!, `step ${s}`).toBeLessThan(1e-3));
    gpu.gradNorms.forEach((norm, s) => expect(Math.abs(norm - cpu.gradNorms[s]!) / cpu.gradNorms[s]!, `grad norm, step ${s}`).toBeLessThan(1e-3));
    expect(Array.from(gpu.bias)).toEqual(Array.from(cpu.bias));
  });
});
