/**
 * Cached decoding on CUDA: runtime/infer/step-decoder.ts's contract over a CudaModel, so generation
 * (runtime/infer/generate.ts) — `moe generate`, GRPO rollouts, sample and eval stages — runs on
 * `--backend cuda` as on the tfjs cached decoder (runtime/infer/decoder.ts).
 *
 * A batch's caches are allocated at full capacity once (decode-plan.ts cacheParts); each step writes
 * its columns in place at the column the step's packed inputs name. The prompt (T columns per row,
 * left-padded) runs eagerly through the forward plan with cached attention in place of the training
 * attention (ops/decode-attention.ts) and the lm_head on each row's last column only. Single-token
 * steps run as a CUDA graph: the first eagerly (kernel lookup, cuBLASLt's algorithm choice), the
 * second is captured, every later one replays it; ids and the step's inputs are uploaded before the
 * launch and the logits read after it — one host write and one host read per step. Finished rows
 * stay in the batch as masked padding so shapes never change; their logits are dropped on the host.
 * Routed experts run dropless (decode-plan.ts droplessGraph).
 */
import type { ModelGraph, Node } from '../../ir/types.js';
import { neededNodes, type Weights } from '../model/forward.js';
import type { TensorData } from '../model/params.js';
import { RuntimeError } from '../errors.js';
import { runtimeEnv } from '../config/env.js';
import { BatchState, type MlaCacheMode } from '../infer/cache.js';
import type { DecodeEngine, StepDecoder } from '../infer/step-decoder.js';
import type { CapturedGraph, DevicePtr } from './driver.js';
import { ptr, i32 } from './driver.js';
import { ATTENTION_OPS, attentionDims, cacheFloatsPerToken, cacheParts, decodeNeeds, droplessGraph, LAST_COLUMN, stepInfo } from './decode-plan.js';
import { CudaModel, type Prepared, type SharedWeights } from './executor.js';
import { opBuffer } from './lifetimes.js';
import { cachedGqa, cachedMla, type CachedStep } from './ops/decode-attention.js';
import { F32, grid1, launch, linearNT, type CudaPrecision } from './ops/context.js';
import type { CudaRuntime } from './runtime.js';

/** The nodes decoding runs (those the logits need) of a CudaModel built on the dropless graph. */
export class CudaDecodeModel implements DecodeEngine {
  readonly model: CudaModel;
  readonly nodes: readonly Node[];

  /** `params`: host tensors, or a training model's device weights (GRPO: rollouts read the trainer's weights, no copy) */
  constructor(runtime: CudaRuntime, model: ModelGraph, params: ReadonlyMap<string, TensorData> | SharedWeights, state: ReadonlyMap<string, TensorData>, precision: CudaPrecision = 'fp32') {
    this.model = new CudaModel(runtime, droplessGraph(model), params, state, { precision });
    this.nodes = neededNodes(this.model.model, ['logits']);
    if (!this.nodes.some((n) => n.outputs.includes('logits'))) throw new RuntimeError(`model ${model.name} produces no logits`);
  }

  open(rows: number, capacity: number, mlaCache: MlaCacheMode): StepDecoder {
    if (mlaCache !== 'latent') throw new RuntimeError('the cuda decoder caches MLA layers as latents only (--cache latent)', 'drop --cache naive, or generate on a tfjs backend (--backend webgpu)');
    return new CudaDecoder(this, rows, capacity);
  }

  /** The plan of a step of T columns for B rows. */
  plan(B: number, T: number): Prepared {
    return this.model.adopt(`decode ${B}×${T}`, B, T, 'forward', this.nodes, decodeNeeds(this.model.model, this.nodes, B, T, this.model.precision));
  }

  dispose(): void {
    this.model.dispose();
  }
}

/**
 * A decode engine on cuda for weights held by tfjs (a checkpoint opened on the host, a GRPO policy):
 * their values copied to the device once. Dispose it when the generation is done.
 */
export async function cudaDecodeEngine(runtime: CudaRuntime, model: ModelGraph, weights: Weights, precision: CudaPrecision = 'fp32'): Promise<CudaDecodeModel> {
  const host = async (tensors: Weights['params']): Promise<Map<string, TensorData>> => {
    const out = new Map<string, TensorData>();
    for (const [name, t] of tensors) out.set(name, { shape: t.shape, data: (await t.data()) as Float32Array });
    return out;
  };
  return new CudaDecodeModel(runtime, model, await host(weights.params), await host(weights.state), precision);
}

export class CudaDecoder implements StepDecoder {
  /** per attention node, its cached tensors (cacheParts order) */
  private readonly caches = new Map<Node, DevicePtr[]>();
  private readonly valid: DevicePtr;
  private readonly info: DevicePtr;
  private readonly vocab: number;
  private rowState: BatchState;
  /** rows still generating, as indices into the batch the decoder began with */
  private live: number[];
  /** columns written so far */
  private written = 0;
  /** the single-token step: run eagerly once, then captured (at this arena address), then replayed */
  private graph: { readonly graph: CapturedGraph; readonly arena: DevicePtr } | null = null;
  private warmed = false;
  replays = 0;

