/**
 * Runs a model graph on CUDA: the forward pass (logits, losses) and, for training, the backward pass
 * and the AdamW update. Per evaluation shape (B, T) and mode, one memory plan (lifetimes.ts, plan.ts)
 * fixes every buffer's address in one arena allocated at the plan's peak, reported before the first
 * step. A training step makes one host read: the loss, the squared gradient norm, a non-finite flag
 * and every router's load, together.
 */
import { parseRope } from '../../ir/rope.js';
import type { ModelGraph, Node } from '../../ir/types.js';
import { neededNodes } from '../model/forward.js';
import type { TensorData } from '../model/params.js';
import { tablesFor } from '../ops/rope.js';
import { runtimeEnv } from '../config/env.js';
import { RuntimeError } from '../errors.js';
import type { CapturedGraph, DevicePtr } from './driver.js';
import { f32, i32, ptr } from './driver.js';
import { bufferIn, gradName, hasGradient, lifetimes, opBuffer, shapesOf, timeline, type Mode, type Pass, type Timeline } from './lifetimes.js';
import { F32, grid1, launch, u64 } from './ops/context.js';
import type { Bf16Operands } from './ops/context.js';
import { cudaOp, type BackwardContext, type CudaPrecision, type Gpu, type OpContext } from './ops/index.js';
import { sumWeights } from './ops/losses.js';
import { countedWeight } from '../train/accumulate.js';
import { DeviceParams, layoutParams, type ParamLayout } from './params.js';
import { planMemory, type BufferNeed, type MemoryPlan } from './plan.js';
import { OpProfile } from './profile.js';
import type { CudaRuntime } from './runtime.js';

export interface CudaStepOptions {
  readonly lr: number;
  /** max global gradient norm, 0 = off */
  readonly clip: number;
  readonly betas: readonly [number, number];
  readonly weightDecay: number;
  readonly eps: number;
  /** γ for every biased router this step; default each node's bias_rate */
  readonly biasRate?: number;
  /** the final loss.sum's weights this step (the MTP weight schedule); default the graph's */
  readonly lossWeights?: readonly number[];
  /** gradient accumulation over this many equal parts of the batch's rows (parallel.micro_batches) */
  readonly microBatches?: number;
}

export interface CudaStepResult {
  readonly loss: number;
  readonly gradNorm: number;
  readonly clipScale: number;
  /** router load value name → expert counts of this batch */
  readonly loads: Map<string, Float32Array>;
  /** 'loss' or 'gradients' when a value was not finite (nothing was updated), else null */
  readonly nonFinite: string | null;
}

/** One evaluation's plan: its nodes and every buffer's place in the arena. */
export interface Prepared {
  readonly mode: Mode;
  readonly B: number;
  readonly T: number;
  readonly nodes: readonly Node[];
  readonly plan: MemoryPlan;
  /** the order of the passes (forward, re-run forwards under full recompute, backward) */
  readonly line: Timeline;
  /** gradient buffers to zero when each step starts */
  readonly zeroAt: ReadonlyMap<number, readonly string[]>;
}

/** Routers in node order with their load output, bias state and rate (specs/ir.md §5). */
function routersOf(model: ModelGraph): { load: string; bias: string | null; rate: number | null }[] {
  return model.nodes.filter((n) => n.op === 'moe.router').map((n) => ({ load: n.outputs[4]!, bias: n.state[0] ?? null, rate: typeof n.attrs.bias_rate === 'number' ? n.attrs.bias_rate : null }));
}

/** A model's device weights, lent to another model of the same parameter layout (it reads them, never frees them). */
export class SharedWeights {
  constructor(readonly params: DeviceParams) {}
}

function sameLayout(a: ParamLayout, b: ParamLayout): boolean {
  if (a.floats !== b.floats || a.slots.size !== b.slots.size) return false;
  return [...a.slots.values()].every((s) => b.slots.get(s.name)?.offset === s.offset && b.slots.get(s.name)?.length === s.length);
}

