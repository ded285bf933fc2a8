/**
 * GRPO's policy on cuda: rollouts, the reference's log-probabilities and the policy updates all run
 * on the device, the weights staying there across steps.
 *
 * An update (the tfjs one is runtime/rl/update.ts) per part of the rollout batch (micro_batches):
 *   1. the policy's train-mode forward up to `logits` (CudaModel.forwardOnDevice);
 *   2. kernels/grpo.cu `grpo_token_stats`: per position log softmax(logits/τ)[target] and the entropy,
 *      read back as [N, T] floats (one small read);
 *   3. the host runs runtime/rl/objective.ts on them with tf.grad (rl/token-objective.ts): the loss,
 *      the diagnostics and c_t = ∂L/∂logp_t — the very objective the tfjs update optimises;
 *   4. c is uploaded, `grpo_logits_grad` writes ∇logits = c_t/τ · (onehot − softmax) and the backward
 *      of every node below the logits runs (CudaModel.backwardFrom), gradients adding up over parts;
 * then one gradient-norm read, clipping and AdamW over the parameters the logits depend on (the MTP
 * heads get no gradient and are left alone, as tfjs AdamW skips them; router biases are not updated).
 *
 * The decoder reads the trainer's weights (CudaModel.sharedWeights): no copy per rollout. The
 * frozen reference (β > 0) is a forward-only CudaModel of its own weights.
 */
import type { ModelGraph } from '../../ir/types.js';
import { RuntimeError } from '../errors.js';
import { neededNodes } from '../model/forward.js';
import type { TensorData } from '../model/params.js';
import { policyRows, type PolicyBatch } from '../rl/batch.js';
import type { BatchTotals } from '../rl/objective.js';
import { tokenObjective } from '../rl/token-objective.js';
import { partRows, type UpdateOptions, type UpdateResult } from '../rl/update.js';
import { tf } from '../tf.js';
import type { AdamWConfig, AdamWState } from '../train/adamw.js';
import { CudaDecodeModel } from './decoder.js';
import type { DevicePtr } from './driver.js';
import { f32, i32, ptr } from './driver.js';
import { CudaModel, type Prepared } from './executor.js';
import { F32, launch, type CudaPrecision } from './ops/context.js';
import type { CudaRuntime } from './runtime.js';

const LOGITS = 'logits';

/** Device buffers that grow to the largest request and are reused (token ids, coefficients, per-token outputs). */
class Scratch {
  private readonly buffers = new Map<string, { ptr: DevicePtr; bytes: number }>();
  constructor(private readonly runtime: CudaRuntime) {}

  get(name: string, bytes: number): DevicePtr {
    const hit = this.buffers.get(name);
    if (hit && hit.bytes >= bytes) return hit.ptr;
    if (hit) this.runtime.driver.free(hit.ptr);
    const entry = { ptr: this.runtime.driver.alloc(bytes), bytes };
    this.buffers.set(name, entry);
    return entry.ptr;
  }

  dispose(): void {
    for (const b of this.buffers.values()) this.runtime.driver.free(b.ptr);
    this.buffers.clear();
  }
}

/** Per-position log-probability and entropy [rows·T] of the targets under a plan's logits / τ. */
function tokenStats(runtime: CudaRuntime, scratch: Scratch, logits: DevicePtr, targets: DevicePtr, positions: number, vocab: number, temperature: number): { logp: Float32Array; entropy: Float32Array } {
  const [logp, entropy] = [scratch.get('logp', positions * F32), scratch.get('entropy', positions * F32)];
  launch(runtime, 'grpo_token_stats', [positions], 256, [ptr(logits), ptr(targets), f32(inverseTemperature(temperature)), ptr(logp), ptr(entropy), i32(vocab)]);
  const host = { logp: new Float32Array(positions), entropy: new Float32Array(positions) };
  runtime.driver.download(host.logp, logp);
  runtime.driver.download(host.entropy, entropy);
  return host;
}

/** 1/τ as policyLogprobs divides (greedy, τ = 0, and τ = 1 leave the logits as they are). */
export function inverseTemperature(temperature: number): number {
  return temperature > 0 && temperature !== 1 ? 1 / temperature : 1;
}

