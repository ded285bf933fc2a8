/**
 * The cached executor: runs the nodes a model graph needs for its `logits` (not the losses, not the
 * MTP heads) on new columns only, attention through runtime/infer/attention.ts with one LayerCache
 * per attention node, every other op through its training kernel. Returns the logits of each row's
 * last column. Routed experts run dropless here, whatever the training capacity: inference drops
 * no tokens (DeepSeek-V3 and HF alike), and a capacity would make a row's output depend on the
 * other rows of its batch.
 */
import type { ModelGraph, Node } from '../../ir/types.js';
import { RuntimeError } from '../errors.js';
import { neededNodes, type Weights } from '../model/forward.js';
import { kernelFor } from '../ops/index.js';
import type { KernelArgs } from '../ops/kernel.js';
import { withFrozenWeights } from '../ops/linear.js';
import { tf } from '../tf.js';
import { cachedGqa, cachedMla, type StepInputs } from './attention.js';
import { BatchState, LayerCache, type MlaCacheMode } from './cache.js';
import { rowTables } from './rotary.js';
import type { RopeConfig, RotaryTables } from '../ops/rope.js';
import { readAttrs } from '../../ir/attrs.js';
import type { CommandGraph } from '../backend/capabilities.js';
import { graphCapture, ReplaySlot } from '../backend/replay.js';
import { inPlaceVersion } from '../backend/in-place.js';
import { runtimeEnv } from '../config/env.js';
import type { StepDecoder } from './step-decoder.js';

const ATTENTION = new Set(['attention.gqa', 'attention.mla']);

/** A step's inputs as tensors, made on the host before the step runs (a captured graph replays them). */
interface StepTensors {
  readonly ids: tf.Tensor2D;
  /** the additive masks by sliding window (null: full causal attention), one per window the model's attention nodes use */
  readonly masks: ReadonlyMap<number | null, tf.Tensor4D>;
  /** the first cache column this step writes (fixed-capacity caches only) */
  readonly at: tf.Tensor1D | undefined;
  /** rotary tables by JSON.stringify([config, d]) */
  readonly tables: ReadonlyMap<string, RotaryTables>;
}

/** The rotary (config, width) pairs the model's attention nodes ask for, keyed as StepTensors.tables. */
function rotaryNeeds(nodes: readonly Node[]): Map<string, [RopeConfig, number]> {
  const needs = new Map<string, [RopeConfig, number]>();
  for (const node of nodes) {
    let config: RopeConfig, d: number;
    if (node.op === 'attention.mla') ({ rope: config, rope_dim: d } = readAttrs('attention.mla', node.attrs));
    else if (node.op === 'attention.gqa') ({ rope: config, head_dim: d } = readAttrs('attention.gqa', node.attrs));
    else continue;
    needs.set(JSON.stringify([config, d]), [config, d]);
  }
  return needs;
}

/** The sliding windows (null: full attention) of the model's attention nodes. */
function windowNeeds(nodes: readonly Node[]): (number | null)[] {
  const windows = new Set<number | null>();
  for (const node of nodes) {
    if (node.op === 'attention.mla') windows.add(readAttrs('attention.mla', node.attrs).window);
    else if (node.op === 'attention.gqa') windows.add(readAttrs('attention.gqa', node.attrs).window);
  }
  return [...windows];
}

/**
 * One batch being decoded: its caches and row bookkeeping. Dispose when done.
 *
 * With a `capacity` (the prompt width plus the new tokens), where the backend captures graphs
 * (webgpu), single-token steps run as a captured graph (backend/replay.ts): the caches are
 * allocated at full length and written in place, every step's host values (ids, mask, cache
 * column, rotary tables) come in as tensors, and finished rows stay in the batch as masked padding so shapes never change. The prompt runs
 * plainly (once per generation, nothing to replay), the first single-token step is captured (its
 * shaders compile during the capture, which records commands, not compilation), the rest replay.
 * MOE_WEBGPU_GRAPHS=0 turns this off.
 */
