/**
 * Where the parameters live on the device: one arena, each parameter at a fixed offset, with the
 * groups an op reads as one matrix (gate and up; q, k and v) side by side, so a single product reads
 * them and its weight gradient lands in the same layout. Gradients and AdamW's two moments are
 * arenas of the same size with the same offsets: the optimizer and the gradient norm walk flat
 * ranges. Pure layout here (tested in CI); DeviceParams does the copies.
 */
import type { ModelGraph, Node } from '../../ir/types.js';
import { elementCount, storedShape, type TensorData } from '../model/params.js';
import { RuntimeError } from '../errors.js';
import type { CudaDriver, DevicePtr } from './driver.js';

/** Group starts are multiples of 64 floats (256 bytes): what cuBLASLt and vector loads like. */
const GROUP_ALIGN = 64;

export interface ParamSlot {
  readonly name: string;
  /** in floats from the arena's start */
  readonly offset: number;
  readonly length: number;
  readonly shape: readonly number[];
  readonly decay: boolean;
}

export interface ParamLayout {
  readonly slots: ReadonlyMap<string, ParamSlot>;
  readonly floats: number;
}

/** Offsets for every parameter: fused groups contiguous in the given order, the rest one by one. */
export function layoutParams(model: ModelGraph, fusedOf: (node: Node) => readonly (readonly number[])[]): ParamLayout {
  const byName = new Map(model.params.map((p) => [p.name, p]));
  const slots = new Map<string, ParamSlot>();
  let at = 0;
  const place = (names: readonly string[]): void => {
    if (names.some((n) => slots.has(n))) {
      if (names.length > 1 && !names.every((n) => slots.has(n))) throw new RuntimeError(`parameters ${names.join(', ')} are fused in one node but placed apart by another`);
      return;
    }
    at = Math.ceil(at / GROUP_ALIGN) * GROUP_ALIGN;
    for (const name of names) {
      const p = byName.get(name);
      if (!p) throw new RuntimeError(`the graph declares no parameter ${name}`);
      const shape = storedShape(p);
      const length = elementCount(shape);
      slots.set(name, { name, offset: at, length, shape, decay: p.decay });
      at += length;
    }
  };
  for (const node of model.nodes) for (const group of fusedOf(node)) place(group.map((i) => node.params[i]!));
  for (const p of model.params) place([p.name]);
  return { slots, floats: Math.ceil(at / GROUP_ALIGN) * GROUP_ALIGN };
}

export class DeviceParams {
  readonly values: DevicePtr;
  readonly grads: DevicePtr;
  readonly m: DevicePtr;
  readonly v: DevicePtr;
  /** precision = bf16: a bf16 copy of every value (same offsets, half the bytes), refreshed after each update */
  readonly bf16: DevicePtr;
  private readonly bytes: number;

  constructor(
    private readonly driver: CudaDriver,
    readonly layout: ParamLayout,
    params: ReadonlyMap<string, TensorData>,
    training: boolean,
    moments?: { readonly m: ReadonlyMap<string, TensorData>; readonly v: ReadonlyMap<string, TensorData> },
    bf16 = false,
  ) {
    this.bytes = layout.floats * 4;
    this.values = driver.alloc(this.bytes);
    this.writeAll(this.values, params);
    this.bf16 = bf16 ? driver.alloc(layout.floats * 2) : 0n;
    this.grads = training ? driver.alloc(this.bytes) : 0n;
    this.m = training ? driver.alloc(this.bytes) : 0n;
    this.v = training ? driver.alloc(this.bytes) : 0n;
    if (training) {
      if (moments) {
        this.writeAll(this.m, moments.m);
        this.writeAll(this.v, moments.v);
      } else {
        driver.zero(this.m, this.bytes);
        driver.zero(this.v, this.bytes);
      }
    }
  }

  private writeAll(base: DevicePtr, tensors: ReadonlyMap<string, TensorData>): void {
    const host = new Float32Array(this.layout.floats);
    for (const slot of this.layout.slots.values()) {
      const t = tensors.get(slot.name);
      if (!t) throw new RuntimeError(`missing parameter tensor ${slot.name}`);
      host.set(t.data, slot.offset);
    }
    this.driver.upload(base, host);
  }

  private readAll(base: DevicePtr): Map<string, TensorData> {
    const host = new Float32Array(this.layout.floats);
    this.driver.download(host, base);
    const out = new Map<string, TensorData>();
    for (const slot of this.layout.slots.values()) out.set(slot.name, { shape: slot.shape, data: host.slice(slot.offset, slot.offset + slot.length) });
    return out;
  }

  param(name: string): DevicePtr {
    return this.values + BigInt(this.slot(name).offset * 4);
  }

  grad(name: string): DevicePtr {
    return this.grads + BigInt(this.slot(name).offset * 4);
  }

  slot(name: string): ParamSlot {
    const s = this.layout.slots.get(name);
    if (!s) throw new RuntimeError(`no parameter ${name} on the device`);
    return s;
  }

  zeroGrads(): void {
    this.driver.zero(this.grads, this.bytes);
  }

  snapshot(): { params: Map<string, TensorData>; m: Map<string, TensorData>; v: Map<string, TensorData> } {
    return { params: this.readAll(this.values), m: this.m ? this.readAll(this.m) : new Map(), v: this.v ? this.readAll(this.v) : new Map() };
  }

  dispose(): void {
    for (const p of [this.values, this.grads, this.m, this.v, this.bf16]) if (p) this.driver.free(p);
  }
}