export class CudaModel {
  private readonly params: DeviceParams;
  private readonly state = new Map<string, { ptr: DevicePtr; host: Float32Array }>();
  private readonly rotary = new Map<string, { cos: DevicePtr; sin: DevicePtr; positions: number }>();
  private readonly prepared = new Map<string, Prepared>();
  /** the node that sums the objective (`loss`), and the shift of every cross-entropy value */
  private readonly objective: Node | undefined;
  private readonly shifts = new Map<string, number>();
  private weightsOn: DevicePtr | undefined;
  private arena: { ptr: DevicePtr; bytes: number } | undefined;
  private report: DevicePtr | undefined;
  /** AdamW's per-step numbers on the device: [scale, shrink, β1, β2, sqrtBc2, stepSize, eps] */
  private hyper: DevicePtr | undefined;
  /**
   * Captured step graphs by plan and loss weights (forward + backward + the report), and the AdamW
   * graph. A shape's first step runs eagerly (kernel lookup, cuBLASLt algorithm choice, rotary
   * tables: host work that must not be captured); its second is captured and every later one replays.
   */
  private readonly graphs = new Map<string, CapturedGraph>();
  private readonly warmed = new Set<string>();
  private readonly routers: ReturnType<typeof routersOf>;
  /** optimizer steps taken (AdamW's t) */
  step = 0;
  /** MOE_CUDA_PROFILE: milliseconds and calls per `op fwd|bwd` (each op synchronized: slower, for finding hot spots) */
  private readonly profile = runtimeEnv().cudaProfile ? new OpProfile(() => this.gpu.driver.synchronize()) : undefined;

  private readonly gpu: Gpu;
  private readonly recompute: boolean;
  /** false when the weights are another model's (SharedWeights): that model frees them */
  private readonly ownsParams: boolean = true;
  private readonly scratch: { ptr: DevicePtr; bytes: number }[] = [];

  constructor(
    private readonly runtime: CudaRuntime,
    readonly model: ModelGraph,
    /** host tensors to upload, or another model's device weights to read (sharedWeights: GRPO's decoder reads its trainer's) */
    params: ReadonlyMap<string, TensorData> | SharedWeights,
    state: ReadonlyMap<string, TensorData>,
    options: {
      readonly training?: boolean;
      readonly moments?: { m: ReadonlyMap<string, TensorData>; v: ReadonlyMap<string, TensorData> };
      readonly step?: number;
      /** bf16: products with a weight on tensor cores (bf16 operands, fp32 accumulation); fp32 master weights and moments either way */
      readonly precision?: CudaPrecision;
      /** `recompute = full`: each layer's forward runs again before its backward, so only layer inputs are kept (lifetimes.ts) */
      readonly recompute?: boolean;
    } = {},
  ) {
    for (const node of model.nodes) if (!cudaOp(node.op)) throw new RuntimeError(`the cuda backend has no kernel for op ${node.op} (${node.loc.file}:${node.loc.line})`);
    const layout = layoutParams(model, (node) => cudaOp(node.op)?.fused?.(node) ?? []);
    const bf16 = options.precision === 'bf16';
    if (params instanceof SharedWeights) {
      if (options.training) throw new RuntimeError('a model reading another model\'s weights cannot train them');
      if (bf16 && !params.params.bf16) throw new RuntimeError('bf16 decoding on weights kept in fp32 only: open both models with the same precision');
      if (!sameLayout(layout, params.params.layout)) throw new RuntimeError(`model ${model.name} lays its parameters out unlike the model whose weights it would read`);
      this.params = params.params;
      this.ownsParams = false;
    } else this.params = new DeviceParams(runtime.driver, layout, params, options.training ?? false, options.moments, bf16);
    this.gpu = bf16 ? { ...runtime, bf16: this.bf16Operands() } : runtime;
    if (bf16 && this.ownsParams) this.refreshBf16();
    for (const s of model.state) {
      const host = Float32Array.from(state.get(s.name)!.data);
      const p = runtime.driver.alloc(host.byteLength);
      runtime.driver.upload(p, host);
      this.state.set(s.name, { ptr: p, host });
    }
    this.routers = routersOf(model);
    this.objective = model.nodes.find((n) => n.op === 'loss.sum' && n.outputs.includes('loss'));
    for (const n of model.nodes) if (n.op === 'loss.cross_entropy' && typeof n.attrs.shift === 'number') this.shifts.set(n.outputs[0]!, n.attrs.shift);
    this.step = options.step ?? 0;
    this.recompute = options.recompute ?? false;
  }

