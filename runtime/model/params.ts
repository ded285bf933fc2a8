/**
 * The parameter store: one tfjs variable per IR parameter (a stacked parameter is one [n, ...shape]
 * variable under its `{j}` name) and one tensor per state entry. Initialisation follows the IR's
 * `init` with JavaScript random numbers seeded per name (runtime/random.ts), so every backend
 * starts from identical weights for the same seed.
 */
import { totalmem } from 'node:os';
import type { Init, ModelGraph, Param } from '../../ir/types.js';
import { RuntimeError } from '../errors.js';
import { runtimeEnv } from '../config/env.js';
import { normalArray, tensorSeed } from '../random.js';
import { tf } from '../tf.js';

export interface TensorData {
  readonly shape: readonly number[];
  readonly data: Float32Array;
}

export function storedShape(p: { shape: readonly number[]; stack?: number }): number[] {
  return p.stack === undefined ? [...p.shape] : [p.stack, ...p.shape];
}

export function elementCount(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

/** Bytes the parameters and state of a model take in float32. */
export function modelBytes(model: ModelGraph): number {
  const params = model.params.reduce((s, p) => s + elementCount(storedShape(p)), 0);
  const state = model.state.reduce((s, p) => s + elementCount(p.shape), 0);
  return 4 * (params + state);
}

export function initialValues(init: Init, shape: readonly number[], seed: number, name: string): Float32Array {
  const n = elementCount(shape);
  switch (init.kind) {
    case 'normal':
      return normalArray(n, init.std, tensorSeed(seed, name));
    case 'ones':
      return new Float32Array(n).fill(1);
    case 'zeros':
      return new Float32Array(n);
  }
}

/** A trainable variable holding `data`; the temporary tensor it is made from is released. */
function variableOf(data: Float32Array, shape: number[]): tf.Variable {
  const initial = tf.tensor(data, shape, 'float32');
  const variable = tf.variable(initial, true);
  initial.dispose();
  return variable;
}

export class ParamStore {
  readonly params = new Map<string, tf.Variable>();
  readonly state = new Map<string, tf.Tensor>();

  constructor(readonly model: ModelGraph) {}

  /** Fresh parameters from the IR's initialisers. */
  static initialise(model: ModelGraph, seed: number, limitBytes = defaultMemoryLimit()): ParamStore {
    refuseIfTooBig(model, limitBytes);
    const store = new ParamStore(model);
    for (const p of model.params) {
      const shape = storedShape(p);
      store.params.set(p.name, variableOf(initialValues(p.init, shape, seed, p.name), shape));
    }
    for (const s of model.state) store.state.set(s.name, tf.tensor(initialValues(s.init, s.shape, seed, s.name), [...s.shape], 'float32'));
    return store;
  }

  /** Parameters from loaded tensors (names and shapes must match the graph exactly). */
  static fromTensors(
    model: ModelGraph,
    params: ReadonlyMap<string, TensorData>,
    state: ReadonlyMap<string, TensorData>,
    limitBytes = defaultMemoryLimit(),
  ): ParamStore {
    refuseIfTooBig(model, limitBytes);
    checkTensors(model.params, params, 'parameter');
    checkTensors(model.state, state, 'state');
    const store = new ParamStore(model);
    for (const p of model.params) {
      const t = params.get(p.name)!;
      store.params.set(p.name, variableOf(t.data, storedShape(p)));
    }
    for (const s of model.state) {
      const t = state.get(s.name)!;
      store.state.set(s.name, tf.tensor(t.data, [...s.shape], 'float32'));
    }
    return store;
  }

  async snapshot(): Promise<{ params: Map<string, TensorData>; state: Map<string, TensorData> }> {
    const read = async (m: ReadonlyMap<string, tf.Tensor>): Promise<Map<string, TensorData>> => {
      const out = new Map<string, TensorData>();
      for (const [name, t] of m) out.set(name, { shape: t.shape, data: (await t.data()) as Float32Array });
      return out;
    };
    return { params: await read(this.params), state: await read(this.state) };
  }

  dispose(): void {
    for (const v of this.params.values()) v.dispose();
    for (const t of this.state.values()) t.dispose();
    this.params.clear();
    this.state.clear();
  }
}

function checkTensors(
  expected: readonly (Param | { name: string; shape: readonly number[]; stack?: number })[],
  actual: ReadonlyMap<string, TensorData>,
  what: string,
): void {
  const names = new Set(expected.map((p) => p.name));
  for (const name of actual.keys()) {
    if (!names.has(name)) throw new RuntimeError(`unexpected ${what} tensor ${name}: the graph has no such ${what}`);
  }
  for (const p of expected) {
    const t = actual.get(p.name);
    const shape = storedShape(p);
    if (!t) throw new RuntimeError(`missing ${what} tensor ${p.name} [${shape.join(', ')}]`);
    if (t.shape.length !== shape.length || t.shape.some((d, i) => d !== shape[i])) {
      throw new RuntimeError(`${what} tensor ${p.name} has shape [${t.shape.join(', ')}], the graph expects [${shape.join(', ')}]`);
    }
    if (t.data.length !== elementCount(shape)) throw new RuntimeError(`${what} tensor ${p.name} holds ${t.data.length} values, expected ${elementCount(shape)}`);
  }
}

/** Half of the machine's memory, the most a model's float32 weights may take before we refuse. */
export function defaultMemoryLimit(): number {
  return runtimeEnv().memoryLimit ?? Math.floor(totalmem() / 2);
}

function refuseIfTooBig(model: ModelGraph, limitBytes: number): void {
  const bytes = modelBytes(model);
  if (bytes > limitBytes) {
    const gib = (b: number): string => `${(b / 2 ** 30).toFixed(1)} GiB`;
    throw new RuntimeError(
      `model ${model.name} needs ${gib(bytes)} for its float32 weights alone; this machine allows ${gib(limitBytes)}`,
      'use a smaller model, or set MOE_MEMORY_LIMIT (bytes) if you know it fits',
    );
  }
}