  constructor(
    private readonly engine: CudaDecodeModel,
    private readonly rows: number,
    private readonly capacity: number,
  ) {
    const driver = engine.model.device.driver;
    for (const node of engine.nodes) {
      if (!ATTENTION_OPS.has(node.op)) continue;
      this.caches.set(
        node,
        cacheParts(node).map((part) => {
          const bytes = rows * part.heads * capacity * part.width * F32;
          const p = driver.alloc(bytes);
          driver.zero(p, bytes);
          return p;
        }),
      );
      // the rotary tables of every position the cache can hold, made now: never reallocated under a captured graph
      const a = attentionDims(node);
      engine.model.rotaryTables(node, a.kind === 'gqa' ? a.d : a.dr, capacity);
    }
    this.valid = driver.alloc(rows * capacity * F32);
    driver.zero(this.valid, rows * capacity * F32);
    this.info = driver.alloc((1 + 2 * rows * capacity) * F32);
    this.vocab = engine.model.model.values.logits!.shape.at(-1) as number;
    this.rowState = new BatchState(rows);
    this.live = Array.from({ length: rows }, (_, i) => i);
  }

  next(ids: readonly (readonly number[])[], real: readonly (readonly boolean[])[]): Promise<Float32Array> {
    const time = ids[0]?.length ?? 0;
    if (ids.length !== this.live.length || time === 0) throw new RuntimeError(`expected ${this.live.length} rows of new tokens, found ${ids.length}`);
    if (this.written + time > this.capacity) throw new RuntimeError(`decoding past the cache capacity ${this.capacity}`);
    // every row of the first batch stays: a finished one is fed masked padding
    const allIds = Array.from({ length: this.rows }, () => new Array<number>(time).fill(0));
    const allReal = Array.from({ length: this.rows }, () => new Array<boolean>(time).fill(false));
    this.live.forEach((row, i) => {
      allIds[row] = [...ids[i]!];
      allReal[row] = [...real[i]!];
    });
    const info = stepInfo(this.written, this.rowState.advance(allReal), allReal);
    this.written += time;
    const p = this.engine.plan(this.rows, time);
    const driver = this.engine.model.device.driver;
    driver.upload(this.engine.model.address(p, 'input_ids'), Int32Array.from(allIds.flat()));
    driver.upload(this.info, info);
    if (time === 1) this.replayed(p);
    else this.run(p);
    const all = new Float32Array(this.rows * this.vocab);
    driver.download(all, this.engine.model.address(p, 'logits'));
    if (this.live.length === this.rows) return Promise.resolve(all);
    const picked = new Float32Array(this.live.length * this.vocab);
    this.live.forEach((row, i) => picked.set(all.subarray(row * this.vocab, (row + 1) * this.vocab), i * this.vocab));
    return Promise.resolve(picked);
  }

  /** One step's work, queued on the stream: mark the new columns, then every node (capturable). */
  private run(p: Prepared): void {
    const { model } = this.engine;
    const gpu = model.device;
    launch(gpu, 'decode_mark', grid1(p.B * p.T), 256, [ptr(this.valid), ptr(this.info), i32(p.B), i32(p.T), i32(this.capacity)]);
    model.runNodes(p, (node, ctx, step) => {
      const cache = this.caches.get(node);
      if (cache) {
        const cached: CachedStep = { info: this.info, valid: this.valid, capacity: this.capacity, cache, tables: (d) => model.rotaryTables(node, d, this.capacity) };
        if (node.op === 'attention.mla') cachedMla(ctx, cached);
        else cachedGqa(ctx, cached);
        return true;
      }
      if (node.op !== 'lm_head' || p.T === 1) return false;
      // only each row's last column: gathered, then projected (B rows, not B·T)
      const [D, V] = [ctx.inputWidth(0), ctx.outputWidth(0)];
      const last = model.address(p, opBuffer(step, LAST_COLUMN));
      launch(gpu, 'last_column', grid1(p.B * D), 256, [ptr(ctx.input(0)), ptr(last), i32(p.B), i32(p.T), i32(D)]);
      linearNT(gpu, last, ctx.param(0), ctx.output(0), p.B, D, V);
      return true;
    });
  }

  private replayed(p: Prepared): void {
    const { model } = this.engine;
    // MOE_CUDA_PROFILE synchronizes after every op, which a capture cannot hold: eager steps then
    if (runtimeEnv().cudaProfile) return this.run(p);
    if (this.graph && this.graph.arena !== model.arenaAddress) {
      // the arena moved (a larger plan on the same model): the graph's addresses are stale
      this.graph.graph.dispose();
      this.graph = null;
    }
    if (this.graph) {
      this.graph.graph.launch();
      this.replays++;
      return;
    }
    if (!this.warmed) {
      this.warmed = true;
      return this.run(p);
    }
    const graph = model.device.driver.capture(() => this.run(p));
    this.graph = { graph, arena: model.arenaAddress };
    graph.launch();
  }

  keepRows(rows: readonly number[]): void {
    this.live = rows.map((r) => this.live[r]!);
  }

  floatsPerToken(): number {
    return cacheFloatsPerToken(this.engine.nodes);
  }

  /** A decoder serves one generation: the next one opens its own (capture is milliseconds on the GPU). */
  reusable(): boolean {
    return false;
  }

  reset(): void {
    throw new RuntimeError('a cuda decoder serves one generation');
  }

  dispose(): void {
    const driver = this.engine.model.device.driver;
    this.graph?.graph.dispose();
    this.graph = null;
    for (const parts of this.caches.values()) for (const p of parts) driver.free(p);
    this.caches.clear();
    driver.free(this.valid);
    driver.free(this.info);
  }
}
