/**
 * Runs a model graph's forward pass on CUDA: the weights uploaded once (plus the fused layouts the
 * ops ask for), then for each evaluation shape (B, T) a memory plan of every value and temporary
 * (plan.ts), one arena allocated at the plan's peak, and one launch sequence per node through
 * CUDA_OPS. Only the values asked for are copied back.
 */
import type { ModelGraph, Node } from '../../ir/types.js';
import { parseRope } from '../../ir/rope.js';
import { neededNodes } from '../model/forward.js';
import { storedShape, type TensorData } from '../model/params.js';
import { tablesFor } from '../ops/rope.js';
import { RuntimeError } from '../errors.js';
import type { DevicePtr } from './driver.js';
import { CUDA_OPS, type NodeShapes, type OpContext } from './ops.js';
import { planMemory, type BufferNeed, type MemoryPlan } from './plan.js';
import type { CudaRuntime } from './runtime.js';

const F32 = 4;

/** The buffers of one evaluation: values by name, temporaries as `node#i/name`. */
export function forwardNeeds(model: ModelGraph, nodes: readonly Node[], B: number, T: number): BufferNeed[] {
  const lastUse = new Map<string, number>();
  nodes.forEach((node, step) => node.inputs.forEach((name) => lastUse.set(name, step)));
  const needs: BufferNeed[] = [];
  const bytesOf = (name: string): number => {
    const v = model.values[name] ?? model.inputs[name];
    if (!v) throw new RuntimeError(`the graph declares no value ${name}`);
    return v.shape.reduce<number>((n, d) => n * (d === 'B' ? B : d === 'T' ? T : d), 1) * F32;
  };
  for (const name of Object.keys(model.inputs)) needs.push({ name, bytes: bytesOf(name), first: 0, last: Math.max(0, lastUse.get(name) ?? 0) });
  nodes.forEach((node, step) => {
    for (const out of node.outputs) needs.push({ name: out, bytes: bytesOf(out), first: step, last: Math.max(step, lastUse.get(out) ?? nodes.length) });
    const op = CUDA_OPS[node.op];
    if (!op) return;
    for (const t of op.temps(shapesOf(model, node), B, T)) needs.push({ name: `${step}/${t.name}`, bytes: t.bytes, first: step, last: step });
  });
  return needs;
}

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

export class CudaModel {
  private readonly params = new Map<string, DevicePtr>();
  private readonly state = new Map<string, DevicePtr>();
  private readonly derived = new Map<string, DevicePtr>();
  private readonly rotary = new Map<string, { cos: DevicePtr; sin: DevicePtr; positions: number }>();
  private arena: { ptr: DevicePtr; bytes: number } | undefined;

  constructor(
    private readonly gpu: CudaRuntime,
    readonly model: ModelGraph,
    params: ReadonlyMap<string, TensorData>,
    state: ReadonlyMap<string, TensorData>,
  ) {
    for (const node of model.nodes) {
      if (!CUDA_OPS[node.op] && !node.op.startsWith('loss.')) throw new RuntimeError(`the cuda backend has no kernel for op ${node.op} yet (${node.loc.file}:${node.loc.line})`);
    }
    for (const p of model.params) this.params.set(p.name, this.upload(params.get(p.name)!.data));
    for (const s of model.state) this.state.set(s.name, this.upload(state.get(s.name)!.data));
    model.nodes.forEach((node, i) => {
      for (const d of CUDA_OPS[node.op]?.derived?.(node) ?? []) {
        const parts = d.rowsOf.map((j) => ({ data: params.get(node.params[j]!)!.data, shape: shapesOf(model, node).paramShape(j) }));
        this.derived.set(`${i}/${d.name}`, this.upload(concatRows(parts)));
      }
    });
  }

  private upload(data: Float32Array | Int32Array): DevicePtr {
    const p = this.gpu.driver.alloc(data.byteLength);
    this.gpu.driver.upload(p, data);
    return p;
  }

  /** The plan for one evaluation of the nodes that `wanted` needs. */
  plan(B: number, T: number, wanted: readonly string[]): { nodes: Node[]; plan: MemoryPlan } {
    const nodes = neededNodes(this.model, wanted);
    return { nodes, plan: planMemory(forwardNeeds(this.model, nodes, B, T)) };
  }