/** A batch's token ids and targets on the host, checked against the vocabulary (they index the embedding and the logits on the device, unchecked there). */
async function hostIds(batch: PolicyBatch, vocab: number): Promise<{ ids: Int32Array; targets: Int32Array }> {
  const ids = Int32Array.from(await batch.inputIds.data());
  const targets = Int32Array.from(await batch.targets.data());
  const bad = [...ids, ...targets].find((t) => t < 0 || t >= vocab);
  if (bad !== undefined) throw new RuntimeError(`token id ${bad} is outside the vocabulary 0..${vocab - 1}`);
  return { ids, targets };
}

/** The parameters the main head's logits depend on: those an update changes. */
export function policyParams(model: ModelGraph): Set<string> {
  return new Set(neededNodes(model, [LOGITS]).flatMap((n) => n.params));
}

export interface CudaGrpoStart {
  readonly params: ReadonlyMap<string, TensorData>;
  readonly state: ReadonlyMap<string, TensorData>;
  /** a resumed run's AdamW moments and step */
  readonly optimizer?: AdamWState;
  /** the frozen reference's weights (β > 0) */
  readonly reference?: { readonly params: ReadonlyMap<string, TensorData>; readonly state: ReadonlyMap<string, TensorData> };
}

export class CudaGrpoPolicy {
  readonly trainer: CudaModel;
  private readonly reference: CudaModel | undefined;
  private decoder: CudaDecodeModel | undefined;
  private readonly scratch: Scratch;
  private readonly vocab: number;
  private readonly updated: Set<string>;

  constructor(
    private readonly runtime: CudaRuntime,
    readonly model: ModelGraph,
    start: CudaGrpoStart,
    private readonly config: AdamWConfig,
    private readonly precision: CudaPrecision = 'fp32',
    /** `recompute = full`: the update's backward re-runs each layer's forward (lifetimes.ts) */
    recompute = false,
  ) {
    const logits = model.values[LOGITS];
    if (!logits) throw new RuntimeError(`model ${model.name} produces no logits`);
    this.vocab = logits.shape.at(-1) as number;
    this.trainer = new CudaModel(runtime, model, start.params, start.state, {
      training: true,
      precision,
      recompute,
      ...(start.optimizer ? { moments: { m: start.optimizer.m, v: start.optimizer.v }, step: start.optimizer.step } : {}),
    });
    this.reference = start.reference ? new CudaModel(runtime, model, start.reference.params, start.reference.state, { precision }) : undefined;
    this.scratch = new Scratch(runtime);
    this.updated = policyParams(model);
  }

  /** The decode engine over the trainer's device weights (made once; every rollout reads the current weights). */
  decodeEngine(): CudaDecodeModel {
    return (this.decoder ??= new CudaDecodeModel(this.runtime, this.model, this.trainer.sharedWeights(), this.trainer.stateTensors(), this.precision));
  }

  /** The frozen reference's log-probabilities [N, T] of the batch's targets, in `parts` row blocks (undefined without a reference). */
  async referenceLogprobs(batch: PolicyBatch, temperature: number, parts: number): Promise<tf.Tensor2D | undefined> {
    if (!this.reference) return undefined;
    const [rows, T] = batch.inputIds.shape;
    const size = partRows(rows, parts);
    const { ids, targets } = await hostIds(batch, this.vocab);
    const out = new Float32Array(rows * T);
    for (let from = 0; from < rows; from += size) {
      const span = [from * T, (from + size) * T] as const;
      const p = this.reference.forwardOnDevice(ids.subarray(...span), size, T, 'forward', [LOGITS]);
      const onDevice = this.uploadTargets(targets.subarray(...span));
      out.set(tokenStats(this.runtime, this.scratch, this.reference.address(p, LOGITS), onDevice, size * T, this.vocab, temperature).logp, span[0]);
    }
    return tf.tensor2d(out, [rows, T]);
  }

  private uploadTargets(targets: Int32Array): DevicePtr {
    const at = this.scratch.get('targets', targets.byteLength);
    this.runtime.driver.upload(at, targets);
    return at;
  }