export class Decoder implements StepDecoder {
  private readonly nodes: readonly Node[];
  private readonly caches = new Map<Node, LayerCache>();
  /** Wᵀ of every projection, made on first use: the weights do not change while decoding */
  private readonly transposed = new Map<tf.Tensor, tf.Tensor>();
  /** MLA's per-head W_uk and W_uv split from kv_b, and the like: see StepInputs.derived */
  private readonly derived = new Map<tf.Tensor, tf.Tensor[]>();
  private readonly rotary: Map<string, [RopeConfig, number]>;
  private readonly windows: (number | null)[];
  /** cache length of a graph-decoded batch, else null */
  private readonly capacity: number | null;
  /** rows still generating, as indices into the batch the decoder began with (graph mode) */
  private live: number[];
  /** columns written to fixed-capacity caches (graph mode): replays write without running the caches' code */
  private written = 0;
  /** the single-token step's graph (graph mode), and the in-place version it was captured at */
  private readonly graph: ReplaySlot<tf.Tensor> | null;
  private graphVersion = -1;
  /** encode the next replay while the device runs this one (MOE_GRAPH_PREPARE) */
  private readonly prepare: boolean;
  private rowState: BatchState;

  constructor(
    private readonly model: ModelGraph,
    private readonly weights: Weights,
    rows: number,
    private readonly mlaCache: MlaCacheMode = 'latent',
    capacity?: number,
  ) {
    this.nodes = neededNodes(model, ['logits']);
    if (!this.nodes.some((n) => n.outputs.includes('logits'))) throw new RuntimeError(`model ${model.name} produces no logits`);
    const graphs = capacity === undefined ? null : graphCapture();
    this.capacity = graphs === null ? null : capacity!;
    // no warm-up: the prompt's plain step compiled the shaders, and a capture records commands, not compilation
    this.graph = graphs === null ? null : new ReplaySlot<tf.Tensor>(graphs, 0, (logits) => logits.dispose());
    this.prepare = runtimeEnv().graphPrepare;
    for (const node of this.nodes) if (ATTENTION.has(node.op)) this.caches.set(node, new LayerCache(this.capacity));
    this.rotary = rotaryNeeds(this.nodes);
    this.windows = windowNeeds(this.nodes);
    this.rowState = new BatchState(rows);
    this.live = Array.from({ length: rows }, (_, i) => i);
  }

  get batch(): BatchState {
    return this.rowState;
  }

  /**
   * Whether this decoder's captured graph can serve another generation of the same shapes: the
   * weights are the same tensors in the same buffers and nothing was written in place since the
   * capture (in-place.ts), so the cached Wᵀ and the captured constants are still current.
   */
  reusable(): boolean {
    return this.graph !== null && this.graphVersion === inPlaceVersion() && this.graph.serves(this.graphState());
  }

  /** Starts a new generation on the kept caches and graph (reusable() first): columns from 0, every row live. */
  reset(): void {
    this.written = 0;
    this.replays = 0;
    this.rowState = new BatchState(this.rowState.rows);
    this.live = Array.from({ length: this.rowState.rows }, (_, i) => i);
  }

  /** What a decode graph reads and must find unchanged: the caches (written in place) and the weights. */
  private graphState(): tf.Tensor[] {
    return [...[...this.caches.values()].flatMap((c) => c.state), ...this.weights.params.values(), ...this.weights.state.values()];
  }

  /** Cached tokens per row. */
  get length(): number {
    return this.capacity === null ? (this.caches.values().next().value?.length ?? 0) : this.written;
  }

  /** single-token steps of this generation that replayed the captured graph (graph mode) */
  replays = 0;

  /**
   * Feeds ids [B][T] (every row T columns; `real[b][t]` false marks left padding) and returns the
   * logits [B, V] after each row's last column. The caller disposes the result.
   */
  step(ids: readonly (readonly number[])[], real: readonly (readonly boolean[])[]): tf.Tensor2D {
    if (this.capacity === null) return this.plainStep(ids, real);
    const logits = this.graphedStep(ids, real);
    const rows = tf.tensor1d(this.live, 'int32');
    // a fresh tensor the caller owns (the graph's own output is overwritten by the next replay)
    const picked = tf.gather(logits.tensor, rows) as tf.Tensor2D;
    rows.dispose();
    if (logits.graph === null) logits.tensor.dispose();
    return picked;
  }

