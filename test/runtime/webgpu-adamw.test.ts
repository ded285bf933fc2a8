/**
 * The in-place AdamW shaders (runtime/backend/webgpu-adamw.ts) against the tfjs-ops AdamW on the
 * cpu backend: three steps on random parameters with and without weight decay, a clip factor other
 * than 1 and a parameter large enough that the dispatch spans many workgroups; parameters, moments
 * and the buffers they live in. Skipped only where lavapipe is not installed (CI installs it).
 */
import { existsSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { selectBackend } from '../../runtime/backend/select.js';
import { watchDeviceErrors } from '../../runtime/backend/webgpu-errors.js';
import { tf } from '../../runtime/tf.js';
import { AdamW } from '../../runtime/train/adamw.js';

const LAVAPIPE = '/usr/share/vulkan/icd.d/lvp_icd.json';
const available = existsSync(LAVAPIPE);
const SHAPES: Record<string, number[]> = { w: [96, 70], norm: [70], big: [300, 257] };
const DECAY = new Map([
  ['w', true],
  ['norm', false],
  ['big', true],
]);

/** Host values in [-1, 1) from a small LCG: the same arrays on every backend. */
function random(shape: number[], seed: number): Float32Array {
  const out = new Float32Array(shape.reduce((a, b) => a * b, 1));
  let s = seed * 2654435761;
  for (let i = 0; i < out.length; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = s / 2 ** 31 - 1;
  }
  return out;
}

async function run(): Promise<Map<string, Float32Array[]>> {
  const params = new Map(Object.entries(SHAPES).map(([name, shape], i) => [name, tf.variable(tf.tensor(random(shape, 10 + i), shape))]));
  const opt = new AdamW(params, DECAY, { betas: [0.9, 0.95], weightDecay: 0.1, eps: 1e-8 });
  const buffers = () => [...params.values()].map((p) => (tf.backend() as unknown as { tensorMap: { get(d: object): { resource?: unknown } } }).tensorMap.get(p.dataId).resource);
  const onGpu = tf.getBackend() === 'webgpu';
  let first: unknown[] = [];
  for (let step = 0; step < 3; step++) {
    const grads = new Map(Object.entries(SHAPES).map(([name, shape], i) => [name, tf.tensor(random(shape, 100 * step + i), shape)]));
    opt.apply(grads, { lr: 1e-2, gradScale: step === 1 ? 0.37 : 1 });
    tf.dispose([...grads.values()]);
    // after the first update every parameter is on the GPU; later updates keep its buffer
    if (onGpu && step === 0) first = buffers();
  }
  if (onGpu) expect(buffers().every((b, i) => b !== undefined && b === first[i])).toBe(true);
  const state = await opt.state();
  const out = new Map<string, Float32Array[]>();
  for (const [name, p] of params) out.set(name, [(await p.data()) as Float32Array, state.m.get(name)!.data, state.v.get(name)!.data]);
  opt.dispose();
  tf.dispose([...params.values()]);
  return out;
}

describe.skipIf(!available)('AdamW in place on webgpu (lavapipe)', () => {
  afterAll(async () => {
    await selectBackend('cpu');
  });

  it('three steps equal the tfjs-ops AdamW on cpu, each tensor kept in its own buffer', async () => {
    await selectBackend('cpu');
    const cpu = await run();
    process.env.VK_ICD_FILENAMES = LAVAPIPE;
    await selectBackend('webgpu');
    tf.env().set('WEBGPU_CPU_FORWARD', false);
    const watch = watchDeviceErrors();
    const gpu = await run();
    await watch.settle();
    watch.stop();
    tf.env().set('WEBGPU_CPU_FORWARD', true);
    expect(watch.errors).toEqual([]);
    for (const [name, [p, m, v]] of cpu) {
      const [gp, gm, gv] = gpu.get(name)!;
      for (const [label, want, got] of [
        ['param', p, gp],
        ['m', m, gm],
        ['v', v, gv],
      ] as const) {
        let worst = 0;
        for (let i = 0; i < want!.length; i++) worst = Math.max(worst, Math.abs(got![i]! - want![i]!) / Math.max(Math.abs(want![i]!), 1e-3));
        expect(worst, `${name}.${label}`).toBeLessThan(1e-5);
      }
      // the update moved the parameter (a no-op would pass the comparison above only if cpu also did nothing)
      expect(p).not.toEqual(random(SHAPES[name]!, 10 + [...cpu.keys()].indexOf(name)));
    }
  });
});
