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
import type { ModelGraph } from '../../ir/types.js';
import { forward, type ForwardInputs } from '../model/forward.js';
import type { ParamStore } from '../model/params.js';
import { tf } from '../tf.js';
import type { GraphCapture } from '../backend/capabilities.js';
import { inPlaceWritten } from '../backend/in-place.js';
import { graphCapture, ReplaySlot } from '../backend/replay.js';
import { runtimeEnv } from '../config/env.js';
import { stepTensors, type AdamW } from './adamw.js';
import { routerLoads, updateRouterBiases, type RouterLoad } from './bias.js';
import { clipScale, gradNormSquared } from './clip.js';
import { firstFlagged, nonFiniteFlags } from './finite.js';
import { lossParts, lossTerms, mtpTerms, reweightedLoss, type LossParts, type LossTerm, type MtpTerm } from './objective.js';

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
  /** false: leave the router biases alone (to compare objectives on unchanged routing); accumulate.ts updates them once per step itself */
  readonly updateBias?: boolean;
  /** `parallel { recompute = full }`: each decoder layer keeps only its inputs and runs again in the backward (model/recompute.ts) */
  readonly recompute?: boolean;
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
  /** the loss's parts (lm, mtp, aux, z), read with it: they add up to `loss` (absent for accumulated micro-batches) */
  readonly parts?: LossParts;
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
  /** every term of the loss, for its parts in the metrics */
  readonly terms: readonly LossTerm[];
  /** parameter name of each tfjs variable (variableGrads keys gradients by the variable's own name) */
  readonly byVariable: ReadonlyMap<string, string>;
  readonly variables: readonly tf.Variable[];
  /** captured graphs where the backend has them (StepGraphs.forBackend()); undefined runs every step plainly */
  readonly graphs?: StepGraphs;
}

export function stepPlan(model: ModelGraph, store: ParamStore): StepPlan {
  const byVariable = new Map<string, string>();
  for (const [name, v] of store.params) byVariable.set(v.name, name);
  return { routers: routerLoads(model), mtp: mtpTerms(model), terms: lossTerms(model), byVariable, variables: [...store.params.values()], graphs: StepGraphs.forBackend() };
}

/** What the forward + backward pass leaves for the host read and the update. */
interface Pass {
  readonly value: tf.Scalar;
  readonly values: Map<string, tf.Tensor>;
  /** gradients by parameter name, in the store's (= the IR's) order, so "first bad tensor" is stable */
  readonly grads: Map<string, tf.Tensor>;
  /** loss, squared gradient norm, non-finite flags, loads: the step's one host read */
  readonly packed: tf.Tensor1D;
  readonly loadNames: readonly string[];
}

function passWanted(plan: StepPlan, options: StepOptions): { wanted: string[]; loadNames: string[]; reweight: boolean } {
  const allLoads = plan.routers.map((r) => r.load);
  const loadNames = [...new Set([...allLoads, ...(options.loadOutputs ?? allLoads)])];
  const reweight = options.mtpWeight !== undefined && plan.mtp.length > 0;
  const wanted = ['loss', ...(reweight ? plan.mtp.map((t) => t.value) : []), ...loadNames];
  return { wanted: [...new Set([...wanted, ...plan.terms.map((t) => t.value)])], loadNames, reweight };
}

function runPass(model: ModelGraph, store: ParamStore, batch: ForwardInputs, options: StepOptions, plan: StepPlan): Pass {
  const { wanted, loadNames, reweight } = passWanted(plan, options);
  let values = new Map<string, tf.Tensor>();
  const { value, grads: byVariable } = tf.variableGrads(() => {
    values = forward(model, store, batch, wanted, { recompute: options.recompute === true });
    return reweight ? reweightedLoss(values, plan.mtp, options.mtpWeight!) : (values.get('loss') as tf.Scalar);
  }, [...plan.variables]);
  const named = new Map<string, tf.Tensor>();
  for (const [vname, g] of Object.entries(byVariable)) named.set(plan.byVariable.get(vname)!, g);
  const grads = new Map([...store.params.keys()].filter((n) => named.has(n)).map((n) => [n, named.get(n)!]));
  const packed = tf.tidy(() =>
    tf.concat([
      tf.reshape(value, [1]),
      tf.reshape(gradNormSquared(grads.values()), [1]),
      nonFiniteFlags([value, ...grads.values()]),
      ...loadNames.map((n) => tf.reshape(tf.cast(values.get(n)!, 'float32'), [-1])),
      // the loss's terms last, for its parts
      ...plan.terms.map((t) => tf.reshape(t.value === 'loss' ? value : values.get(t.value)!, [1])),
    ]),
  ) as tf.Tensor1D;
  return { value, values, grads, packed, loadNames };
}