  /** The named values for token ids [B, T] (row-major), copied to the host. */
  forward(ids: Int32Array, B: number, T: number, wanted: readonly string[] = ['logits']): Map<string, Float32Array> {
    const { nodes, plan } = this.plan(B, T, wanted);
    if (!this.arena || this.arena.bytes < plan.peakBytes) {
      if (this.arena) this.gpu.driver.free(this.arena.ptr);
      this.arena = { ptr: this.gpu.driver.alloc(plan.peakBytes), bytes: plan.peakBytes };
    }
    const base = this.arena.ptr;
    const at = (name: string): DevicePtr => {
      const b = plan.buffers.get(name);
      if (!b) throw new RuntimeError(`no buffer planned for ${name}`);
      return base + BigInt(b.offset);
    };
    this.gpu.driver.upload(at('input_ids'), ids);
    if (plan.buffers.has('loss_mask')) this.gpu.driver.upload(at('loss_mask'), new Float32Array(B * T).fill(1));
    nodes.forEach((node, step) => {
      const op = CUDA_OPS[node.op];
      if (!op) throw new RuntimeError(`the cuda backend has no kernel for op ${node.op} yet`);
      const index = this.model.nodes.indexOf(node);
      const ctx: OpContext = {
        ...shapesOf(this.model, node),
        B,
        T,
        gpu: this.gpu,
        input: (i) => at(node.inputs[i]!),
        output: (i) => at(node.outputs[i]!),
        param: (i) => this.params.get(node.params[i]!)!,
        state: (i) => (node.state[i] === undefined ? undefined : this.state.get(node.state[i])),
        derived: (name) => this.derived.get(`${index}/${name}`)!,
        temp: (name) => at(`${step}/${name}`),
        rotary: (d) => this.rotaryTables(node, d, T),
      };
      op.forward(ctx);
    });
    this.gpu.driver.synchronize();
    const out = new Map<string, Float32Array>();
    for (const name of wanted) {
      const b = plan.buffers.get(name)!;
      const host = new Float32Array(b.bytes / F32);
      this.gpu.driver.download(host, at(name));
      out.set(name, host);
    }
    return out;
  }

  private rotaryTables(node: Node, d: number, T: number): { cos: DevicePtr; sin: DevicePtr } {
    const config = parseRope(node.attrs.rope);
    const key = JSON.stringify([d, config.theta, config.scaling]);
    const hit = this.rotary.get(key);
    if (hit && hit.positions >= T) return hit;
    if (hit) {
      this.gpu.driver.free(hit.cos);
      this.gpu.driver.free(hit.sin);
    }
    const tables = tablesFor(config, d, T);
    const entry = { cos: this.upload(tables.cos), sin: this.upload(tables.sin), positions: tables.positions };
    this.rotary.set(key, entry);
    return entry;
  }

  dispose(): void {
    const all = [...this.params.values(), ...this.state.values(), ...this.derived.values(), ...[...this.rotary.values()].flatMap((r) => [r.cos, r.sin])];
    for (const p of all) this.gpu.driver.free(p);
    if (this.arena) this.gpu.driver.free(this.arena.ptr);
    this.params.clear();
    this.arena = undefined;
  }
}

/**
 * Tensors side by side along their rows, per stack entry: [F, D] + [F, D] → [2F, D], or for stacked
 * [E, F, D] + [E, F, D] → [E, 2F, D] (each expert's gate rows, then its up rows).
 */
export function concatRows(parts: readonly { readonly data: Float32Array; readonly shape: readonly number[] }[]): Float32Array {
  const stack = parts[0]!.shape.length === 3 ? parts[0]!.shape[0]! : 1;
  const per = parts.map((p) => p.data.length / stack);
  const out = new Float32Array(parts.reduce((n, p) => n + p.data.length, 0));
  let at = 0;
  for (let j = 0; j < stack; j++) {
    parts.forEach((p, i) => {
      out.set(p.data.subarray(j * per[i]!, (j + 1) * per[i]!), at);
      at += per[i]!;
    });
  }
  return out;
}
