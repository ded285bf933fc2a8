/**
 * One training step on one batch: forward + backward, NaN/Inf check, global-norm clipping, AdamW,
 * router bias update. The trainer loop calls it once per optimizer step and owns everything around
 * it (the lr and γ/λ schedules, logging, stop-or-skip on a bad value, checkpoints).
 *
 * The router `load` counts come from the same forward pass as the loss: `forward` returns the
 * values it is asked for already `tf.keep`-ed, so inside the `tf.variableGrads` closure they
 * survive the closure's tidy, while only the returned loss is differentiated. A second,
 * gradient-free forward would double the forward cost; the loads carry no gradient anyway
 * (specs/ir.md §4.9: `indices` and `load` are constants of the selection), so nothing is lost.
 *
 * One device-to-host transfer per step: the loss, the squared gradient norm, one non-finite flag
 * per tensor and every router's load are packed into one vector and read together. The read must
 * come before the update (a non-finite value must stop the step first); the clip factor computed
 * from the norm is then fused into the AdamW pass as a gradient multiplier.
 */
import type { ModelGraph } from '../../compiler/ir/types.js';
import { forward, type ForwardInputs } from '../model/forward.js';
import type { ParamStore } from '../model/params.js';
import { tf } from '../tf.js';
import type { AdamW } from './adamw.js';
import { routerLoads, updateRouterBiases, type RouterLoad } from './bias.js';
import { clipScale, gradNormSquared } from './clip.js';
import { firstFlagged, nonFiniteFlags } from './finite.js';
import { mtpTerms, reweightedLoss, type MtpTerm } from './objective.js';

export interface StepOptions {
  /** this step's learning rate (schedule.ts `learningRate`) */
  readonly lr: number;
  /** the stage's `clip_grad`: max global norm, 0 = off */
  readonly clip: number;
  /** load values to return (default: every router's `load`, main layers then MTP); the bias update always reads its own */
  readonly loadOutputs?: readonly string[];
  /** γ for every biased router this step (a schedule's value); default each node's `bias_rate` */
  readonly biasRate?: number;
  /** MTP weight λ this step (a schedule's value); default the graph's own */
  readonly mtpWeight?: number;
  /** false: leave the router biases alone (gradient accumulation does it once per step itself) */
  readonly updateBias?: boolean;
}

export interface StepResult {
  /** the objective before the update (with λ as given) */
  readonly loss: number;
  /** global L2 norm of the gradients before clipping */
  readonly gradNorm: number;
  /** the factor the gradients were multiplied by (1 = not clipped) */
  readonly clipScale: number;
  /** per router load value name: expert counts of this batch */
  readonly loads: Map<string, Float32Array>;
  /**
   * The first non-finite tensor ('loss' or a parameter name), or null. When set, nothing was
   * updated: no optimizer step, no bias change; the trainer stops or skips the batch.
   */
  readonly nonFinite: string | null;
}

/** What a step needs from the graph, computed once per model rather than per step. */
export interface StepPlan {
  readonly routers: readonly RouterLoad[];
  readonly mtp: readonly MtpTerm[];
  /** parameter name of each tfjs variable (variableGrads keys gradients by the variable's own name) */
  readonly byVariable: ReadonlyMap<string, string>;
  readonly variables: readonly tf.Variable[];
}

export function stepPlan(model: ModelGraph, store: ParamStore): StepPlan {
  const byVariable = new Map<string, string>();
  for (const [name, v] of store.params) byVariable.set(v.name, name);
  return { routers: routerLoads(model), mtp: mtpTerms(model), byVariable, variables: [...store.params.values()] };
}

export async function trainStep(
  model: ModelGraph,
  store: ParamStore,
  optimizer: AdamW,
  batch: ForwardInputs,
  options: StepOptions,
  plan: StepPlan = stepPlan(model, store),
): Promise<StepResult> {
  const allLoads = plan.routers.map((r) => r.load);
  const reported = options.loadOutputs ?? allLoads;
  const loadNames = [...new Set([...allLoads, ...reported])];
  const reweight = options.mtpWeight !== undefined && plan.mtp.length > 0;
  const wanted = ['loss', ...(reweight ? plan.mtp.map((t) => t.value) : []), ...loadNames];

  let values = new Map<string, tf.Tensor>();
  const { value, grads: byVariable } = tf.variableGrads(() => {
    values = forward(model, store, batch, wanted);
    return reweight ? reweightedLoss(values, plan.mtp, options.mtpWeight!) : (values.get('loss') as tf.Scalar);
  }, [...plan.variables]);

  // gradients by parameter name, in the store's (= the IR's) order, so "first bad tensor" is stable
  const grads = new Map<string, tf.Tensor>();
  for (const [vname, g] of Object.entries(byVariable)) grads.set(plan.byVariable.get(vname)!, g);
  const ordered = new Map([...store.params.keys()].filter((n) => grads.has(n)).map((n) => [n, grads.get(n)!]));

  try {
    const packed = tf.tidy(() =>
      tf.concat([
        tf.reshape(value, [1]),
        tf.reshape(gradNormSquared(ordered.values()), [1]),
        nonFiniteFlags([value, ...ordered.values()]),
        ...loadNames.map((n) => tf.reshape(tf.cast(values.get(n)!, 'float32'), [-1])),
      ]),
    );
    const host = (await packed.data()) as Float32Array;
    packed.dispose();

    const names = ['loss', ...ordered.keys()];
    const loss = host[0]!;
    const gradNorm = Math.sqrt(host[1]!);
    const nonFinite = firstFlagged(names, host.subarray(2, 2 + names.length));
    const loads = new Map<string, Float32Array>();
    let at = 2 + names.length;
    for (const n of loadNames) {
      const size = values.get(n)!.size;
      if (reported.includes(n)) loads.set(n, host.slice(at, at + size));
      at += size;
    }
    if (nonFinite !== null) return { loss, gradNorm, clipScale: 1, loads, nonFinite };

    const scale = clipScale(gradNorm, options.clip);
    optimizer.apply(ordered, { lr: options.lr, gradScale: scale });
    if (options.updateBias ?? true) updateRouterBiases(store, plan.routers, values, options.biasRate);
    return { loss, gradNorm, clipScale: scale, loads, nonFinite: null };
  } finally {
    value.dispose();
    for (const t of values.values()) t.dispose();
    for (const g of grads.values()) g.dispose();
  }
}