function disposePass(pass: Pass): void {
  pass.value.dispose();
  pass.packed.dispose();
  for (const t of pass.values.values()) t.dispose();
  for (const g of pass.grads.values()) g.dispose();
}

/** The host read unpacked; `nonFinite` set means nothing may be updated. */
function unpack(host: ArrayLike<number>, pass: Pass, reported: readonly string[], plan: StepPlan, options: StepOptions): Omit<StepResult, 'clipScale'> {
  const names = ['loss', ...pass.grads.keys()];
  const loss = host[0]!;
  const gradNorm = Math.sqrt(host[1]!);
  const flags = Array.from({ length: names.length }, (_, i) => host[2 + i]!);
  const nonFinite = firstFlagged(names, flags);
  const loads = new Map<string, Float32Array>();
  let at = 2 + names.length;
  for (const n of pass.loadNames) {
    const size = pass.values.get(n)!.size;
    if (reported.includes(n)) loads.set(n, Float32Array.from({ length: size }, (_, i) => host[at + i]!));
    at += size;
  }
  const terms = Array.from({ length: plan.terms.length }, (_, i) => host[at + i]!);
  const reweighted = options.mtpWeight !== undefined && plan.mtp.length > 0 ? options.mtpWeight : undefined;
  return { loss, gradNorm, loads, parts: lossParts(plan.terms, terms, reweighted), nonFinite };
}

export async function trainStep(
  model: ModelGraph,
  store: ParamStore,
  optimizer: AdamW,
  batch: ForwardInputs,
  options: StepOptions,
  plan: StepPlan = stepPlan(model, store),
): Promise<StepResult> {
  if (plan.graphs && (options.updateBias ?? true) && options.loadOutputs === undefined) {
    const result = await plan.graphs.step(model, store, optimizer, batch, options, plan);
    if (result !== null) return result;
  }
  const reported = options.loadOutputs ?? plan.routers.map((r) => r.load);
  return finishPlainly(runPass(model, store, batch, options, plan), store, optimizer, options, plan, reported);
}

/** The host read, then the update through tfjs; disposes the pass. */
async function finishPlainly(pass: Pass, store: ParamStore, optimizer: AdamW, options: StepOptions, plan: StepPlan, reported: readonly string[]): Promise<StepResult> {
  try {
    const read = unpack((await pass.packed.data()) as Float32Array, pass, reported, plan, options);
    if (read.nonFinite !== null) return { ...read, clipScale: 1 };
    const scale = clipScale(read.gradNorm, options.clip);
    optimizer.apply(pass.grads, { lr: options.lr, gradScale: scale });
    if (options.updateBias ?? true) updateRouterBiases(store, plan.routers, pass.values, options.biasRate);
    return { ...read, clipScale: scale };
  } finally {
    disposePass(pass);
  }
}

/**
 * trainStep as two captured graphs where the backend has them (backend/replay.ts; webgpu today):
 * the forward + backward pass up to the packed host vector, and the update (AdamW and the router
 * biases, in place). The first step runs plainly (shaders compile, the buffer pool grows), the
 * second is captured, the rest replay: the same kernels on the same buffers, so the numbers are the
 * plain path's exactly. A change of shapes or options, or state that moved to other buffers (a
 * restored checkpoint), drops the graphs and captures again. MOE_WEBGPU_GRAPHS=0 turns this off.
 */
