/**
 * Every kernel of the registry (runtime/ops KERNELS) and the router bias update, forward and
 * backward, on the webgpu backend (Dawn on Mesa's lavapipe, a Vulkan driver that runs on the CPU)
 * against the cpu backend on the same random inputs: each output (integer outputs exactly) and the
 * gradients of Σ_outputs Σ(output · R) with respect to every float input and parameter. Dawn must
 * report no device error meanwhile: an invalid shader or pipeline leaves its output buffer stale
 * instead of throwing, so a wrong number can hide behind an error printed to stdout.
 *
 * tfjs-backend-webgpu runs an op on the CPU when its inputs are small and still in host memory
 * (WEBGPU_CPU_FORWARD); that is switched off here so that the WGSL shaders themselves are tested.
 * Skipped only where lavapipe is not installed (CI installs it; see webgpu.test.ts).
 */
import { existsSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AttrValue } from '../../ir/types.js';
import { selectBackend } from '../../runtime/backend/select.js';
import { deviceErrorGuard, watchDeviceErrors, type DeviceErrorWatch } from '../../runtime/backend/webgpu-errors.js';
import { updateRouterBias } from '../../runtime/ops/bias-update.js';
import { KERNELS } from '../../runtime/ops/index.js';
import { setExpertSlots, type ExpertSlots } from '../../runtime/ops/moe-experts.js';
import { normalArray } from '../../runtime/random.js';
import { tf } from '../../runtime/tf.js';
import { relativeDiff } from './relative-diff.js';

const LAVAPIPE = '/usr/share/vulkan/icd.d/lvp_icd.json';
const available = existsSync(LAVAPIPE);

const [B, T, D, V] = [2, 5, 8, 11];
const [E, K, H] = [8, 2, 6];
const yarn: AttrValue = {
  theta: 10000,
  interleaved: true,
  scaling: { kind: 'yarn', factor: 4, original_context: 64, beta_fast: 32, beta_slow: 1, mscale: 1, mscale_all_dim: 0.5 },
};
const halves: AttrValue = { theta: 500, interleaved: false, scaling: { kind: 'none' } };
const ids = [3, 0, 10, 2, 5, 5, 1, 4, 9, 7];
/** K distinct experts per token (moe.experts' contract), crowding experts 1 and 6 past a 0.8 capacity */
const chosen = [1, 6, 6, 1, 1, 3, 0, 6, 6, 2, 1, 7, 5, 6, 1, 4, 6, 0, 1, 2];
const moeAttrs = { experts: E, top_k: K };
const routerAttrs = { ...moeAttrs, score: 'sigmoid', groups: 4, top_groups: 2, normalize: true, scale: 2.5, bias_rate: 1e-3, group_score: 'top2_sum' };

interface Case {
  readonly name: string;
  /** the KERNELS entry */
  readonly op: string;
  /** shapes of the differentiable inputs, then of the parameters; `positive` inputs are |x| + 0.1 */
  readonly inputs: number[][];
  readonly params: number[][];
  readonly positive?: boolean;
  /** non-differentiable inputs, appended after the differentiable ones */
  readonly extra?: () => tf.Tensor[];
  readonly state?: () => tf.Tensor[];
  readonly attrs: { readonly [k: string]: AttrValue };
  /** moe.experts' dispatch layout while the case runs (default auto) */
  readonly slots?: ExpertSlots;
}

/** moe.experts' operands: x and the router weights, the stacked gate/up/down, the fixed routing */
const experts = {
  op: 'moe.experts',
  inputs: [
    [B, T, D],
    [B, T, K],
  ],
  params: [
    [E, H, D],
    [E, H, D],
    [E, D, H],
  ],
  extra: () => [tf.tensor3d(chosen, [B, T, K], 'int32')],
};