  /** bf16 operands: the weights' shadow at the same offsets, and two scratch buffers grown on demand (during a shape's eager first step). */
  private bf16Operands(): Bf16Operands {
    const values = this.params.values;
    return {
      weight: (fp32) => this.params.bf16 + (fp32 - values) / 2n,
      convert: (slot, x, n) => {
        const bytes = n * 2;
        let s = this.scratch[slot];
        if (!s || s.bytes < bytes) {
          if (s) this.runtime.driver.free(s.ptr);
          s = { ptr: this.runtime.driver.alloc(bytes), bytes };
          this.scratch[slot] = s;
        }
        launch(this.runtime, 'to_bf16', grid1(n), 256, [ptr(x), ptr(s.ptr), u64(n)]);
        return s.ptr;
      },
    };
  }

  /** The bf16 shadow of the weights, from the fp32 masters (after loading and after each update). */
  private refreshBf16(): void {
    const n = this.params.layout.floats;
    launch(this.runtime, 'to_bf16', grid1(n), 256, [ptr(this.params.values), ptr(this.params.bf16), u64(n)]);
  }

  /** The plan of one evaluation: which nodes run and where every buffer lives. */
  plan(B: number, T: number, mode: Mode, wanted: readonly string[]): Prepared {
    const key = `${B}×${T}/${mode}/${wanted.join(',')}`;
    const hit = this.prepared.get(key);
    if (hit) return hit;
    const nodes = neededNodes(this.model, wanted);
    return this.adopt(key, B, T, mode, nodes, lifetimes(this.model, nodes, B, T, mode, wanted, this.precision, this.recompute));
  }

  /** fp32 or bf16 (the constructor's `precision`) */
  get precision(): CudaPrecision {
    return this.gpu.bf16 ? 'bf16' : 'fp32';
  }

  /**
   * A plan of the caller's buffer needs (the cuda decoder's: cached attention, the last column's
   * logits) for `nodes`, kept under `key`; the arena grows to fit. A growth moves the arena, so
   * whoever captured a graph over it checks `arenaAddress` before replaying.
   */
  adopt(key: string, B: number, T: number, mode: Mode, nodes: readonly Node[], needs: readonly BufferNeed[]): Prepared {
    const hit = this.prepared.get(key);
    if (hit) return hit;
    const plan = planMemory(needs);
    const zeroAt = new Map<number, string[]>();
    for (const n of needs) if (n.name.startsWith('∇')) zeroAt.set(n.first, [...(zeroAt.get(n.first) ?? []), n.name]);
    const prepared: Prepared = { mode, B, T, nodes, plan, line: timeline(nodes, mode, this.recompute), zeroAt };
    if (!this.arena || this.arena.bytes < plan.peakBytes) {
      if (this.arena) this.gpu.driver.free(this.arena.ptr);
      this.arena = { ptr: this.gpu.driver.alloc(plan.peakBytes), bytes: plan.peakBytes };
      // captured steps hold the old arena's addresses: capture them again (the AdamW graph holds none of it)
      for (const [k, g] of this.graphs) {
        if (k.startsWith('adamw')) continue;
        g.dispose();
        this.graphs.delete(k);
        this.warmed.delete(k);
      }
    }
    this.prepared.set(key, prepared);
    return prepared;
  }

  /** Where the activation arena starts now (0n before the first plan). */
  get arenaAddress(): DevicePtr {
    return this.arena?.ptr ?? 0n;
  }

  /** The device address of a buffer of plan p. */
  address(p: Prepared, name: string): DevicePtr {
    return this.at(p, name);
  }

  /** The gpu the ops launch on (with bf16 operands in bf16 mode). */
  get device(): Gpu {
    return this.gpu;
  }

