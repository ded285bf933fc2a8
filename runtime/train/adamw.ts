/**
 * AdamW with decoupled weight decay (Loshchilov & Hutter), with the semantics of PyTorch's
 * `torch.optim.AdamW` (amsgrad off, maximize off), per parameter p with gradient g at step t ≥ 1:
 *
 *   p ← p − lr·wd·p                       only when the IR's `decay` flag is true
 *   m ← β1·m + (1 − β1)·g
 *   v ← β2·v + (1 − β2)·g²
 *   p ← p − (lr / (1 − β1^t)) · m / (sqrt(v) / sqrt(1 − β2^t) + eps)
 *
 * Decay goes by the IR flag rather than by rank so the compiler alone decides the policy (norms
 * false, matrices true). Parameters, m and v are fp32 tfjs variables updated in place
 * (`assignInPlace`: on webgpu each keeps its GPU buffer, which a captured step graph relies on);
 * the whole step over every parameter is one `tf.tidy`. A gradient multiplier (`gradScale`) lets the caller fuse global-norm clipping into
 * the same pass instead of materialising clipped gradients.
 *
 * The step counter is global, not per parameter: a parameter that got no gradient this step (tfjs
 * omits it) is skipped — no decay, no moment update — as PyTorch skips a `grad is None` parameter,
 * but its bias correction then uses the global count (PyTorch would keep its own). In a graph that
 * passes the verifier every parameter reaches the loss, so the two agree.
 */
import type { AttrValue } from '../../ir/types.js';
import { RuntimeError } from '../errors.js';
import { assignInPlace } from '../backend/in-place.js';
import type { FusedAdamW } from '../backend/capabilities.js';
import { backendCapabilities } from '../backend/registry.js';
import type { ParamStore, TensorData } from '../model/params.js';
import { tf } from '../tf.js';

export interface AdamWConfig {
  readonly betas: readonly [number, number];
  readonly weightDecay: number;
  readonly eps: number;
}

/** The plan's `hyper.optimizer` (`{kind: adamw, lr, betas, weight_decay, eps}`); lr comes per step from the schedule. */
export function adamwConfig(attr: AttrValue | undefined): AdamWConfig & { readonly lr: number } {
  const o = (attr ?? { kind: 'adamw' }) as { readonly [k: string]: AttrValue };
  if (typeof o !== 'object' || Array.isArray(o) || o.kind !== 'adamw') throw new RuntimeError(`unsupported optimizer ${JSON.stringify(attr)}: only adamw`);
  // defaults are the schema's (compiler/schema/stages.ts), for plans written by hand
  const lr = o.lr ?? 3e-4;
  const betas = o.betas ?? [0.9, 0.95];
  const wd = o.weight_decay ?? 0.1;
  const eps = o.eps ?? 1e-8;
  const ok = (x: AttrValue, lo: number, hi: number): x is number => typeof x === 'number' && x >= lo && x <= hi;
  if (!ok(lr, 0, Infinity) || lr === 0) throw new RuntimeError(`optimizer.lr must be > 0, got ${JSON.stringify(lr)}`);
  if (!Array.isArray(betas) || betas.length !== 2 || !betas.every((b) => ok(b, 0, 1))) throw new RuntimeError(`optimizer.betas must be two numbers in [0, 1], got ${JSON.stringify(betas)}`);
  if (!ok(wd, 0, Infinity)) throw new RuntimeError(`optimizer.weight_decay must be ≥ 0, got ${JSON.stringify(wd)}`);
  if (!ok(eps, 0, Infinity) || eps === 0) throw new RuntimeError(`optimizer.eps must be > 0, got ${JSON.stringify(eps)}`);
  return { lr, betas: [betas[0] as number, betas[1] as number], weightDecay: wd, eps };
}

export interface AdamWState {
  /** optimizer steps taken (t of the last update) */
  readonly step: number;
  readonly m: Map<string, TensorData>;
  readonly v: Map<string, TensorData>;
}

export interface StepOptions {
  /** the learning rate of this step (from the schedule) */
  readonly lr: number;
  /** multiplies every gradient first: the clip factor (default 1) */
  readonly gradScale?: number;
}

