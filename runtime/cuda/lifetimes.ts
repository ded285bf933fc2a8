/**
 * Every buffer one evaluation needs, with its lifetime in steps, for the memory plan (plan.ts). The
 * steps are the timeline's events (timeline()): a forward pass is steps 0…n−1 (node i at step i);
 * training adds the backward, node i's at bwd[i] (2n−1−i without recompute).
 *
 *   value produced by node p      forward: [p, its last reader]      training: [p, bwd[p]] (read by backward)
 *   an op's temp / saved / grad   [i, i] / [i, bwd[i]] / [bwd[i], bwd[i]]   (saved is temp in a forward pass)
 *   gradient ∇v of a value        [bwd[its last reader], bwd[p]]: written by its readers' backward, read by p's
 *
 * `recompute = full` (training): each decoder layer's nodes run their forward again just before the
 * layer's backward (re[i]). A value made and read only inside a layer then lives twice, briefly:
 * [p, its last forward reader] under its own name and [re[p], bwd[p]] as `v↻`; saved op buffers the
 * same way (a temp in the forward, `i↻/name` from the re-run to the backward). What crosses a layer
 * border (the residual stream, router loads, loss terms) is kept once, as without recompute, and the
 * re-run rewrites it with the same values. So the arena holds every layer's inputs plus one layer's
 * activations, not every layer's.
 * Pure over the graph and the ops' declarations: tested in CI without a GPU.
 */
import type { ModelGraph, Node } from '../../ir/types.js';
import { storedShape } from '../model/params.js';
import { RuntimeError } from '../errors.js';
import { cudaOp, type CudaPrecision, type NodeShapes } from './ops/index.js';
import type { BufferNeed } from './plan.js';

const F32 = 4;

export type Mode = 'forward' | 'train';

export const gradName = (value: string): string => `∇${value}`;
export const opBuffer = (step: number, name: string): string => `${step}/${name}`;

export function shapesOf(model: ModelGraph, node: Node): NodeShapes {
  const width = (name: string): number => {
    const v = model.values[name] ?? model.inputs[name];
    const last = v?.shape[v.shape.length - 1];
    if (typeof last !== 'number') throw new RuntimeError(`value ${name} has no static last axis`);
    return last;
  };
  const params = new Map(model.params.map((p) => [p.name, storedShape(p)]));
  return {
    node,
    inputWidth: (i) => width(node.inputs[i]!),
    outputWidth: (i) => width(node.outputs[i]!),
    paramShape: (i) => params.get(node.params[i]!)!,
  };
}

export function valueBytes(model: ModelGraph, name: string, B: number, T: number): number {
  const v = model.values[name] ?? model.inputs[name];
  if (!v) throw new RuntimeError(`the graph declares no value ${name}`);
  return v.shape.reduce<number>((n, d) => n * (d === 'B' ? B : d === 'T' ? T : d), 1) * F32;
}

/** Values that carry a gradient: f32 values produced by a node (graph inputs and integer outputs take none). */
export function hasGradient(model: ModelGraph, name: string): boolean {
  return model.values[name]?.dtype === 'f32' && !(name in model.inputs);
}

/** The suffix of a value's or saved buffer's second life under full recompute. */
export const RECOMPUTED = '↻';
export const recomputedName = (name: string): string => `${name}${RECOMPUTED}`;

export type Pass = 'fwd' | 're' | 'bwd';

/**
 * The buffer a node reads or writes as `name` in one pass: a recomputed node's re-run and backward
 * use the second life (`↻`) where the plan has one; every other access, the buffer of that name.
 */
export function bufferIn(name: string, pass: Pass, recomputed: boolean, planned: (name: string) => boolean): string {
  return pass !== 'fwd' && recomputed && planned(recomputedName(name)) ? recomputedName(name) : name;
}

/** The order passes run in: one event per step. */
export interface Timeline {
  readonly events: readonly { readonly pass: Pass; readonly node: number }[];
  readonly fwd: readonly number[];
  /** the step of node i's re-run forward (full recompute), else undefined */
  readonly re: readonly (number | undefined)[];
  /** the step of node i's backward (training), else undefined */
  readonly bwd: readonly (number | undefined)[];
  /** node i → the index of its recomputed layer (the same for every node of one layer), else undefined */
  readonly segment: readonly (number | undefined)[];
}

/**
 * Forward steps in node order; in training, backward steps in reverse node order. With recompute,
 * a layer (a maximal run of consecutive nodes with the same `layer`) re-runs its forward, in node
 * order, just before its last node's backward.
 */