  /**
   * Runs the forward of p's nodes; `own` may run a node itself (the decoder's cached attention) and
   * then returns true. Queued on the stream, nothing synchronized: capturable.
   */
  runNodes(p: Prepared, own: (node: Node, ctx: OpContext, step: number) => boolean): void {
    p.nodes.forEach((node, step) => {
      const ctx = this.context(p, node, step);
      this.timed(`${node.op} fwd`, () => {
        if (!own(node, ctx, step)) cudaOp(node.op)!.forward(ctx);
      });
    });
  }

  /** Bytes on the device: the weights (and gradients and moments when training; none when they are another model's) plus the activation arena. */
  deviceBytes(): { weights: number; arena: number } {
    const per = this.params.layout.floats * F32;
    return { weights: this.ownsParams ? per * (this.params.grads ? 4 : 1) : 0, arena: this.arena?.bytes ?? 0 };
  }

  private at(p: Prepared, name: string): DevicePtr {
    const b = p.plan.buffers.get(name);
    if (!b) throw new RuntimeError(`no buffer planned for ${name}`);
    return this.arena!.ptr + BigInt(b.offset);
  }

  /**
   * Node `step`'s view of the arena in one pass. A recomputed layer's re-run and backward read and
   * write the second life (`↻`) of what the layer makes and reads inside itself; everything else, and
   * every pass without recompute, the buffer of that name.
   */
  private context(p: Prepared, node: Node, step: number, pass: Pass = 'fwd'): OpContext {
    const recomputed = p.line.re[step] !== undefined;
    const value = (name: string): DevicePtr => this.at(p, bufferIn(name, pass, recomputed, (n) => p.plan.buffers.has(n)));
    return {
      ...shapesOf(this.model, node),
      B: p.B,
      T: p.T,
      gpu: this.gpu,
      input: (i) => value(node.inputs[i]!),
      output: (i) => value(node.outputs[i]!),
      param: (i) => this.params.param(node.params[i]!),
      state: (i) => (node.state[i] === undefined ? undefined : this.state.get(node.state[i])!.ptr),
      buffer: (name) => value(opBuffer(step, name)),
      rotary: (d) => this.rotaryTables(node, d, p.T),
      ...(p.mode === 'train' && node.op === 'loss.sum' && node.outputs.includes('loss') ? { sumWeightsOn: this.objectiveWeights() } : {}),
    };
  }

  private upload(p: Prepared, ids: Int32Array, mask: Float32Array | undefined): void {
    const { B, T } = p;
    if (ids.length !== B * T) throw new RuntimeError(`expected ${B * T} token ids, got ${ids.length}`);
    this.gpu.driver.upload(this.at(p, 'input_ids'), ids);
    if (p.plan.buffers.has('loss_mask')) this.gpu.driver.upload(this.at(p, 'loss_mask'), mask ?? new Float32Array(B * T).fill(1));
  }

  private runForward(p: Prepared): void {
    p.nodes.forEach((node, step) => this.timed(`${node.op} fwd`, () => cudaOp(node.op)!.forward(this.context(p, node, step))));
  }

  private timed(label: string, work: () => void): void {
    if (!this.profile) return work();
    this.profile.time(label, work);
  }

  /** The MOE_CUDA_PROFILE table (empty when profiling is off): ms and calls per op and pass, largest first, warm-up steps left out. */
  profileReport(): string {
    return this.profile?.report() ?? '';
  }

  private download(p: Prepared, name: string): Float32Array {
    const host = new Float32Array(p.plan.buffers.get(name)!.bytes / F32);
    this.gpu.driver.download(host, this.at(p, name));
    return host;
  }

  /**
   * Uploads token ids [B, T] and queues the forward of what `wanted` needs, in `mode` (train: its
   * activations kept for backwardFrom); the returned plan says where `wanted` lies (address()).
   * Nothing synchronized, nothing read back: for callers that reduce the values on the device (GRPO).
   */
  forwardOnDevice(ids: Int32Array, B: number, T: number, mode: Mode, wanted: readonly string[]): Prepared {
    const p = this.plan(B, T, mode, wanted);
    this.upload(p, ids, undefined);
    this.runForward(p);
    return p;
  }