/**
 * One step's numbers, which change from step to step (lr from the schedule, t for the bias
 * corrections, the clip factor); everything else is the optimizer's constant configuration.
 */
export interface AdamWStepValues {
  /** gradient multiplier (the clip factor) */
  readonly scale: number;
  /** 1 − lr·wd, the decoupled decay factor */
  readonly shrink: number;
  /** sqrt(1 − β2^t) */
  readonly sqrtBc2: number;
  /** lr / (1 − β1^t) */
  readonly stepSize: number;
}

/** The same numbers as scalar tensors, as a captured GPU step graph takes them (webgpu-graph.ts). */
export type AdamWStepTensors = { readonly [K in keyof AdamWStepValues]: tf.Scalar };

export function stepTensors(values: AdamWStepValues): AdamWStepTensors {
  return { scale: tf.scalar(values.scale), shrink: tf.scalar(values.shrink), sqrtBc2: tf.scalar(values.sqrtBc2), stepSize: tf.scalar(values.stepSize) };
}

interface Slot {
  readonly param: tf.Variable;
  readonly decay: boolean;
  readonly m: tf.Variable;
  readonly v: tf.Variable;
}

/** A non-trainable zero variable shaped like `like`; the temporary zeros tensor is released. */
function zerosVariable(like: tf.Tensor): tf.Variable {
  const zeros = tf.zerosLike(like);
  const variable = tf.variable(zeros, false);
  zeros.dispose();
  return variable;
}

export class AdamW {
  private readonly slots = new Map<string, Slot>();
  private t = 0;

  /** `params` by name, `decay` whether weight decay applies to each (missing = false). */
  constructor(
    params: ReadonlyMap<string, tf.Variable>,
    decay: ReadonlyMap<string, boolean>,
    readonly config: AdamWConfig,
  ) {
    for (const [name, param] of params) {
      if (param.dtype !== 'float32') throw new RuntimeError(`AdamW needs float32 parameters; ${name} is ${param.dtype}`);
      this.slots.set(name, {
        param,
        decay: decay.get(name) ?? false,
        // not trainable: variableGrads must never differentiate the optimizer's own state
        m: zerosVariable(param),
        v: zerosVariable(param),
      });
    }
  }

  /** An optimizer over every parameter of a store, decay from the IR's flags. */
  static forStore(store: ParamStore, config: AdamWConfig): AdamW {
    return new AdamW(store.params, new Map(store.model.params.map((p) => [p.name, p.decay])), config);
  }

  get step(): number {
    return this.t;
  }

  /** One update of every parameter that has a gradient in `grads` (keyed by parameter name). Does not dispose `grads`. */
  apply(grads: ReadonlyMap<string, tf.Tensor>, options: StepOptions): void {
    const values = this.nextStep(grads, options);
    tf.tidy(() => this.update(grads, values));
  }

  /**
   * Checks `grads` and the step's options, advances the step count and returns the step's
   * numbers; `update` then applies them. Split so a captured step graph can replay the update
   * with new numbers as tensors.
   */
  nextStep(grads: ReadonlyMap<string, tf.Tensor>, options: StepOptions): AdamWStepValues {
    const { lr } = options;
    const scale = options.gradScale ?? 1;
    if (!Number.isFinite(lr) || lr < 0) throw new RangeError(`lr must be a finite number ≥ 0, got ${lr}`);
    if (!Number.isFinite(scale)) throw new RangeError(`gradScale must be finite, got ${scale}`);
    for (const name of grads.keys()) if (!this.slots.has(name)) throw new RuntimeError(`gradient for ${name}, which the optimizer does not hold`);
    this.t += 1;
    const [b1, b2] = this.config.betas;
    return { scale, shrink: 1 - lr * this.config.weightDecay, sqrtBc2: Math.sqrt(1 - b2 ** this.t), stepSize: lr / (1 - b1 ** this.t) };
  }

