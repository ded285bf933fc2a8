/**
 * How a model's parameters and state become the flat, HF-named tensors of a checkpoint file
 * (specs/ir.md §7): a stacked parameter `…experts.{j}.gate_proj.weight` with stack E is one
 * [E, …shape] tensor in the runtime and E tensors `…experts.0.gate_proj.weight` … in a file; state
 * (the router bias) is stored under its own name, as HF stores its buffer.
 */
import type { ModelGraph } from '../../ir/types.js';
import { RuntimeError } from '../errors.js';
import type { TensorData } from '../model/params.js';
import { elementCount } from './safetensors.js';

/** One tensor of a checkpoint file and where it lives in the runtime's maps. */
export interface FlatTensor {
  /** the HF name in the file */
  readonly name: string;
  readonly shape: readonly number[];
  readonly kind: 'param' | 'state';
  /** the IR name: the key in the params or state map (with `{j}` for stacked parameters) */
  readonly key: string;
  /** for a slice of a stacked parameter: which expert, and how many there are */
  readonly slot?: { readonly index: number; readonly of: number };
}

export const formatShape = (shape: readonly number[]): string => `[${shape.join(', ')}]`;

export function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

/** Every tensor a checkpoint of `model` holds, in the graph's declaration order. */
export function flatTensors(model: ModelGraph): FlatTensor[] {
  const out: FlatTensor[] = [];
  for (const p of model.params) {
    if (p.stack === undefined) {
      out.push({ name: p.name, shape: p.shape, kind: 'param', key: p.name });
      continue;
    }
    for (let j = 0; j < p.stack; j++) out.push({ name: p.name.replace('{j}', String(j)), shape: p.shape, kind: 'param', key: p.name, slot: { index: j, of: p.stack } });
  }
  for (const s of model.state) out.push({ name: s.name, shape: s.shape, kind: 'state', key: s.name });
  return out;
}

/** The stored shape of every params/state key: `[E, …shape]` for stacked parameters. */
export function runtimeShapes(model: ModelGraph): Map<string, { readonly kind: 'param' | 'state'; readonly shape: readonly number[] }> {
  const out = new Map<string, { kind: 'param' | 'state'; shape: readonly number[] }>();
  for (const p of model.params) out.set(p.name, { kind: 'param', shape: p.stack === undefined ? p.shape : [p.stack, ...p.shape] });
  for (const s of model.state) out.set(s.name, { kind: 'state', shape: s.shape });
  return out;
}

/**
 * Problems between what a graph declares and what was given: missing, extra and wrong-shaped
 * tensors, each naming the tensor and both shapes. Empty when they match.
 */
export function shapeProblems(
  expected: ReadonlyMap<string, { readonly shape: readonly number[] }>,
  actual: ReadonlyMap<string, { readonly shape: readonly number[] }>,
  where: string,
): string[] {
  const problems: string[] = [];
  for (const [name, e] of expected) {
    const a = actual.get(name);
    if (!a) problems.push(`missing tensor ${name} ${formatShape(e.shape)}: ${where} does not have it`);
    else if (!sameShape(a.shape, e.shape)) problems.push(`tensor ${name} is ${formatShape(a.shape)} in ${where}, the graph expects ${formatShape(e.shape)}`);
  }
  for (const [name, a] of actual) {
    if (!expected.has(name)) problems.push(`unexpected tensor ${name} ${formatShape(a.shape)} in ${where}: the graph has no such parameter or state`);
  }
  return problems;
}

/** One RuntimeError listing the first problems (all of them would drown a 671B model's mismatch). */
export function mismatchError(what: string, problems: readonly string[]): RuntimeError {
  const shown = problems.slice(0, 12);
  const more = problems.length > shown.length ? `\n  … and ${problems.length - shown.length} more` : '';
  return new RuntimeError(`${what}:\n  ${shown.join('\n  ')}${more}`);
}

/** The file-side view of one runtime tensor: the whole of it, or expert j's slice (no copy). */
export function sliceOf(t: FlatTensor, data: TensorData): Float32Array {
  if (!t.slot) return data.data;
  const size = elementCount(t.shape);
  return data.data.subarray(t.slot.index * size, (t.slot.index + 1) * size);
}

/** Runtime tensors from file tensors: stacked parameters are gathered into one [E, …] array. */
export function assemble(
  model: ModelGraph,
  read: (t: FlatTensor) => Float32Array,
): { params: Map<string, TensorData>; state: Map<string, TensorData> } {
  const shapes = runtimeShapes(model);
  const params = new Map<string, TensorData>();
  const state = new Map<string, TensorData>();
  for (const t of flatTensors(model)) {
    const target = t.kind === 'param' ? params : state;
    let entry = target.get(t.key);
    if (!entry) {
      const shape = shapes.get(t.key)!.shape;
      // a single tensor is used as read; a stack gets one buffer its slices are copied into
      entry = t.slot ? { shape, data: new Float32Array(elementCount(shape)) } : { shape, data: read(t) };
      target.set(t.key, entry);
    }
    if (t.slot) entry.data.set(read(t), t.slot.index * elementCount(t.shape));
  }
  return { params, state };
}