  /**
   * The backward of train plan p (forwardOnDevice) from the gradient of `value`, which `seed` writes
   * whole at the given address before any node's backward: the objective is the caller's (GRPO's
   * logits gradient), not the graph's loss. Parameter gradients are added to the gradient arena,
   * zeroed first when `first` (gradient accumulation over micro-batches otherwise).
   */
  backwardFrom(p: Prepared, value: string, seed: (grad: DevicePtr) => void, first: boolean): void {
    if (p.mode !== 'train') throw new RuntimeError('backwardFrom needs a plan made in train mode');
    const grad = this.at(p, gradName(value));
    this.backwardSteps(p, first, () => seed(grad));
  }

  /** The squared global gradient norm and whether any gradient is not finite: one host read. */
  gradientSquares(): { sq: number; finite: boolean } {
    const report = (this.report ??= this.gpu.driver.alloc(4096 * F32));
    const total = this.params.layout.floats;
    this.gpu.driver.zero(report, 2 * F32);
    launch(this.gpu, 'sumsq', grid1(total, 256), 256, [ptr(this.params.grads), ptr(report), u64(total)]);
    const host = new Float32Array(2);
    this.gpu.driver.download(host, report);
    return { sq: host[0]!, finite: host[1] === 0 && Number.isFinite(host[0]) };
  }

  /**
   * Clipping and AdamW from the gradient arena (trainStep's, shared): nothing updated when a
   * gradient is not finite. `only` names the parameters to update (the others got no gradient and
   * are left alone, moments included, as tfjs AdamW skips them); default every parameter.
   */
  applyGradients(options: CudaStepOptions, sq: number, finite: boolean, only?: ReadonlySet<string>): { gradNorm: number; clipScale: number; nonFinite: 'gradients' | null } {
    const gradNorm = Math.sqrt(sq);
    if (!finite || !Number.isFinite(sq)) return { gradNorm, clipScale: 1, nonFinite: 'gradients' };
    const clipScale = options.clip > 0 ? Math.min(1, options.clip / (gradNorm + 1e-6)) : 1;
    this.adamw(options, clipScale, only);
    return { gradNorm, clipScale, nonFinite: null };
  }

  /** This model's device weights, for another model of the same graph to read without a copy. */
  sharedWeights(): SharedWeights {
    return new SharedWeights(this.params);
  }

  /** The state tensors (router biases) as the host holds them. */
  stateTensors(): Map<string, TensorData> {
    return new Map(this.model.state.map((s) => [s.name, { shape: s.shape, data: Float32Array.from(this.state.get(s.name)!.host) }]));
  }

  /** The named values for token ids [B, T] (row-major), copied to the host. */
  forward(ids: Int32Array, B: number, T: number, wanted: readonly string[] = ['logits'], mask?: Float32Array): Map<string, Float32Array> {
    const p = this.plan(B, T, 'forward', wanted);
    this.upload(p, ids, mask);
    this.runForward(p);
    this.gpu.driver.synchronize();
    return new Map(wanted.map((name) => [name, this.download(p, name)]));
  }

  /** The device buffer of the objective's loss.sum weights (written before each micro-batch). */
  private objectiveWeights(): DevicePtr {
    const n = this.objective?.inputs.length ?? 0;
    return (this.weightsOn ??= this.gpu.driver.alloc(Math.max(1, n) * F32));
  }