  /**
   * `step`, returning the logits on the host: [B, V] row-major, the rows in the caller's order. In
   * graph mode a replay's logits are read straight from the graph's buffer and the live rows picked
   * on the host (no tfjs op or tensor per token).
   */
  async next(ids: readonly (readonly number[])[], real: readonly (readonly boolean[])[]): Promise<Float32Array> {
    if (this.capacity === null) {
      const logits = this.plainStep(ids, real);
      try {
        return (await logits.data()) as Float32Array;
      } finally {
        logits.dispose();
      }
    }
    const logits = this.graphedStep(ids, real);
    let all: Float32Array;
    if (logits.graph === null) {
      all = (await logits.tensor.data()) as Float32Array;
      logits.tensor.dispose();
    } else {
      const read = logits.graph.read(logits.tensor);
      // the next step's commands are encoded while the GPU runs this one (CommandGraph.prepare)
      if (this.prepare) logits.graph.prepare();
      all = (await read) as Float32Array;
    }
    if (this.live.length === this.batch.rows) return all;
    const vocab = all.length / this.batch.rows;
    const picked = new Float32Array(this.live.length * vocab);
    this.live.forEach((row, i) => picked.set(all.subarray(row * vocab, (row + 1) * vocab), i * vocab));
    return picked;
  }

  private checkRows(ids: readonly (readonly number[])[]): number {
    const time = ids[0]?.length ?? 0;
    if (ids.length !== this.live.length || time === 0) throw new RuntimeError(`expected ${this.live.length} rows of new tokens, found ${ids.length}`);
    return time;
  }

  private plainStep(ids: readonly (readonly number[])[], real: readonly (readonly boolean[])[]): tf.Tensor2D {
    const time = this.checkRows(ids);
    const inputs = this.stepTensors(ids, time, this.batch.advance(real), undefined);
    try {
      return this.frozen(() => this.forwardStep(inputs));
    } finally {
      this.disposeInputs(inputs);
    }
  }

  /**
   * Graph mode: every row of the first batch stays; a finished one is fed masked padding. Logits of
   * every row: the caller's to dispose where `graph` is null, else the graph's output (read it there).
   */
  private graphedStep(ids: readonly (readonly number[])[], real: readonly (readonly boolean[])[]): { tensor: tf.Tensor; graph: CommandGraph | null } {
    const time = this.checkRows(ids);
    const capacity = this.capacity!;
    const allIds = Array.from({ length: this.batch.rows }, () => new Array<number>(time).fill(0));
    const allReal = Array.from({ length: this.batch.rows }, () => new Array<boolean>(time).fill(false));
    this.live.forEach((row, i) => {
      allIds[row] = [...ids[i]!];
      allReal[row] = [...real[i]!];
    });
    const column = this.written;
    if (column + time > capacity) throw new RuntimeError(`decoding past the cache capacity ${capacity}`);
    this.written += time;
    const inputs = this.stepTensors(allIds, time, this.batch.advance(allReal), tf.tensor1d([column], 'int32'));
    try {
      return this.graphStep(inputs, time);
    } finally {
      this.disposeInputs(inputs);
    }
  }

  private graphStep(inputs: StepTensors, time: number): { tensor: tf.Tensor; graph: CommandGraph | null } {
    const run = (): tf.Tensor => this.frozen(() => this.forwardStep(inputs));
    const flat = [inputs.ids, ...inputs.masks.values(), inputs.at!, ...[...inputs.tables.values()].flatMap((t) => [t.cos, t.sin, t.rot])];
    if (time > 1) return { tensor: run(), graph: null };
    // the weights count as state: uploaded before recording (never captured as constants) and checked by reusable()
    const step = this.graph!.run(run, flat, () => this.graphState());
    if (step.mode === 'plain') return { tensor: step.result, graph: null };
    if (step.mode === 'captured') this.graphVersion = inPlaceVersion();
    else this.replays++;
    return { tensor: step.result, graph: step.graph };
  }

  private frozen<T>(fn: () => T): T {
    return withFrozenWeights(this.transposed, fn);
  }

