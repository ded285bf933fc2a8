/**
 * The backend seam (runtime/backend/registry.ts): a new backend plugs in by registering, with no
 * edit in the ops' callers. A test backend — a second tfjs backend named `seam-test` that borrows
 * the cpu backend's kernels — registers one IR-op kernel (a counting `add`) and one fused op (a
 * counting RMSNorm); the forward executor, the cached decoder and the ops that share RMSNorm (the
 * inner norms of attention.mla) run them while it is active, with the cpu backend's numbers, and
 * the cpu backend itself is untouched.
 */
import { MathBackendCPU } from '@tensorflow/tfjs-backend-cpu';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { lowerSpec } from '../../../compiler/lower/index.js';
import type { ModelGraph } from '../../../ir/types.js';
import { backendCapabilities, registerBackendKernels, unregisterBackendKernels } from '../../../runtime/backend/registry.js';
import { generate } from '../../../runtime/infer/generate.js';
import { GREEDY } from '../../../runtime/infer/sampling.js';
import { forward } from '../../../runtime/model/forward.js';
import { ParamStore } from '../../../runtime/model/params.js';
import { kernelFor, KERNELS, type Kernel } from '../../../runtime/ops/index.js';
import { rmsnorm } from '../../../runtime/ops/rms-norm.js';
import { tf } from '../../../runtime/tf.js';
import { checkText } from '../../helpers.js';
import { useCpu } from '../gradcheck.js';
import { IDS, MICRO } from '../micro-spec.js';

const TEST = 'seam-test';

/** The micro model's losses and logits on the active backend. */
async function run(model: ModelGraph): Promise<{ loss: number; logits: Float32Array; greedy: number[][] }> {
  const store = ParamStore.initialise(model, 1);
  const out = forward(model, store, { inputIds: tf.tensor2d(IDS, [2, 8], 'int32') }, ['loss', 'logits']);
  const loss = (await out.get('loss')!.data())[0]!;
  const logits = (await out.get('logits')!.data()) as Float32Array;
  out.forEach((t) => t.dispose());
  const completions = await generate(model, store, [[5, 9, 11], [7, 2, 3]], { maxNewTokens: 4, sampling: GREEDY, seed: 1, eos: [] });
  store.dispose();
  return { loss, logits, greedy: completions.map((c) => [...c.ids]) };
}

describe('a test backend registers one kernel and one fused op', () => {
  let model: ModelGraph;
  const calls = { add: 0, rmsnorm: 0 };
  const countingAdd: Kernel = (args) => {
    calls.add++;
    return KERNELS.add!(args);
  };

  beforeAll(async () => {
    model = lowerSpec(checkText(MICRO), '/mem').models[0]!;
    // a second tfjs backend, with the cpu backend's kernels under its own name
    tf.registerBackend(TEST, () => {
      const backend = new MathBackendCPU();
      // no tfjs-node advert on its first use (as runtime/tf.ts does for cpu)
      (backend as unknown as { firstUse?: boolean }).firstUse = false;
      return backend;
    });
    for (const kernel of tf.getKernelsForBackend('cpu')) tf.registerKernel({ ...kernel, backendName: TEST });
    registerBackendKernels(TEST, { add: countingAdd });
    rmsnorm.register(TEST, (x, w, eps) => {
      calls.rmsnorm++;
      const meanSquare = tf.mean(tf.square(x), -1, true);
      return tf.mul(w, tf.mul(x, tf.rsqrt(tf.add(meanSquare, eps))));
    });
  });

  afterAll(async () => {
    unregisterBackendKernels(TEST, ['add']);
    await useCpu();
    tf.removeBackend(TEST);
  });

  it('the executors run them while it is active, with the cpu numbers, and cpu keeps its own', async () => {
    await useCpu();
    expect(kernelFor('add')).toBe(KERNELS.add);
    const cpu = await run(model);
    expect(calls).toEqual({ add: 0, rmsnorm: 0 });

    expect(await tf.setBackend(TEST)).toBe(true);
    expect(kernelFor('add')).toBe(countingAdd);
    // a backend nobody described has no graphs, in-place writes or fused optimizer
    expect(backendCapabilities()).toMatchObject({ graphs: null, inPlace: null, adamw: null });
    const test = await run(model);
    // the micro model has residual adds in both layers and the MTP block, each run by forward() and by every decode step
    const adds = model.nodes.filter((n) => n.op === 'add').length;
    expect(adds).toBeGreaterThan(0);
    expect(calls.add).toBeGreaterThan(adds);
    // rms_norm nodes, and the latent norms inside attention.mla, all go through the fused op
    const norms = model.nodes.filter((n) => n.op === 'rms_norm').length;
    expect(calls.rmsnorm).toBeGreaterThan(norms);
    expect(test.loss).toBe(cpu.loss);
    expect(Array.from(test.logits)).toEqual(Array.from(cpu.logits));
    expect(test.greedy).toEqual(cpu.greedy);

    await useCpu();
    const before = { ...calls };
    await run(model);
    expect(calls).toEqual(before);
  });

  it('kernelFor knows only IR ops', () => {
    expect(kernelFor('no.such.op')).toBeUndefined();
    expect(kernelFor('toString')).toBeUndefined();
  });
});
