/**
 * The forward executor: runs a model graph's nodes in order on the current tfjs backend, each
 * through the kernel the active backend has for its op (ops/index.ts `kernelFor`), and returns the
 * requested values. Differentiable end to end (tfjs autograd), so training wraps it in
 * `tf.variableGrads`; with `recompute` each decoder layer runs as one op that keeps only its inputs
 * for the backward (recompute.ts). A kernel failure names the node and its `.moe` line.
 */
import type { ModelGraph, Node } from '../../ir/types.js';
import { RuntimeError } from '../errors.js';
import { kernelFor } from '../ops/index.js';
import { tf } from '../tf.js';
import { recomputeSteps, runSegment, type Step } from './recompute.js';
import type { Weights } from './weights.js';

export type { Weights } from './weights.js';

export interface ForwardInputs {
  /** token ids [B, T] */
  readonly inputIds: tf.Tensor2D;
  /** 1 where the loss counts [B, T]; defaults to all ones */
  readonly lossMask?: tf.Tensor2D;
}

export interface ForwardOptions {
  /**
   * `parallel { recompute = full }` while training: each decoder layer keeps only its inputs for
   * the backward, which runs the layer again (recompute.ts). Same values and gradients, less memory.
   */
  readonly recompute?: boolean;
}

/** The nodes the wanted values depend on, in graph order (logits alone skip the losses and MTP heads). */
export function neededNodes(model: ModelGraph, wanted: readonly string[]): Node[] {
  const needed = new Set(wanted);
  const kept: Node[] = [];
  for (let i = model.nodes.length - 1; i >= 0; i--) {
    const node = model.nodes[i]!;
    if (!node.outputs.some((o) => needed.has(o))) continue;
    kept.push(node);
    node.inputs.forEach((input) => needed.add(input));
  }
  return kept.reverse();
}

/** Runs the nodes the named values need (default: the graph's outputs); the caller disposes them. */
export function forward(model: ModelGraph, store: Weights, inputs: ForwardInputs, wanted: readonly string[] = model.outputs, options: ForwardOptions = {}): Map<string, tf.Tensor> {
  const [batch, time] = inputs.inputIds.shape;
  const keep = new Set(wanted);
  const result = new Map<string, tf.Tensor>();
  const values = new Map<string, tf.Tensor>();
  // int outputs of recomputed layers, kept past their op's scope: disposed below unless returned
  const kept: tf.Tensor[] = [];
  try {
    tf.tidy(() => {
      values.set('input_ids', inputs.inputIds);
      values.set('loss_mask', inputs.lossMask ?? tf.ones([batch, time]));
      const nodes = neededNodes(model, wanted);
      const steps: Step[] = options.recompute ? recomputeSteps(model, nodes, wanted) : nodes.map((node) => ({ node }));
      for (const step of steps) {
        const outputs = 'node' in step ? named(step.node, runNode(step.node, values, store)) : runSegment(step.segment, values, store, runNode, kept);
        for (const [name, t] of outputs) {
          values.set(name, t);
          if (keep.has(name)) result.set(name, tf.keep(t));
        }
      }
    });
  } finally {
    const returned = new Set(result.values());
    tf.dispose(kept.filter((t) => !returned.has(t)));
  }
  for (const name of wanted) if (!result.has(name)) throw new RuntimeError(`the graph produces no value ${name}`);
  return result;
}

function named(node: Node, outputs: tf.Tensor[]): Map<string, tf.Tensor> {
  return new Map(node.outputs.map((name, i) => [name, outputs[i]!]));
}

function runNode(node: Node, values: ReadonlyMap<string, tf.Tensor>, store: Weights): tf.Tensor[] {
  const kernel = kernelFor(node.op);
  if (!kernel) throw new RuntimeError(`no kernel for op ${node.op} (${where(node)})`);
  try {
    return kernel({
      inputs: node.inputs.map((n) => values.get(n)!),
      params: node.params.map((p) => store.params.get(p)!),
      state: node.state.map((s) => store.state.get(s)!),
      attrs: node.attrs,
    });
  } catch (error) {
    throw new RuntimeError(`${node.op} failed at ${where(node)}: ${(error as Error).message}`);
  }
}

function where(node: Node): string {
  return `${node.loc.file}:${node.loc.line}:${node.loc.col}`;
}
