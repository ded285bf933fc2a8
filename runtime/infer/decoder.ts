/**
 * The cached executor: runs the nodes a model graph needs for its `logits` (not the losses, not the
 * MTP heads) on new columns only, attention through runtime/infer/attention.ts with one LayerCache
 * per attention node, every other op through its training kernel. Returns the logits of each row's
 * last column. Routed experts run dropless here, whatever the training capacity: inference drops
 * no tokens (DeepSeek-V3 and HF alike), and a capacity would make a row's output depend on the
 * other rows of its batch.
 */
import type { ModelGraph, Node } from '../../compiler/ir/types.js';
import { RuntimeError } from '../errors.js';
import { neededNodes, type Weights } from '../model/forward.js';
import { KERNELS } from '../ops/index.js';
import type { KernelArgs } from '../ops/kernel.js';
import { withFrozenWeights } from '../ops/linear.js';
import { tf } from '../tf.js';
import { cachedGqa, cachedMla, type StepInputs } from './attention.js';
import { BatchState, LayerCache, type MlaCacheMode } from './cache.js';
import { rowTables } from './rotary.js';
import type { RopeConfig, RotaryTables } from '../ops/rope.js';

const ATTENTION = new Set(['attention.gqa', 'attention.mla']);

/** One batch being decoded: its caches and row bookkeeping. Dispose when done. */
export class Decoder {
  private readonly nodes: readonly Node[];
  private readonly caches = new Map<Node, LayerCache>();
  /** Wᵀ of every projection, made on first use: the weights do not change while decoding */
  private readonly transposed = new Map<tf.Tensor, tf.Tensor>();
  /** MLA's per-head W_uk and W_uv split from kv_b, and the like: see StepInputs.derived */
  private readonly derived = new Map<tf.Tensor, tf.Tensor[]>();
  readonly batch: BatchState;

  constructor(
    private readonly model: ModelGraph,
    private readonly weights: Weights,
    rows: number,
    private readonly mlaCache: MlaCacheMode = 'latent',
  ) {
    this.nodes = neededNodes(model, ['logits']);
    if (!this.nodes.some((n) => n.outputs.includes('logits'))) throw new RuntimeError(`model ${model.name} produces no logits`);
    for (const node of this.nodes) if (ATTENTION.has(node.op)) this.caches.set(node, new LayerCache());
    this.batch = new BatchState(rows);
  }

  /** Cached tokens per row. */
  get length(): number {
    return this.caches.values().next().value?.length ?? 0;
  }

  /**
   * Feeds ids [B][T] (every row T columns; `real[b][t]` false marks left padding) and returns the
   * logits [B, V] after each row's last column. The caller disposes the result.
   */
  step(ids: readonly (readonly number[])[], real: readonly (readonly boolean[])[]): tf.Tensor2D {
    const time = ids[0]?.length ?? 0;
    if (ids.length !== this.batch.rows || time === 0) throw new RuntimeError(`expected ${this.batch.rows} rows of new tokens, found ${ids.length}`);
    const positions = this.batch.advance(real);
    return withFrozenWeights(this.transposed, () => this.forwardStep(ids, time, positions));
  }

  private forwardStep(ids: readonly (readonly number[])[], time: number, positions: number[][]): tf.Tensor2D {
    return tf.tidy(() => {
      const tables = new Map<string, RotaryTables>();
      const rotary = (config: RopeConfig, d: number): RotaryTables => {
        const key = JSON.stringify([config, d]);
        let t = tables.get(key);
        if (!t) tables.set(key, (t = rowTables(config, d, positions)));
        return t;
      };
      const derived = (weight: tf.Tensor, make: () => tf.Tensor[]): tf.Tensor[] => {
        let views = this.derived.get(weight);
        if (!views) this.derived.set(weight, (views = make().map((t) => tf.keep(t))));
        return views;
      };
      const step: StepInputs = { rotary, mask: this.batch.mask(time), mlaCache: this.mlaCache, derived };
      const values = new Map<string, tf.Tensor>([['input_ids', tf.tensor2d(ids.flat(), [ids.length, time], 'int32')]]);
      for (const node of this.nodes) {
        const outputs = this.run(node, values, step);
        node.outputs.forEach((name, i) => values.set(name, outputs[i]!));
      }
      const logits = values.get('logits')!;
      return tf.reshape(logits, [ids.length, logits.shape[2]!]) as tf.Tensor2D;
    });
  }

  /** Keeps only the given rows (their order in the batch from now on). */
  keepRows(rows: readonly number[]): void {
    const index = tf.tensor1d([...rows], 'int32');
    this.caches.forEach((cache) => cache.keepRows(index));
    index.dispose();
    this.batch.keepRows(rows);
  }

  /** Floats the cache holds per token per row, over all layers. */
  floatsPerToken(): number {
    return [...this.caches.values()].reduce((sum, c) => sum + c.floatsPerToken(), 0);
  }

  dispose(): void {
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
      const kernel = KERNELS[node.op];
      if (!kernel) throw new Error(`no kernel for op ${node.op}`);
      return kernel(args);
    } catch (error) {
      throw new RuntimeError(`${node.op} failed at ${node.loc.file}:${node.loc.line}:${node.loc.col}: ${(error as Error).message}`);
    }
  }
}