  /** One policy update on a rollout batch (rl/update.ts grpoUpdate's contract and result). */
  async update(batch: PolicyBatch, refLogp: tf.Tensor2D | undefined, options: UpdateOptions): Promise<UpdateResult> {
    const base = await this.backward(batch, refLogp, options);
    const { sq, finite } = this.trainer.gradientSquares();
    if (!Number.isFinite(base.loss)) return { ...base, gradNorm: Math.sqrt(sq), nonFinite: 'loss' };
    const step = { lr: options.lr, clip: options.clipGrad, betas: this.config.betas, weightDecay: this.config.weightDecay, eps: this.config.eps };
    const applied = this.trainer.applyGradients(step, sq, finite, this.updated);
    return { ...base, gradNorm: applied.gradNorm, nonFinite: applied.nonFinite };
  }

  /** The objective and every parameter's gradient of one update, without applying it (bench/cuda-grpo-check.ts). */
  async gradients(batch: PolicyBatch, refLogp: tf.Tensor2D | undefined, options: UpdateOptions): Promise<{ loss: number; grads: Map<string, TensorData> }> {
    const { loss } = await this.backward(batch, refLogp, options);
    return { loss, grads: this.trainer.gradientTensors() };
  }

  /** Forward, objective and backward of every part: the gradient arena holds the batch's gradient after it. */
  private async backward(batch: PolicyBatch, refLogp: tf.Tensor2D | undefined, options: UpdateOptions): Promise<{ loss: number; kl: number; clipFraction: number; entropy: number }> {
    const [rows, T] = batch.inputIds.shape;
    const size = partRows(rows, options.microBatches);
    const whole: BatchTotals = { sequences: rows, tokens: batch.tokens };
    const { ids, targets } = await hostIds(batch, this.vocab);
    const mask = (await batch.mask.data()) as Float32Array;
    const sums = { loss: 0, kl: 0, clipped: 0, entropy: 0 };
    const inverse = inverseTemperature(options.temperature);
    for (let from = 0; from < rows; from += size) {
      const span = [from * T, (from + size) * T] as const;
      const positions = size * T;
      const p: Prepared = this.trainer.forwardOnDevice(ids.subarray(...span), size, T, 'train', [LOGITS]);
      const onDevice = this.uploadTargets(targets.subarray(...span));
      const logits = this.trainer.address(p, LOGITS);
      const stats = tokenStats(this.runtime, this.scratch, logits, onDevice, positions, this.vocab, options.temperature);
      const part = policyRows(batch, refLogp, from, from + size);
      let objective;
      try {
        objective = await tokenObjective(stats.logp, part, whole, options);
      } finally {
        part.dispose();
      }
      sums.loss += objective.loss;
      sums.kl += objective.kl;
      sums.clipped += objective.clipped;
      // the entropy diagnostic as meanEntropy: Σ entropy·mask over the whole batch's counted tokens
      for (let i = 0; i < positions; i++) sums.entropy += stats.entropy[i]! * mask[span[0] + i]!;
      const coef = this.scratch.get('coefficients', positions * F32);
      this.runtime.driver.upload(coef, objective.coefficients);
      this.trainer.backwardFrom(p, LOGITS, (grad) => launch(this.runtime, 'grpo_logits_grad', [positions], 256, [ptr(logits), ptr(onDevice), ptr(coef), f32(inverse), ptr(grad), i32(this.vocab)]), from === 0);
    }
    return { loss: sums.loss, kl: sums.kl, clipFraction: sums.clipped, entropy: sums.entropy / Math.max(whole.tokens, 1) };
  }

  /** Weights, AdamW state and router state on the host (checkpoints). */
  snapshot(): { params: Map<string, TensorData>; state: Map<string, TensorData>; optimizer: AdamWState } {
    const { params, m, v, state } = this.trainer.snapshot();
    return { params, state, optimizer: { step: this.trainer.step, m, v } };
  }

  dispose(): void {
    this.decoder?.dispose();
    this.reference?.dispose();
    this.scratch.dispose();
    this.trainer.dispose();
  }
}