  /**
   * Backward: parameter gradients are ADDED to the gradient arena (zeroed first unless accumulating
   * a later micro-batch).
   */
  private backwardSteps(p: Prepared, zeroParamGrads = true, seed?: () => void): void {
    const n = p.nodes.length;
    const zero = (step: number): void => {
      for (const g of p.zeroAt.get(step) ?? []) this.gpu.driver.zero(this.at(p, g), p.plan.buffers.get(g)!.bytes);
    };
    if (zeroParamGrads) this.params.zeroGrads();
    zero(n);
    if (seed) seed();
    else launch(this.gpu, 'fill', [1], 32, [ptr(this.at(p, gradName('loss'))), f32(1), u64(1)]);
    for (let step = n; step < p.line.events.length; step++) {
      if (step !== n) zero(step);
      const { pass, node: i } = p.line.events[step]!;
      const node = p.nodes[i]!;
      const op = cudaOp(node.op)!;
      if (pass === 're') {
        this.timed(`${node.op} re-run`, () => op.forward(this.context(p, node, i, 're')));
        continue;
      }
      if (!op.backward) throw new RuntimeError(`the cuda backend has no backward for op ${node.op}`);
      const ctx: BackwardContext = {
        ...this.context(p, node, i, 'bwd'),
        gradOut: (k) => (hasGradient(this.model, node.outputs[k]!) ? this.at(p, gradName(node.outputs[k]!)) : null),
        gradIn: (k) => (hasGradient(this.model, node.inputs[k]!) ? this.at(p, gradName(node.inputs[k]!)) : null),
        gradParam: (k) => this.params.grad(node.params[k]!),
      };
      this.timed(`${node.op} bwd`, () => op.backward!(ctx));
    }
  }

  /** The loss and gradients of one batch, without an update (gradient checks). */
  gradients(ids: Int32Array, B: number, T: number, mask?: Float32Array): { loss: number; grads: Map<string, TensorData> } {
    const p = this.plan(B, T, 'train', this.wanted());
    this.upload(p, ids, mask);
    this.writeObjectiveWeights(this.baseWeights());
    this.runForward(p);
    this.backwardSteps(p);
    this.gpu.driver.synchronize();
    const loss = this.download(p, 'loss')[0]!;
    return { loss, grads: this.gradientTensors() };
  }

  /** The gradient arena as host tensors by parameter name (gradient checks). */
  gradientTensors(): Map<string, TensorData> {
    const host = new Float32Array(this.params.layout.floats);
    this.gpu.driver.download(host, this.params.grads);
    const grads = new Map<string, TensorData>();
    for (const s of this.params.layout.slots.values()) grads.set(s.name, { shape: s.shape, data: host.slice(s.offset, s.offset + s.length) });
    return grads;
  }

  private wanted(): string[] {
    return ['loss', ...this.routers.map((r) => r.load)];
  }

  /** The objective's loss.sum weights: the graph's, or this step's (the MTP weight schedule). */
  private baseWeights(override?: readonly number[]): number[] {
    if (!this.objective) return [];
    return [...(override ?? sumWeights(this.objective))];
  }

  private writeObjectiveWeights(weights: readonly number[]): void {
    if (this.objective) this.gpu.driver.upload(this.objectiveWeights(), Float32Array.from(weights));
  }

