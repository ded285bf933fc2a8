/**
 * Every buffer one evaluation needs, with its lifetime in steps, for the memory plan (plan.ts). A
 * forward pass is steps 0…n−1 (node i at step i); training adds the backward, node i's at step
 * 2n−1−i. Pure over the graph and the ops' declarations: tested in CI without a GPU.
 *
 *   value produced by node p      forward: [p, its last reader]      training: [p, 2n−1−p] (read by backward)
 *   an op's temp / saved / grad   [i, i] / [i, 2n−1−i] / [2n−1−i, 2n−1−i]   (saved is temp in a forward pass)
 *   gradient ∇v of a value        [2n−1−(its last reader), 2n−1−p]: written by its readers' backward, read by p's
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

export function lifetimes(model: ModelGraph, nodes: readonly Node[], B: number, T: number, mode: Mode, keep: readonly string[], precision: CudaPrecision): BufferNeed[] {
  const n = nodes.length;
  const last = mode === 'train' ? 2 * n - 1 : n - 1;
  const back = (i: number): number => 2 * n - 1 - i;
  const producer = new Map<string, number>();
  const lastReader = new Map<string, number>();
  nodes.forEach((node, i) => {
    node.outputs.forEach((o) => producer.set(o, i));
    node.inputs.forEach((x) => lastReader.set(x, i));
  });
  const kept = new Set(keep);
  const needs: BufferNeed[] = [];
  for (const name of Object.keys(model.inputs)) needs.push({ name, bytes: valueBytes(model, name, B, T), first: 0, last });
  nodes.forEach((node, i) => {
    for (const out of node.outputs) {
      const end = kept.has(out) ? last : mode === 'train' ? back(i) : Math.max(i, lastReader.get(out) ?? i);
      needs.push({ name: out, bytes: valueBytes(model, out, B, T), first: i, last: end });
      if (mode === 'train' && hasGradient(model, out)) {
        const reader = lastReader.get(out);
        needs.push({ name: gradName(out), bytes: valueBytes(model, out, B, T), first: reader === undefined ? Math.min(n, back(i)) : back(reader), last: back(i) });
      }
    }
    const op = cudaOp(node.op);
    if (!op) throw new RuntimeError(`the cuda backend has no kernel for op ${node.op} (${node.loc.file}:${node.loc.line})`);
    for (const b of op.buffers(shapesOf(model, node), B, T, precision)) {
      if (b.scope === 'grad' && mode !== 'train') continue;
      const span = b.scope === 'temp' || mode === 'forward' ? [i, i] : b.scope === 'saved' ? [i, back(i)] : [back(i), back(i)];
      needs.push({ name: opBuffer(i, b.name), bytes: b.bytes, first: span[0]!, last: span[1]! });
    }
  });
  return needs;
}