const CASES: Case[] = [
  { name: 'embedding', op: 'embedding', inputs: [], params: [[V, D]], attrs: { shift: 0 }, extra: () => [tf.tensor2d(ids, [B, T], 'int32')] },
  { name: 'embedding (shift 2)', op: 'embedding', inputs: [], params: [[V, D]], attrs: { shift: 2 }, extra: () => [tf.tensor2d(ids, [B, T], 'int32')] },
  { name: 'rms_norm', op: 'rms_norm', inputs: [[B, T, D]], params: [[D]], attrs: { eps: 1e-6 } },
  // rows wider than one step of the fused shader's 256 threads × 4 columns (backend/webgpu-fused.ts)
  { name: 'rms_norm (rows of 2,100)', op: 'rms_norm', inputs: [[3, 2100]], params: [[2100]], attrs: { eps: 1e-6 } },
  { name: 'linear', op: 'linear', inputs: [[B, T, D]], params: [[7, D]], attrs: {} },
  { name: 'concat', op: 'concat', inputs: [[B, T, D], [B, T, 3]], params: [], attrs: {} },
  { name: 'add', op: 'add', inputs: [[B, T, D], [B, T, D]], params: [], attrs: {} },
  {
    name: 'attention.mla (q_rank 6, YaRN interleaved)',
    op: 'attention.mla',
    inputs: [[B, T, D]],
    params: [[6, D], [6], [2 * 7, 6], [5 + 4, D], [5], [2 * 6, 5], [D, 2 * 3]],
    attrs: { heads: 2, q_rank: 6, kv_rank: 5, nope_dim: 3, rope_dim: 4, v_dim: 3, eps: 1e-6, softmax_scale: 0.4, rope: yarn },
  },
  {
    name: 'attention.mla (q_rank 0)',
    op: 'attention.mla',
    inputs: [[B, T, D]],
    params: [[3 * 6, D], [5 + 2, D], [5], [3 * 8, 5], [D, 3 * 4]],
    attrs: { heads: 3, q_rank: 0, kv_rank: 5, nope_dim: 4, rope_dim: 2, v_dim: 4, eps: 1e-6, softmax_scale: 0.5, rope: halves },
  },
  {
    name: 'attention.gqa (4 heads, 2 kv heads)',
    op: 'attention.gqa',
    inputs: [[B, T, D]],
    params: [[4 * 4, D], [2 * 4, D], [2 * 4, D], [D, 4 * 4]],
    attrs: { heads: 4, kv_heads: 2, head_dim: 4, softmax_scale: 0.5, rope: halves },
  },
  {
    // Qwen2/Qwen3-MoE's options: q/k/v biases, q and k normed per head, a window shorter than T
    name: 'attention.gqa (qkv bias, per-head qk norm, window 3)',
    op: 'attention.gqa',
    inputs: [[B, T, D]],
    params: [[4 * 4, D], [2 * 4, D], [2 * 4, D], [D, 4 * 4], [4 * 4], [2 * 4], [2 * 4], [4], [4]],
    attrs: { heads: 4, kv_heads: 2, head_dim: 4, softmax_scale: 0.5, rope: halves, qkv_bias: true, qk_norm: 'head', eps: 1e-6, window: 3 },
  },
  {
    // OLMoE's q/k norm over the whole projection, with one kv head (MQA)
    name: 'attention.gqa (mqa, full qk norm)',
    op: 'attention.gqa',
    inputs: [[B, T, D]],
    params: [[2 * 4, D], [4, D], [4, D], [D, 2 * 4], [2 * 4], [4]],
    attrs: { heads: 2, kv_heads: 1, head_dim: 4, softmax_scale: 0.5, rope: halves, qk_norm: 'full', eps: 1e-6 },
  },
  { name: 'ffn.swiglu', op: 'ffn.swiglu', inputs: [[B, T, D]], params: [[H, D], [H, D], [D, H]], attrs: {} },
  {
    name: 'moe.router (sigmoid, bias, 2 of 4 groups by top-2 sum)',
    op: 'moe.router',
    inputs: [[B, T, D]],
    params: [[E, D]],
    state: () => [tf.tensor1d(normalArray(E, 0.1, 6))],
    attrs: routerAttrs,
  },
  {
    name: 'moe.router (softmax, no bias, 1 of 2 groups by max)',
    op: 'moe.router',
    inputs: [[B, T, D]],
    params: [[E, D]],
    attrs: { ...routerAttrs, score: 'softmax', groups: 2, top_groups: 1, normalize: false, scale: 1, group_score: 'max' },
  },
  { ...experts, name: 'moe.experts (capacity 0.8)', attrs: { ...moeAttrs, capacity: 0.8 } },
  { ...experts, name: 'moe.experts (dropless)', attrs: { ...moeAttrs, capacity: null } },
  // the layout GPU training takes: the indexed and segmented tiled GEMMs (webgpu-matmul.ts)
  { ...experts, name: 'moe.experts (dropless, grouped tiles)', attrs: { ...moeAttrs, capacity: null }, slots: 'grouped' },
  // the layout decoding takes: the indexed tiled GEMM with one row a batch, the weight gradient by expert
  { ...experts, name: 'moe.experts (dropless, one row per assignment)', attrs: { ...moeAttrs, capacity: null }, slots: 'assigned' },
  // Qwen2-MoE's gate on the shared experts' output: the MoE layer's input x, the shared output y; w [1, D]
  { name: 'moe.shared_gate', op: 'moe.shared_gate', inputs: [[B, T, D], [B, T, D]], params: [[1, D]], attrs: {} },
  {
    name: 'loss.balance (sequence, sigmoid)',
    op: 'loss.balance',
    inputs: [[B, T, E]],
    params: [],
    positive: true,
    extra: () => [tf.tensor3d(chosen, [B, T, K], 'int32')],
    attrs: { ...moeAttrs, kind: 'sequence', alpha: 0.1, score: 'sigmoid' },
  },
  {
    name: 'loss.balance (batch, softmax)',
    op: 'loss.balance',
    inputs: [[B, T, E]],
    params: [],
    positive: true,
    extra: () => [tf.tensor3d(chosen, [B, T, K], 'int32')],
    attrs: { ...moeAttrs, kind: 'batch', alpha: 0.02, score: 'softmax' },
  },
  { name: 'loss.z', op: 'loss.z', inputs: [[B, T, E]], params: [], attrs: { coef: 1e-2 } },
  { name: 'lm_head', op: 'lm_head', inputs: [[B, T, D]], params: [[V, D]], attrs: {} },
  {
    name: 'loss.cross_entropy (shift 1, weighted mask)',
    op: 'loss.cross_entropy',
    inputs: [[B, T, V]],
    params: [],
    extra: () => [tf.tensor2d(ids, [B, T], 'int32'), tf.tensor2d([1, 0, 1, 1, 0.5, 1, 1, 2, 0, 1], [B, T])],
    attrs: { shift: 1 },
  },
  {
    // more terms than a shader may bind storage buffers (8): one loss per layer of a deep model
    name: 'loss.sum (10 terms)',
    op: 'loss.sum',
    inputs: Array.from({ length: 10 }, () => []),
    params: [],
    attrs: { weights: [1, 0.3, 1e-2, 1e-2, 1e-3, 1e-3, 0.5, 2, 1, 0.1] },
  },
];