  /**
   * The update itself, in place (in-place.ts), with the step's numbers as host numbers or as
   * scalar tensors (the same float32 arithmetic either way). Call inside a `tf.tidy`.
   */
  update(grads: ReadonlyMap<string, tf.Tensor>, step: AdamWStepValues | AdamWStepTensors): void {
    const fused = backendCapabilities().adamw;
    if (fused !== null) {
      this.updateFused(fused, grads, step);
      return;
    }
    const [b1, b2] = this.config.betas;
    const decays = this.config.weightDecay !== 0;
    const unscaled = step.scale === 1;
    for (const [name, g0] of grads) {
      const slot = this.slots.get(name)!;
      const g = unscaled ? g0 : tf.mul(g0, step.scale);
      const m = tf.add(tf.mul(slot.m, b1), tf.mul(g, 1 - b1));
      const v = tf.add(tf.mul(slot.v, b2), tf.mul(tf.square(g), 1 - b2));
      const p = slot.decay && decays ? tf.mul(slot.param, step.shrink) : slot.param;
      const denom = tf.add(tf.div(tf.sqrt(v), step.sqrtBc2), this.config.eps);
      assignInPlace(slot.param, tf.sub(p, tf.mul(tf.div(m, denom), step.stepSize)));
      assignInPlace(slot.m, m);
      assignInPlace(slot.v, v);
    }
  }

  /** The same update as the backend's fused in-place kernels (webgpu: three shaders per parameter, backend/webgpu-adamw.ts). */
  private updateFused(fused: FusedAdamW, grads: ReadonlyMap<string, tf.Tensor>, step: AdamWStepValues | AdamWStepTensors): void {
    const numbers = typeof step.scale === 'number';
    const values = numbers
      ? tf.tensor1d([step.scale, step.shrink, step.sqrtBc2, step.stepSize] as number[], 'float32')
      : tf.stack([step.scale, step.shrink, step.sqrtBc2, step.stepSize] as tf.Scalar[]);
    const [beta1, beta2] = this.config.betas;
    const constants = { beta1, beta2, eps: this.config.eps };
    const decays = this.config.weightDecay !== 0;
    for (const [name, g] of grads) {
      const slot = this.slots.get(name)!;
      fused.update({ param: slot.param, m: slot.m, v: slot.v, g }, values as tf.Tensor1D, constants, slot.decay && decays);
    }
    values.dispose();
  }

  /** Every tensor the update writes (parameters, then moments): their buffers must not change under a captured graph. */
  stateTensors(): tf.Tensor[] {
    return [...this.slots.values()].flatMap((s) => [s.param, s.m, s.v]);
  }

  /** The moments and step count as host arrays (for a checkpoint). */
  async state(): Promise<AdamWState> {
    const m = new Map<string, TensorData>();
    const v = new Map<string, TensorData>();
    for (const [name, slot] of this.slots) {
      m.set(name, { shape: slot.m.shape, data: (await slot.m.data()) as Float32Array });
      v.set(name, { shape: slot.v.shape, data: (await slot.v.data()) as Float32Array });
    }
    return { step: this.t, m, v };
  }

  /** Continues from a saved state; names and shapes must match the parameters exactly. */
  restore(state: AdamWState): void {
    if (!Number.isInteger(state.step) || state.step < 0) throw new RuntimeError(`optimizer state step must be an integer ≥ 0, got ${state.step}`);
    for (const [which, map] of [
      ['m', state.m],
      ['v', state.v],
    ] as const) {
      for (const name of map.keys()) if (!this.slots.has(name)) throw new RuntimeError(`optimizer state ${which} has ${name}, which is not a parameter`);
      for (const [name, slot] of this.slots) {
        const t = map.get(name);
        if (!t) throw new RuntimeError(`optimizer state ${which} lacks ${name}`);
        const want = slot.param.shape;
        if (t.shape.length !== want.length || t.shape.some((d, i) => d !== want[i]) || t.data.length !== slot.param.size) {
          throw new RuntimeError(`optimizer state ${which} of ${name} has shape [${t.shape.join(', ')}], the parameter is [${want.join(', ')}]`);
        }
      }
    }
    tf.tidy(() => {
      for (const [name, slot] of this.slots) {
        assignInPlace(slot.m, tf.tensor(state.m.get(name)!.data, slot.param.shape, 'float32'));
        assignInPlace(slot.v, tf.tensor(state.v.get(name)!.data, slot.param.shape, 'float32'));
      }
    });
    this.t = state.step;
  }

  dispose(): void {
    for (const slot of this.slots.values()) {
      slot.m.dispose();
      slot.v.dispose();
    }
    this.slots.clear();
  }
}