  /**
   * One optimizer step on one batch (runtime/train/step.ts's contract): nothing updated when a value is
   * not finite. With `microBatches` M the batch's rows run in M parts whose gradients add up in the
   * gradient arena; each part's cross-entropy terms are weighted by its share of the batch's counted
   * positions and the other terms by 1/M (runtime/train/accumulate.ts, specs/ir.md §5.1), so the loss
   * and gradient are the whole batch's; one clip, one AdamW step, one bias update.
   */
  trainStep(ids: Int32Array, B: number, T: number, options: CudaStepOptions, mask?: Float32Array): CudaStepResult {
    const M = options.microBatches ?? 1;
    if (!Number.isInteger(M) || M < 1 || B % M !== 0) throw new RuntimeError(`micro_batches = ${M} does not divide the batch of ${B} rows`);
    if (M > 1 && !this.objective) throw new RuntimeError('micro_batches on cuda needs the objective to be a loss.sum node (every lowered graph has one)');
    const rows = B / M;
    const p = this.plan(rows, T, 'train', this.wanted());
    const fullMask = mask ?? new Float32Array(B * T).fill(1);
    const E = this.routers.map((r) => p.plan.buffers.get(r.load)!.bytes / F32);
    const reportFloats = 3 + E.reduce((a, b) => a + b, 0);
    if (reportFloats > 4096) throw new RuntimeError('too many routers for the step report');
    const report = (this.report ??= this.gpu.driver.alloc(4096 * F32));
    const base = this.baseWeights(options.lossWeights);
    for (let i = 0; i < M; i++) {
      const [first, last] = [i === 0, i === M - 1];
      this.upload(p, ids.subarray(i * rows * T, (i + 1) * rows * T), fullMask.subarray(i * rows * T, (i + 1) * rows * T));
      this.writeObjectiveWeights(M === 1 ? base : this.microWeights(base, fullMask, B, T, i, M));
      // forward, backward and the report: [loss, Σg², non-finite flag, loads…], summed over the parts
      this.replayed(`step ${rows}×${T} ${first ? 'first' : 'later'} ${last ? 'last' : ''}`, last, () => {
        this.runForward(p);
        this.backwardSteps(p, first);
        if (first) this.gpu.driver.zero(report, reportFloats * F32);
        launch(this.gpu, 'axpy', [1], 32, [ptr(report), ptr(this.at(p, 'loss')), f32(1), u64(1)]);
        let at = 3;
        this.routers.forEach((r, k) => {
          launch(this.gpu, 'axpy', grid1(E[k]!), 256, [ptr(report + BigInt(at * F32)), ptr(this.at(p, r.load)), f32(1), u64(E[k]!)]);
          at += E[k]!;
        });
        if (last) {
          const total = this.params.layout.floats;
          launch(this.gpu, 'sumsq', grid1(total, 256), 256, [ptr(this.params.grads), ptr(report + BigInt(F32)), u64(total)]);
        }
      });
    }
    const host = new Float32Array(reportFloats);
    this.gpu.driver.download(host, report);
    const [loss, sq, flag] = [host[0]!, host[1]!, host[2]!];
    const loads = new Map<string, Float32Array>();
    let off = 3;
    this.routers.forEach((r, i) => {
      loads.set(r.load, host.slice(off, off + E[i]!));
      off += E[i]!;
    });
    if (!Number.isFinite(loss)) return { loss, gradNorm: Math.sqrt(sq), clipScale: 1, loads, nonFinite: 'loss' };
    const applied = this.applyGradients(options, sq, flag === 0);
    if (applied.nonFinite === null) this.updateBiases(loads, options.biasRate);
    return { loss, ...applied, loads };
  }

  /** Micro-batch i's weights: each cross-entropy term by its share of the counted mask weight, the rest by 1/M. */
  private microWeights(base: readonly number[], mask: Float32Array, B: number, T: number, i: number, M: number): number[] {
    const node = this.objective!;
    const rows = B / M;
    const counted = (from: number, to: number, shift: number): number => countedWeight({ inputIds: new Int32Array(0), lossMask: mask, batch: B, seqLen: T }, from, to, shift);
    return node.inputs.map((value, j) => {
      const shift = this.shifts.get(value);
      if (shift === undefined) return base[j]! / M;
      const whole = counted(0, B, shift);
      return whole > 0 ? (base[j]! * counted(i * rows, (i + 1) * rows, shift)) / whole : base[j]! / M;
    });
  }

  /**
   * Runs `work` eagerly (profiling, a key's first time) or through its captured graph; `endsStep`:
   * it completes a training step (the profile counts steps).
   */
  private replayed(key: string, endsStep: boolean, work: () => void): void {
    if (this.profile) return this.profile.graph(key, endsStep, work);
    const graph = this.graphs.get(key);
    if (graph) return graph.launch();
    if (!this.warmed.has(key)) {
      this.warmed.add(key);
      return work();
    }
    const captured = this.gpu.driver.capture(work);
    this.graphs.set(key, captured);
    captured.launch();
  }