interface Evaluated {
  readonly outputs: { readonly dtype: string; readonly values: ArrayLike<number> }[];
  readonly grads: Float32Array[];
}

function randomTensor(shape: number[], seed: number, positive: boolean): tf.Tensor {
  const values = normalArray(shape.reduce((a, b) => a * b, 1), 0.5, seed);
  return tf.tensor(positive ? values.map((v) => Math.abs(v) + 0.1) : values, shape);
}

/** The kernel's outputs and the gradients of Σ_float outputs Σ(output · R) w.r.t. inputs and parameters. */
async function evaluate(c: Case): Promise<Evaluated> {
  const previous = setExpertSlots(c.slots ?? 'auto');
  try {
    return await evaluateKernel(c);
  } finally {
    setExpertSlots(previous);
  }
}

async function evaluateKernel(c: Case): Promise<Evaluated> {
  const kernel = KERNELS[c.op]!;
  const shapes = [...c.inputs, ...c.params];
  const xs = shapes.map((s, i) => randomTensor(s, 10 + i, c.positive === true && i < c.inputs.length));
  const extra = c.extra?.() ?? [];
  const state = c.state?.() ?? [];
  const run = (ts: tf.Tensor[]): tf.Tensor[] =>
    kernel({ inputs: [...ts.slice(0, c.inputs.length), ...extra], params: ts.slice(c.inputs.length), state, attrs: c.attrs });
  const outs = run(xs);
  const projections = outs.map((o, i) => (o.dtype === 'float32' ? tf.tensor(normalArray(o.size, 1, 99 + i), o.shape) : null));
  const objective = (...ts: tf.Tensor[]): tf.Scalar =>
    tf.addN(run(ts).flatMap((o, i) => (projections[i] ? [tf.sum(tf.mul(o, projections[i]!))] : []))) as tf.Scalar;
  const grads = tf.grads(objective)(xs);
  const result = {
    outputs: await Promise.all(outs.map(async (o) => ({ dtype: o.dtype, values: await o.data() }))),
    grads: await Promise.all(grads.map(async (g) => (await g.data()) as Float32Array)),
  };
  tf.dispose([...xs, ...extra, ...state, ...outs, ...grads, ...projections.filter((p) => p !== null)]);
  return result;
}


