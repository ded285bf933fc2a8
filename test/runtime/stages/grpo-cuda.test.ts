/**
 * Under `--backend cuda` the grpo stage keeps its policy on the device: it is uploaded once with
 * gradients and AdamW's moments (a trainer, not a copy per rollout), the frozen reference beside it,
 * and the rollouts' decoder reads the trainer's weights instead of copying them. Seen through a fake
 * driver that records allocations and refuses to launch a kernel (there is no GPU here). A rollout
 * batch holding a token id outside the vocabulary is refused on the host.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { lowerSpec } from '../../../compiler/lower/index.js';
import { CudaGrpoPolicy } from '../../../runtime/cuda/grpo.js';
import { cudaOp } from '../../../runtime/cuda/ops/index.js';
import { layoutParams } from '../../../runtime/cuda/params.js';
import type { CudaRuntime } from '../../../runtime/cuda/runtime.js';
import { RuntimeError } from '../../../runtime/errors.js';
import { ParamStore } from '../../../runtime/model/params.js';
import { tf } from '../../../runtime/tf.js';
import { grpoRunner } from '../../../runtime/stages/grpo.js';
import type { StageContext } from '../../../runtime/stages/stage-runner.js';
import { checkText } from '../../helpers.js';
import { grpoContext, grpoRunDir, grpoSpec } from './grpo-context.js';
import { useCpu } from '../gradcheck.js';


/** A driver that hands out addresses and records every allocation's size; launching a kernel fails. */
function fakeCuda(): { runtime: CudaRuntime; allocations: number[]; zeroed: number[] } {
  const allocations: number[] = [];
  const zeroed: number[] = [];
  let next = 0x1000n;
  const driver = {
    alloc(bytes: number) {
      allocations.push(bytes);
      next += BigInt(Math.ceil(bytes / 256) * 256 + 256);
      return next;
    },
    free: () => undefined,
    upload: () => undefined,
    download: () => undefined,
    zero: (_p: bigint, bytes: number) => zeroed.push(bytes),
    synchronize: () => undefined,
    launch() {
      throw new RuntimeError('fake driver: no kernel runs here');
    },
  };
  // only the driver and the kernel lookup are reached before the first launch
  const runtime = { driver, lt: {}, kernel: () => ({}), description: 'fake' } as unknown as CudaRuntime;
  return { runtime, allocations, zeroed };
}

describe('a grpo stage under --backend cuda', () => {
  beforeAll(useCpu);

  it('trains the policy on the device and decodes its rollouts from the trainer\'s weights', { timeout: 60_000 }, async () => {
    const checked = checkText(grpoSpec());
    expect(checked.diagnostics).toEqual([]);
    const doc = lowerSpec(checked, '/mem');
    const cuda = fakeCuda();
    const lines: string[] = [];
    const ctx: StageContext = { ...grpoContext(doc, grpoRunDir('moe-grpo-cuda-')), backend: 'cuda', cuda: cuda.runtime, log: (line) => lines.push(line) };
    // the first rollout's first kernel is where the fake stops
    await expect(grpoRunner(ctx)).rejects.toThrow('fake driver: no kernel runs here');
    expect(lines).toContain('rl: rollouts and policy updates on cuda');
    const model = doc.models.find((m) => m.name === 'Mini')!;
    const weightBytes = layoutParams(model, (node) => cudaOp(node.op)?.fused?.(node) ?? []).floats * 4;
    // the trainer's weights, gradients and two moments, and the reference's weights: five, and no sixth for the decoder
    expect(cuda.allocations.filter((b) => b === weightBytes)).toHaveLength(5);
    // AdamW's moments start at zero on the device
    expect(cuda.zeroed.filter((b) => b === weightBytes)).toHaveLength(2);
  });

  it('refuses a rollout batch with a token id outside the vocabulary before the device reads it', async () => {
    const doc = lowerSpec(checkText(grpoSpec()), '/mem');
    const model = doc.models.find((m) => m.name === 'Mini')!;
    const store = ParamStore.initialise(model, 1);
    const { params, state } = await store.snapshot();
    store.dispose();
    const policy = new CudaGrpoPolicy(fakeCuda().runtime, model, { params, state }, { betas: [0.9, 0.95], weightDecay: 0, eps: 1e-8 });
    const ids = Int32Array.from([1, 2, 300, 4]);
    const tensors = {
      inputIds: tf.tensor2d(ids, [1, 4], 'int32'),
      targets: tf.tensor2d(Int32Array.from([2, 300, 4, 0]), [1, 4], 'int32'),
      mask: tf.tensor2d([[0, 1, 1, 0]]),
      advantages: tf.tensor2d([[1]]),
      oldLogp: tf.zeros([1, 4]) as tf.Tensor2D,
    };
    const batch = { ...tensors, tokens: 2, dispose: () => Object.values(tensors).forEach((t) => t.dispose()) };
    const options = { clipLow: 0.2, clipHigh: 0.2, kl: 0, loss: 'grpo' as const, maxNewTokens: 4, lr: 1e-3, clipGrad: 1, temperature: 1, microBatches: 1 };
    try {
      // the fake driver fails any kernel launch: the refusal comes first, from the host
      await expect(policy.update(batch, undefined, options)).rejects.toThrow('token id 300 is outside the vocabulary 0..259');
    } finally {
      batch.dispose();
      policy.dispose();
    }
  });
});
