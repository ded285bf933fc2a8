/**
 * Full activation recomputation on tfjs (`parallel { recompute = full }`, Megatron's "full"): each
 * decoder layer's nodes (a maximal run of consecutive nodes with the same `layer`, specs/ir.md
 * §1.6) run as ONE custom-gradient op. Its forward pass runs at kernel depth, so tfjs records
 * nothing inside and every intermediate is freed when the layer ends; the tape keeps only the
 * layer's inputs (saved clones). Its backward runs the layer's nodes again under a fresh tape and
 * differentiates them with respect to those inputs, given the upstream gradient: the same kernels
 * on the same values, so the gradients are the plain path's.
 *
 * tf.customGrad's contract (tfjs-core engine.ts `customGrad`, `runKernelFunc`, `gradients`):
 * - `value` is ONE tensor: the layer's float outputs that are read after it travel packed (flat,
 *   concatenated) and are split outside (SplitV's gradient saves nothing, so no copy is pinned);
 * - only what `save` is given survives for the backward (as kept clones, disposed with the tape);
 * - `gradFunc` returns one float gradient per input, of the input's shape, and the tape adds a
 *   variable's gradient wherever the variable is an input: the parameters are passed as inputs.
 * Int outputs (router indices) carry no gradient and cannot travel in a float tensor: they leave
 * the op beside it, kept, and are the plain path's values. Graph inputs (token ids, loss mask) and
 * int inputs are saved but not differentiated. The router's bias state is read, never an input.
 */
import type { ModelGraph, Node } from '../../ir/types.js';
import { tf } from '../tf.js';
import type { Weights } from './weights.js';

/** forward.ts's node runner: one node's outputs from the values by name and the weights it reads. */
export type RunNode = (node: Node, values: ReadonlyMap<string, tf.Tensor>, weights: Weights) => tf.Tensor[];

/** One decoder layer's nodes, run as one recomputed op. */
export interface Segment {
  readonly layer: number;
  readonly nodes: readonly Node[];
  /** float values made by earlier nodes: the differentiated inputs */
  readonly carried: readonly string[];
  /** graph inputs and int values: kept for the re-run, not differentiated */
  readonly fixed: readonly string[];
  /** parameters the nodes read, each once: differentiated inputs after `carried` */
  readonly params: readonly string[];
  /** float outputs read after the segment (or wanted): packed in the op's value */
  readonly floats: readonly string[];
  /** int outputs read after the segment (or wanted): passed out beside the value */
  readonly ints: readonly string[];
}

export type Step = { readonly node: Node } | { readonly segment: Segment };

const unique = (names: Iterable<string>): string[] => [...new Set(names)];

/**
 * The needed nodes (in graph order) as steps: a node without a layer alone, each maximal run of
 * consecutive nodes of one layer as a segment. A run with no float output leaving it, or nothing
 * to differentiate, gains nothing from recomputation and runs node by node.
 */
export function recomputeSteps(model: ModelGraph, nodes: readonly Node[], wanted: readonly string[]): Step[] {
  const runs: Node[][] = [];
  for (const node of nodes) {
    const last = runs[runs.length - 1];
    if (node.layer !== undefined && last !== undefined && last[0]!.layer === node.layer) last.push(node);
    else runs.push([node]);
  }
  const steps: Step[] = [];
  runs.forEach((run, i) => {
    const segment = run[0]!.layer === undefined ? null : segmentOf(model, run, runs.slice(i + 1).flat(), wanted);
    if (segment) steps.push({ segment });
    else steps.push(...run.map((node) => ({ node })));
  });
  return steps;
}

function segmentOf(model: ModelGraph, nodes: Node[], later: readonly Node[], wanted: readonly string[]): Segment | null {
  const made = new Set(nodes.flatMap((n) => n.outputs));
  const inputs = unique(nodes.flatMap((n) => n.inputs).filter((v) => !made.has(v)));
  const isFloat = (v: string): boolean => model.values[v]?.dtype === 'f32';
  const carried = inputs.filter((v) => isFloat(v) && !(v in model.inputs));
  const read = new Set([...later.flatMap((n) => n.inputs), ...wanted]);
  const leaving = [...made].filter((v) => read.has(v));
  const params = unique(nodes.flatMap((n) => n.params));
  const floats = leaving.filter(isFloat);
  if (floats.length === 0 || carried.length + params.length === 0) return null;
  return {
    layer: nodes[0]!.layer!,
    nodes,
    carried,
    fixed: inputs.filter((v) => !carried.includes(v)),
    params,
    floats,
    ints: leaving.filter((v) => !isFloat(v)),
  };
}

