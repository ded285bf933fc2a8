/**
 * The same kernels on tfjs-backend-wasm: values and gradients equal the cpu backend's. Guards the
 * kernels' choice of ops that wasm implements (it has no UnsortedSegmentSum, so no tf.gather gradient).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AttrValue } from '../../../ir/types.js';
import { attentionGqa } from '../../../runtime/ops/attention-gqa.js';
import { attentionMla } from '../../../runtime/ops/attention-mla.js';
import { crossEntropy } from '../../../runtime/ops/cross-entropy.js';
import { embedding } from '../../../runtime/ops/embedding.js';
import type { Kernel } from '../../../runtime/ops/kernel.js';
import { lmHead } from '../../../runtime/ops/lm-head.js';
import { rmsNorm } from '../../../runtime/ops/rms-norm.js';
import { swiglu } from '../../../runtime/ops/swiglu.js';
import { tf } from '../../../runtime/tf.js';
import { useCpu } from '../gradcheck.js';
import { expectClose } from './reference.js';
import { normalArray } from '../../../runtime/random.js';

const B = 2;
const T = 4;
const D = 8;
const V = 11;
const yarn: AttrValue = {
  theta: 10000,
  interleaved: true,
  scaling: { kind: 'yarn', factor: 4, original_context: 64, beta_fast: 4, beta_slow: 1, mscale: 1, mscale_all_dim: 0.5 },
};

interface Case {
  readonly name: string;
  readonly kernel: Kernel;
  /** shapes of the differentiable tensors: inputs[0] (when `x`), then the parameters */
  readonly x?: number[];
  readonly params: number[][];
  readonly attrs: { readonly [k: string]: AttrValue };
  /** non-differentiable inputs appended after x */
  readonly extra?: () => tf.Tensor[];
}

const ids = [3, 0, 10, 2, 5, 5, 1, 4];
const CASES: Case[] = [
  { name: 'embedding (shift 1)', kernel: embedding, params: [[V, D]], attrs: { shift: 1 }, extra: () => [tf.tensor2d(ids, [B, T], 'int32')] },
  { name: 'rms_norm', kernel: rmsNorm, x: [B, T, D], params: [[D]], attrs: { eps: 1e-6 } },
  { name: 'lm_head', kernel: lmHead, x: [B, T, D], params: [[V, D]], attrs: {} },
  { name: 'ffn.swiglu', kernel: swiglu, x: [B, T, D], params: [[6, D], [6, D], [D, 6]], attrs: {} },
  {
    name: 'loss.cross_entropy',
    kernel: crossEntropy,
    x: [B, T, V],
    params: [],
    attrs: { shift: 1 },
    extra: () => [tf.tensor2d(ids, [B, T], 'int32'), tf.tensor2d([1, 0, 1, 1, 0.5, 1, 1, 2], [B, T])],
  },
  {
    name: 'attention.gqa',
    kernel: attentionGqa,
    x: [B, T, D],
    params: [[4 * 4, D], [2 * 4, D], [2 * 4, D], [D, 4 * 4]],
    attrs: { heads: 4, kv_heads: 2, head_dim: 4, softmax_scale: 0.5, rope: { ...(yarn as object), interleaved: false } },
  },
  {
    name: 'attention.mla',
    kernel: attentionMla,
    x: [B, T, D],
    params: [[6, D], [6], [2 * 7, 6], [5 + 4, D], [5], [2 * 6, 5], [D, 2 * 3]],
    attrs: { heads: 2, q_rank: 6, kv_rank: 5, nope_dim: 3, rope_dim: 4, v_dim: 3, eps: 1e-6, softmax_scale: 0.4, rope: yarn },
  },
];

/** The kernel's first output and its gradients (of Σ output · R) w.r.t. x and the parameters, as arrays. */
async function evaluate(c: Case): Promise<Float32Array[]> {
  const shapes = [...(c.x ? [c.x] : []), ...c.params];
  const xs = shapes.map((s, i) => tf.tensor(normalArray(s.reduce((a, b) => a * b, 1), 0.5, 10 + i), s));
  const run = (ts: tf.Tensor[]): tf.Tensor => {
    const [inputs, params] = c.x ? [[ts[0]!, ...(c.extra?.() ?? [])], ts.slice(1)] : [c.extra?.() ?? [], ts];
    return c.kernel({ inputs, params, state: [], attrs: c.attrs })[0]!;
  };
  const value = run(xs);
  const r = tf.tensor(normalArray(value.size, 1, 99), value.shape);
  const grads = tf.grads((...ts: tf.Tensor[]) => tf.sum(tf.mul(run(ts), r)))(xs);
  return Promise.all([value, ...grads].map(async (t) => (await t.data()) as Float32Array));
}

describe('kernels on wasm equal the cpu backend', () => {
  const cpu = new Map<string, Float32Array[]>();

  beforeAll(async () => {
    await useCpu();
    for (const c of CASES) cpu.set(c.name, await evaluate(c));
    // registered only now: runtime/tf.ts initialises the cpu backend on import, and an already
    // registered wasm backend would outrank it
    await import('@tensorflow/tfjs-backend-wasm');
    await tf.setBackend('wasm');
    await tf.ready();
  });

  afterAll(async () => {
    await useCpu();
  });

  for (const c of CASES) {
    it(`${c.name}: value and gradients within 1e-4`, async () => {
      expect(tf.getBackend()).toBe('wasm');
      const wasm = await evaluate(c);
      const reference = cpu.get(c.name)!;
      expect(wasm.length).toBe(reference.length);
      wasm.forEach((w, i) => expectClose(w, reference[i]!, 1e-4));
    });
  }
});
