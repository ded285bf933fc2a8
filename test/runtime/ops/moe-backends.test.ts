/**
 * The MoE kernels use integer ops (TopK, OneHot, Cumsum, ScatterNd, Bincount, FloorDiv) whose
 * support varies by backend; this runs the whole chain router → experts → balance/z losses
 * forward and backward on tfjs-backend-cpu and tfjs-backend-wasm and requires the same numbers.
 * (It caught tfjs-backend-wasm's float32 oneHot, which writes integer bit patterns.)
 */
import { createRequire } from 'node:module';
import { dirname } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tf } from '../../../runtime/tf.js';
import { lossBalance } from '../../../runtime/ops/loss-balance.js';
import { lossZ } from '../../../runtime/ops/loss-z.js';
import { moeExperts, setExpertSlots } from '../../../runtime/ops/moe-experts.js';
import { moeRouter } from '../../../runtime/ops/moe-router.js';
import { normalArray } from '../../../runtime/random.js';
import { useCpu } from '../gradcheck.js';
import { maxRelDiff } from './moe-reference.js';

const [E, D, H, K] = [8, 6, 5, 2];

async function chain(backend: string): Promise<number[][]> {
  await tf.setBackend(backend);
  await tf.ready();
  const x = tf.tensor3d(normalArray(2 * 7 * D, 1, 1), [2, 7, D]);
  const W = tf.tensor2d(normalArray(E * D, 1, 2), [E, D]);
  const gate = tf.tensor3d(normalArray(E * H * D, 0.5, 3), [E, H, D]);
  const up = tf.tensor3d(normalArray(E * H * D, 0.5, 4), [E, H, D]);
  const down = tf.tensor3d(normalArray(E * D * H, 0.5, 5), [E, D, H]);
  const bias = tf.tensor1d(normalArray(E, 0.1, 6));
  const routerAttrs = { experts: E, top_k: K, score: 'sigmoid', groups: 4, top_groups: 2, normalize: true, scale: 2.5, bias_rate: 0.001, group_score: 'top2_sum' };
  const outputs: number[][] = [];
  const f = (xx: tf.Tensor, ww: tf.Tensor, g: tf.Tensor, u: tf.Tensor, d: tf.Tensor): tf.Scalar => {
    const [weights, indices, scores, logits, load] = moeRouter({ inputs: [xx], params: [ww], state: [bias], attrs: routerAttrs });
    const y = moeExperts({ inputs: [xx, weights!, indices!], params: [g, u, d], state: [], attrs: { experts: E, top_k: K, capacity: 0.8 } })[0]!;
    const balance = lossBalance({ inputs: [scores!, indices!], params: [], state: [], attrs: { kind: 'sequence', alpha: 0.1, experts: E, top_k: K, score: 'sigmoid' } })[0]!;
    const z = lossZ({ inputs: [logits!], params: [], state: [], attrs: { coef: 0.01 } })[0]!;
    for (const t of [weights!, indices!, scores!, logits!, load!, y, balance, z]) outputs.push(Array.from(t.dataSync()));
    return tf.addN([tf.mean(tf.square(y)), balance, z]) as tf.Scalar;
  };
  const grads = tf.grads(f)([x, W, gate, up, down]);
  const result = [...outputs, ...grads.map((g) => Array.from(g.dataSync()))];
  tf.dispose([x, W, gate, up, down, bias, ...grads]);
  return result;
}

describe('MoE kernels on cpu and wasm', () => {
  beforeAll(async () => {
    await useCpu();
    // loaded after runtime/tf.ts has made cpu the backend (as runtime/backend does it)
    const wasm = await import('@tensorflow/tfjs-backend-wasm');
    wasm.setWasmPaths(`${dirname(createRequire(import.meta.url).resolve('@tensorflow/tfjs-backend-wasm'))}/`);
  });
  afterAll(async () => {
    setExpertSlots('auto');
    await useCpu();
  });

  for (const slots of ['static', 'measured'] as const) {
    it(`forward and gradients agree to 1e-5 (slots: ${slots})`, async () => {
      setExpertSlots(slots);
      const cpu = await chain('cpu');
      const wasm = await chain('wasm');
      expect(wasm.length).toBe(13);
      expect(wasm[1]).toEqual(cpu[1]); // indices
      expect(wasm[4]).toEqual(cpu[4]); // load
      expect(maxRelDiff(wasm, cpu)).toBeLessThan(1e-5);
      expect(cpu[8]!.some((v) => v !== 0)).toBe(true); // a non-trivial gradient
    });
  }
});