export function timeline(nodes: readonly Node[], mode: Mode, recompute: boolean): Timeline {
  const n = nodes.length;
  const segment: (number | undefined)[] = new Array<number | undefined>(n).fill(undefined);
  const starts: number[] = [];
  if (mode === 'train' && recompute) {
    nodes.forEach((node, i) => {
      if (node.layer === undefined) return;
      if (i > 0 && nodes[i - 1]!.layer === node.layer) segment[i] = segment[i - 1];
      else {
        segment[i] = starts.length;
        starts.push(i);
      }
    });
  }
  const events: { pass: Pass; node: number }[] = nodes.map((_, i) => ({ pass: 'fwd', node: i }));
  if (mode === 'train') {
    for (let i = n - 1; i >= 0; i--) {
      const s = segment[i];
      if (s !== undefined && segment[i + 1] !== s) for (let j = starts[s]!; j <= i; j++) events.push({ pass: 're', node: j });
      events.push({ pass: 'bwd', node: i });
    }
  }
  const at = (pass: Pass): (number | undefined)[] => {
    const steps = new Array<number | undefined>(n).fill(undefined);
    events.forEach((e, step) => {
      if (e.pass === pass) steps[e.node] = step;
    });
    return steps;
  };
  return { events, fwd: at('fwd') as number[], re: at('re'), bwd: at('bwd'), segment };
}

export function lifetimes(model: ModelGraph, nodes: readonly Node[], B: number, T: number, mode: Mode, keep: readonly string[], precision: CudaPrecision, recompute = false): BufferNeed[] {
  const n = nodes.length;
  const line = timeline(nodes, mode, recompute);
  const last = line.events.length - 1;
  const bwd = (i: number): number => line.bwd[i]!;
  const readers = new Map<string, number[]>();
  nodes.forEach((node, i) => {
    node.inputs.forEach((x) => readers.set(x, [...(readers.get(x) ?? []), i]));
  });
  const lastReader = (name: string): number | undefined => readers.get(name)?.at(-1);
  const kept = new Set(keep);
  /** made and read only inside node p's recomputed layer: re-made by the re-run instead of kept */
  const internal = (name: string, p: number): boolean =>
    line.segment[p] !== undefined && !kept.has(name) && (readers.get(name) ?? []).every((r) => line.segment[r] === line.segment[p]);
  const needs: BufferNeed[] = [];
  for (const name of Object.keys(model.inputs)) needs.push({ name, bytes: valueBytes(model, name, B, T), first: 0, last });
  nodes.forEach((node, i) => {
    for (const out of node.outputs) {
      const bytes = valueBytes(model, out, B, T);
      if (mode === 'train' && internal(out, i)) {
        needs.push({ name: out, bytes, first: i, last: Math.max(i, lastReader(out) ?? i) });
        needs.push({ name: recomputedName(out), bytes, first: line.re[i]!, last: bwd(i) });
      } else {
        const end = kept.has(out) ? last : mode === 'train' ? bwd(i) : Math.max(i, lastReader(out) ?? i);
        needs.push({ name: out, bytes, first: i, last: end });
      }
      if (mode === 'train' && hasGradient(model, out)) {
        const reader = lastReader(out);
        needs.push({ name: gradName(out), bytes, first: reader === undefined ? Math.min(n, bwd(i)) : bwd(reader), last: bwd(i) });
      }
    }
    const op = cudaOp(node.op);
    if (!op) throw new RuntimeError(`the cuda backend has no kernel for op ${node.op} (${node.loc.file}:${node.loc.line})`);
    for (const b of op.buffers(shapesOf(model, node), B, T, precision)) {
      if (b.scope === 'grad' && mode !== 'train') continue;
      const name = opBuffer(i, b.name);
      const re = line.re[i];
      if (b.scope === 'grad') needs.push({ name, bytes: b.bytes, first: bwd(i), last: bwd(i) });
      else if (b.scope === 'temp' || mode === 'forward' || re !== undefined) {
        needs.push({ name, bytes: b.bytes, first: i, last: i });
        // the re-run's own copy: a temp there too, or a saved buffer kept from the re-run to the backward
        if (re !== undefined) needs.push({ name: recomputedName(name), bytes: b.bytes, first: re, last: b.scope === 'temp' ? re : bwd(i) });
      } else needs.push({ name, bytes: b.bytes, first: i, last: bwd(i) });
    }
  });
  return needs;
}