async function biasUpdate(): Promise<Float32Array> {
  const bias = tf.tensor1d(normalArray(E, 0.1, 3));
  const load = tf.tensor1d([5, 0, 2, 2, 9, 1, 3, 2]);
  const next = updateRouterBias(bias, load, 1e-3);
  const values = (await next.data()) as Float32Array;
  tf.dispose([bias, load, next]);
  return values;
}

describe.skipIf(!available)('every kernel on webgpu (lavapipe) against the cpu backend', () => {
  const cpu = new Map<string, Evaluated>();
  let cpuBias: Float32Array;
  let watch: DeviceErrorWatch;

  beforeAll(async () => {
    await selectBackend('cpu');
    for (const c of CASES) cpu.set(c.name, await evaluate(c));
    cpuBias = await biasUpdate();
    process.env.VK_ICD_FILENAMES = LAVAPIPE;
    await selectBackend('webgpu');
    tf.env().set('WEBGPU_CPU_FORWARD', false);
    watch = watchDeviceErrors();
  });

  afterAll(async () => {
    watch?.stop();
    await selectBackend('cpu');
  });

  it('covers every kernel of the registry', () => {
    expect(new Set(CASES.map((c) => c.op))).toEqual(new Set(Object.keys(KERNELS)));
  });

  for (const c of CASES) {
    // measured on lavapipe: at most 2.5e-7 (values) and 3.4e-7 (gradients) over all cases
    it(`${c.name}: values within 1e-5 and gradients within 1e-5 relative, integers exact`, async () => {
      expect(tf.getBackend()).toBe('webgpu');
      const gpu = await evaluate(c);
      await watch.settle();
      expect(watch.errors).toEqual([]);
      const reference = cpu.get(c.name)!;
      expect(gpu.outputs.map((o) => o.dtype)).toEqual(reference.outputs.map((o) => o.dtype));
      gpu.outputs.forEach((o, i) => {
        const expected = reference.outputs[i]!;
        if (o.dtype === 'int32') expect(Array.from(o.values)).toEqual(Array.from(expected.values));
        else expect(relativeDiff(o.values, expected.values), `output ${i}`).toBeLessThan(1e-5);
      });
      expect(gpu.grads.length).toBe(reference.grads.length);
      gpu.grads.forEach((g, i) => expect(relativeDiff(g, reference.grads[i]!), `gradient ${i}`).toBeLessThan(1e-5));
    });
  }

  it('router bias update: exactly the cpu values', async () => {
    expect(Array.from(await biasUpdate())).toEqual(Array.from(cpuBias));
    await watch.settle();
    expect(watch.errors).toEqual([]);
  });

  it('the error watch sees what Dawn reports (an invalid shader module)', async () => {
    const device = watch.device as unknown as { createShaderModule(d: { code: string }): unknown };
    const before = watch.errors.length;
    device.createShaderModule({ code: 'fn broken( {' });
    await watch.settle();
    expect(watch.errors.length).toBe(before + 1);
    expect(watch.errors[before]).toMatch(/WGSL/);
  });

  it('stops a run at the first device error, naming the step', async () => {
    const guard = deviceErrorGuard();
    expect(() => guard.check(1)).not.toThrow();
    const device = watch.device as unknown as { createShaderModule(d: { code: string }): unknown };
    device.createShaderModule({ code: 'fn broken( {' });
    await watch.settle();
    expect(() => guard.check(2)).toThrow(/the GPU reported an error by step 2 \(1 in all\), so its results cannot be trusted: .*WGSL/);
    guard.stop();
  });
});
