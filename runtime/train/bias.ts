/**
 * The aux-loss-free router bias update between optimizer steps (specs/ir.md §5): for every
 * `moe.router` node that has a bias state, b ← b + γ·sign(mean load − load) with the step's load
 * counts. Nodes are found by op, their bias through `state[0]` and their counts through
 * `outputs[4]`, never by name, as §5 requires. The new bias replaces the state tensor in the
 * ParamStore (state is not a variable: gradients must never reach it); on webgpu it is written into
 * the old tensor's buffer instead (backend/in-place.ts), which a captured step graph relies on.
 */
import { attrsOf } from '../../ir/attrs.js';
import type { ModelGraph } from '../../ir/types.js';
import { RuntimeError } from '../errors.js';
import type { ParamStore } from '../model/params.js';
import { replaceInPlace } from '../backend/in-place.js';
import { updateRouterBias } from '../ops/bias-update.js';
import { tf } from '../tf.js';

export interface RouterLoad {
  /** the node's `load` output (f32[E]) */
  readonly load: string;
  /** its bias state, or null for a router without bias balancing */
  readonly bias: string | null;
  /** the node's `bias_rate` γ, or null without bias */
  readonly rate: number | null;
}

/** Every router of the graph, in node order (main layers, then MTP blocks). */
export function routerLoads(model: ModelGraph): RouterLoad[] {
  return model.nodes
    .filter((n) => n.op === 'moe.router')
    .map((n) => {
      const load = n.outputs[4];
      if (load === undefined) throw new RuntimeError(`moe.router at ${n.loc.file}:${n.loc.line} has no load output`);
      const bias = n.state[0] ?? null;
      const rate = attrsOf(n, 'moe.router').bias_rate;
      if (bias !== null && rate === null) {
        throw new RuntimeError(`moe.router at ${n.loc.file}:${n.loc.line} has a bias state but bias_rate null: it must be a number`);
      }
      return { load, bias, rate: bias === null ? null : rate };
    });
}

/** Loads summed over the step's evaluations: device tensors or host arrays, keyed by load value name. */
export type StepLoads = ReadonlyMap<string, tf.Tensor | ArrayLike<number>>;

/**
 * Updates every biased router's state in `store` from `loads`, in place on webgpu (in-place.ts).
 * `rate` overrides every node's `bias_rate` (the γ schedule; 0 freezes the biases); a captured
 * step graph passes it as a scalar tensor. Does not dispose `loads`.
 */
export function updateRouterBiases(store: ParamStore, routers: readonly RouterLoad[], loads: StepLoads, rate?: number | tf.Scalar): void {
  for (const r of routers) {
    if (r.bias === null) continue;
    const old = store.state.get(r.bias);
    if (!old) throw new RuntimeError(`the store has no state ${r.bias}`);
    const c = loads.get(r.load);
    if (c === undefined) throw new RuntimeError(`no load counts for ${r.load}: the step must return every router's load`);
    const gamma = rate ?? r.rate!;
    const next = tf.tidy(() => updateRouterBias(old, c instanceof tf.Tensor ? c : tf.tensor1d(Array.from(c), 'float32'), gamma));
    store.state.set(r.bias, replaceInPlace(old, next));
  }
}