export class StepGraphs {
  private readonly pass: ReplaySlot<Pass>;
  private readonly update: ReplaySlot<void>;
  /** MOE_GRAPH_TRACE=1: each graph step's host encode time and GPU wait on stderr (a diagnostic) */
  private readonly trace = runtimeEnv().graphTrace;

  private constructor(private readonly graphs: GraphCapture) {
    this.pass = new ReplaySlot<Pass>(graphs, 1, disposePass);
    this.update = new ReplaySlot<void>(graphs, 0, () => undefined);
  }

  /** Graphs for trainStep where the active backend captures them and they are not switched off, else undefined. */
  static forBackend(): StepGraphs | undefined {
    const graphs = graphCapture();
    return graphs === null ? undefined : new StepGraphs(graphs);
  }

  /** why capturing was given up, once it was */
  get refused(): string | null {
    return this.pass.refused ?? this.update.refused;
  }

  /** steps that replayed the pass graph (the others ran plainly or were captured) */
  get replays(): number {
    return this.pass.replays;
  }

  /** One step through the graphs, or null where the plain path must run it. */
  async step(model: ModelGraph, store: ParamStore, optimizer: AdamW, batch: ForwardInputs, options: StepOptions, plan: StepPlan): Promise<StepResult | null> {
    if (this.refused !== null) return null;
    const began = performance.now();
    const inputs = [batch.inputIds, ...(batch.lossMask ? [batch.lossMask] : [])];
    const key = JSON.stringify([inputs.map((t) => t.shape), options.mtpWeight ?? null, options.biasRate === undefined, options.recompute === true]);
    const state = this.state(optimizer, store, plan);
    this.pass.check(key, state);
    this.update.check(key, state);
    const loads = plan.routers.map((r) => r.load);
    const run = this.pass.run(() => runPass(model, store, batch, options, plan), inputs, () => state);
    // warming up, or a capture that cannot be replayed (it still ran the pass for real): finish plainly
    if (run.mode === 'plain') return finishPlainly(run.result, store, optimizer, options, plan, loads);
    const pass = run.result;
    const encoded = performance.now();
    const read = unpack(await run.graph.read(pass.packed), pass, loads, plan, options);
    if (this.trace) console.error(`graph step: capture/replay encode ${(encoded - began).toFixed(1)} ms, GPU wait ${(performance.now() - encoded).toFixed(1)} ms`);
    if (read.nonFinite !== null) return { ...read, clipScale: 1 };
    const scale = clipScale(read.gradNorm, options.clip);
    const scalars = stepTensors(optimizer.nextStep(pass.grads, { lr: options.lr, gradScale: scale }));
    const gamma = options.biasRate === undefined ? undefined : tf.scalar(options.biasRate);
    const stepInputs = [scalars.scale, scalars.shrink, scalars.sqrtBc2, scalars.stepSize, ...(gamma ? [gamma] : [])];
    try {
      const apply = (): void => {
        tf.tidy(() => optimizer.update(pass.grads, scalars));
        updateRouterBiases(store, plan.routers, pass.values, gamma);
      };
      const replayed = performance.now();
      if (this.update.run(apply, stepInputs, () => state).mode === 'replayed') {
        // the parameters changed under tfjs's feet: a kept decode graph must not be reused
        inPlaceWritten();
        if (this.trace) {
          await this.graphs.settled();
          console.error(`graph step: update replay and GPU ${(performance.now() - replayed).toFixed(1)} ms`);
        }
      }
    } finally {
      tf.dispose(stepInputs);
    }
    return { ...read, clipScale: scale };
  }

  /** Tensors the graphs update in place: parameters, optimizer moments, router biases. */
  private state(optimizer: AdamW, store: ParamStore, plan: StepPlan): tf.Tensor[] {
    const biases = plan.routers.flatMap((r) => (r.bias === null ? [] : [store.state.get(r.bias)!]));
    return [...optimizer.stateTensors(), ...biases];
  }

  dispose(): void {
    this.pass.dispose();
    this.update.dispose();
  }
}