  private adamw(o: CudaStepOptions, scale: number, only?: ReadonlySet<string>): void {
    this.step++;
    const [b1, b2] = o.betas;
    const values = Float32Array.of(scale, 1 - o.lr * o.weightDecay, b1, b2, Math.sqrt(1 - b2 ** this.step), o.lr / (1 - b1 ** this.step), o.eps);
    const hyper = (this.hyper ??= this.gpu.driver.alloc(values.byteLength));
    this.gpu.driver.upload(hyper, values);
    const decays = o.weightDecay !== 0;
    // timed inside the graph's run: the profile leaves the first run of each AdamW graph out
    this.replayed(`adamw ${decays} ${only ? [...only].join(',') : '*'}`, false, () =>
      this.timed('adamw', () => {
        for (const s of this.params.layout.slots.values()) {
          if (only && !only.has(s.name)) continue;
          const off = BigInt(s.offset * F32);
          launch(this.gpu, 'adamw', grid1(s.length), 256, [
            ptr(this.params.values + off), ptr(this.params.grads + off), ptr(this.params.m + off), ptr(this.params.v + off),
            u64(s.length), ptr(hyper), i32(s.decay && decays ? 1 : 0),
          ]);
        }
        if (this.params.bf16) this.refreshBf16();
      }),
    );
  }

  /** b ← b + γ·sign(Σ load − E·load) per biased router (specs/ir.md §5), on the host copy, then uploaded. */
  private updateBiases(loads: ReadonlyMap<string, Float32Array>, rate: number | undefined): void {
    for (const r of this.routers) {
      if (r.bias === null) continue;
      const s = this.state.get(r.bias)!;
      const c = loads.get(r.load)!;
      const gamma = Math.fround(rate ?? r.rate ?? 0);
      const sum = Math.fround(c.reduce((a, b) => Math.fround(a + b), 0));
      for (let e = 0; e < c.length; e++) s.host[e] = Math.fround(s.host[e]! + Math.fround(Math.sign(Math.fround(sum - Math.fround(c[e]! * c.length))) * gamma));
      this.gpu.driver.upload(s.ptr, s.host);
    }
  }

  /** Weights, optimizer moments and state, as host tensors (checkpoints). */
  snapshot(): { params: Map<string, TensorData>; m: Map<string, TensorData>; v: Map<string, TensorData>; state: Map<string, TensorData> } {
    const { params, m, v } = this.params.snapshot();
    const state = new Map<string, TensorData>();
    for (const s of this.model.state) state.set(s.name, { shape: s.shape, data: Float32Array.from(this.state.get(s.name)!.host) });
    return { params, m, v, state };
  }

  /** cos/sin tables [≥ T, d/2] on the device for this node's rope config (reallocated when T grows). */
  rotaryTables(node: Node, d: number, T: number): { cos: DevicePtr; sin: DevicePtr } {
    const config = parseRope(node.attrs.rope);
    const key = JSON.stringify([d, config.theta, config.scaling]);
    const hit = this.rotary.get(key);
    if (hit && hit.positions >= T) return hit;
    if (hit) {
      this.gpu.driver.free(hit.cos);
      this.gpu.driver.free(hit.sin);
    }
    const tables = tablesFor(config, d, T);
    const upload = (data: Float32Array): DevicePtr => {
      const p = this.gpu.driver.alloc(data.byteLength);
      this.gpu.driver.upload(p, data);
      return p;
    };
    const entry = { cos: upload(tables.cos), sin: upload(tables.sin), positions: tables.positions };
    this.rotary.set(key, entry);
    return entry;
  }

  dispose(): void {
    if (this.ownsParams) this.params.dispose();
    for (const s of this.state.values()) this.gpu.driver.free(s.ptr);
    for (const r of this.rotary.values()) {
      this.gpu.driver.free(r.cos);
      this.gpu.driver.free(r.sin);
    }
    if (this.arena) this.gpu.driver.free(this.arena.ptr);
    if (this.report) this.gpu.driver.free(this.report);
    if (this.hyper) this.gpu.driver.free(this.hyper);
    if (this.weightsOn) this.gpu.driver.free(this.weightsOn);
    for (const s of this.scratch) this.gpu.driver.free(s.ptr);
    for (const g of this.graphs.values()) g.dispose();
    this.graphs.clear();
    this.arena = undefined;
    this.prepared.clear();
  }
}