/** The segment's nodes on the given inputs (carried values, then parameters) and fixed values. */
function evaluate(segment: Segment, xs: readonly tf.Tensor[], fixed: readonly tf.Tensor[], state: ReadonlyMap<string, tf.Tensor>, run: RunNode): Map<string, tf.Tensor> {
  const values = new Map<string, tf.Tensor>();
  segment.carried.forEach((v, i) => values.set(v, xs[i]!));
  segment.fixed.forEach((v, i) => values.set(v, fixed[i]!));
  const params = new Map(segment.params.map((p, i) => [p, xs[segment.carried.length + i]!]));
  for (const node of segment.nodes) {
    const outputs = run(node, values, { params, state });
    node.outputs.forEach((name, i) => values.set(name, outputs[i]!));
  }
  return values;
}

function pack(tensors: readonly tf.Tensor[]): tf.Tensor {
  const flat = tensors.map((t) => tf.reshape(t, [-1]));
  return flat.length === 1 ? flat[0]! : tf.concat(flat);
}

function unpack(packed: tf.Tensor, shapes: readonly number[][]): tf.Tensor[] {
  if (shapes.length === 1) return [tf.reshape(packed, shapes[0]!)];
  const parts = tf.split(packed, shapes.map((s) => s.reduce((a, b) => a * b, 1)));
  return parts.map((p, i) => tf.reshape(p, shapes[i]!));
}

/**
 * The backward of a segment: its nodes again under their own tape, differentiated with respect to
 * the saved inputs given `dy`. engine.gradients, called while an outer backward runs (gradient
 * depth 0), starts a new tape and drops it when done; the outer tape is put back so that the outer
 * backward still frees its own saved tensors.
 */
function recomputedGrads(segment: Segment, saved: readonly tf.Tensor[], dy: tf.Tensor, state: ReadonlyMap<string, tf.Tensor>, run: RunNode): tf.Tensor[] {
  const count = segment.carried.length + segment.params.length;
  const xs = saved.slice(0, count);
  const fixed = saved.slice(count);
  return tf.tidy(() => {
    const engine = tf.engine();
    const outer = engine.state.activeTape;
    try {
      const rerun = (): tf.Tensor => {
        const values = evaluate(segment, xs, fixed, state, run);
        return pack(segment.floats.map((v) => values.get(v)!));
      };
      // a parameter or value with no path to an output this segment exports gets a zero gradient
      const { grads } = engine.gradients(rerun, xs, dy, true);
      return xs.map((x, i) => (grads[i] as tf.Tensor | undefined) ?? tf.zerosLike(x));
    } finally {
      engine.state.activeTape = outer;
    }
  });
}

/**
 * Runs a segment on `values` and returns its outputs read later, by name. The int outputs are
 * kept (they leave a custom op's tidy scope beside its value): `kept` lists them for the caller to
 * dispose once the forward is done.
 */
export function runSegment(
  segment: Segment,
  values: ReadonlyMap<string, tf.Tensor>,
  weights: Weights,
  run: RunNode,
  kept: tf.Tensor[],
): Map<string, tf.Tensor> {
  const fixed = segment.fixed.map((v) => values.get(v)!);
  let shapes: number[][] = [];
  let ints: tf.Tensor[] = [];
  const op = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const save = args[args.length - 1] as tf.GradSaveFunc;
    const xs = args.slice(0, -1) as tf.Tensor[];
    // a no-op when no tape records (inference): then nothing is kept
    save([...xs, ...fixed]);
    const made = evaluate(segment, xs, fixed, weights.state, run);
    shapes = segment.floats.map((v) => made.get(v)!.shape);
    ints = segment.ints.map((v) => tf.keep(made.get(v)!));
    return {
      value: pack(segment.floats.map((v) => made.get(v)!)),
      gradFunc: (dy: tf.Tensor, savedTensors: tf.Tensor[]) => recomputedGrads(segment, savedTensors, dy, weights.state, run),
    };
  });
  const packed = op(...segment.carried.map((v) => values.get(v)!), ...segment.params.map((p) => weights.params.get(p)!));
  kept.push(...ints);
  const outputs = new Map<string, tf.Tensor>();
  unpack(packed, shapes).forEach((t, i) => outputs.set(segment.floats[i]!, t));
  ints.forEach((t, i) => outputs.set(segment.ints[i]!, t));
  return outputs;
}