  private stepTensors(ids: readonly (readonly number[])[], time: number, positions: number[][], at: tf.Tensor1D | undefined): StepTensors {
    const tables = new Map<string, RotaryTables>();
    for (const [key, [config, d]] of this.rotary) tables.set(key, rowTables(config, d, positions));
    return {
      ids: tf.tensor2d(ids.flat(), [ids.length, time], 'int32'),
      masks: new Map(this.windows.map((w) => [w, this.batch.mask(time, this.capacity ?? undefined, w)])),
      at,
      tables,
    };
  }

  private disposeInputs(inputs: StepTensors): void {
    tf.dispose([inputs.ids, ...inputs.masks.values(), ...(inputs.at ? [inputs.at] : []), ...[...inputs.tables.values()].flatMap((t) => [t.cos, t.sin, t.rot])]);
  }

  private forwardStep(inputs: StepTensors): tf.Tensor2D {
    return tf.tidy(() => {
      const rotary = (config: RopeConfig, d: number): RotaryTables => {
        const tables = inputs.tables.get(JSON.stringify([config, d]));
        if (!tables) throw new Error(`no rotary tables for width ${d}`);
        return tables;
      };
      const derived = (weight: tf.Tensor, make: () => tf.Tensor[]): tf.Tensor[] => {
        let views = this.derived.get(weight);
        if (!views) this.derived.set(weight, (views = make().map((t) => tf.keep(t))));
        return views;
      };
      const mask = (window: number | null): tf.Tensor => {
        const m = inputs.masks.get(window);
        if (!m) throw new Error(`no attention mask for window ${window}`);
        return m;
      };
      const step: StepInputs = { rotary, mask, at: inputs.at, mlaCache: this.mlaCache, derived };
      const values = new Map<string, tf.Tensor>([['input_ids', inputs.ids]]);
      for (const node of this.nodes) {
        const outputs = this.run(node, values, step);
        node.outputs.forEach((name, i) => values.set(name, outputs[i]!));
      }
      const logits = values.get('logits')!;
      return tf.reshape(logits, [inputs.ids.shape[0], logits.shape[2]!]) as tf.Tensor2D;
    });
  }

  /** Keeps only the given rows (their order in the batch from now on). */
  keepRows(rows: readonly number[]): void {
    if (this.capacity !== null) {
      // graph mode: the rows stay in the batch, masked; only the caller's view shrinks
      this.live = rows.map((r) => this.live[r]!);
      return;
    }
    const index = tf.tensor1d([...rows], 'int32');
    this.caches.forEach((cache) => cache.keepRows(index));
    index.dispose();
    this.rowState.keepRows(rows);
    this.live = rows.map((r) => this.live[r]!);
  }

  /** Floats the cache holds per token per row, over all layers. */
  floatsPerToken(): number {
    return [...this.caches.values()].reduce((sum, c) => sum + c.floatsPerToken(), 0);
  }

  dispose(): void {
    this.graph?.dispose();
    this.caches.forEach((c) => c.dispose());
    this.transposed.forEach((t) => t.dispose());
    this.transposed.clear();
    this.derived.forEach((views) => views.forEach((t) => t.dispose()));
    this.derived.clear();
  }

  private run(node: Node, values: ReadonlyMap<string, tf.Tensor>, step: StepInputs): tf.Tensor[] {
    let inputs = node.inputs.map((n) => values.get(n)!);
    if (node.op === 'lm_head') {
      // only the last column's logits are wanted: project one row per sequence, not T
      const x = inputs[0]!;
      inputs = [tf.slice(x, [0, x.shape[1]! - 1, 0], [x.shape[0]!, 1, x.shape[2]!])];
    }
    const args: KernelArgs = {
      inputs,
      params: node.params.map((p) => this.weights.params.get(p)!),
      state: node.state.map((s) => this.weights.state.get(s)!),
      attrs: node.op === 'moe.experts' ? { ...node.attrs, capacity: null } : node.attrs,
    };
    try {
      const cache = this.caches.get(node);
      if (cache) return [node.op === 'attention.mla' ? cachedMla(args, cache, step) : cachedGqa(args, cache, step)];
      const kernel = kernelFor(node.op);
      if (!kernel) throw new Error(`no kernel for op ${node.op}`);
      return kernel(args);
    } catch (error) {
      throw new RuntimeError(`${node.op} failed at ${node.loc.file}:${node.loc.line}:${node.loc.col}: ${(error as Error).message}`);
    }
  }
}
