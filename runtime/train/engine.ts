/**
 * A training engine: what the training loop (runtime/run/train.ts) asks of a backend — one optimizer
 * step on a batch, the validation loss, and the weights, router state and optimizer moments for a
 * checkpoint. The tfjs engine (here: cpu, wasm, webgpu) runs the IR through tfjs kernels and autograd;
 * the cuda engine (runtime/cuda/engine.ts) runs it through its own kernels. The loop does not know
 * which it drives.
 */
import type { ModelGraph } from '../../ir/types.js';
import { forward } from '../model/forward.js';
import type { ParamStore, TensorData } from '../model/params.js';
import { tf } from '../tf.js';
import { AdamW, type AdamWConfig, type AdamWState } from './adamw.js';
import { accumulatedStep } from './accumulate.js';
import type { TrainBatch } from './batch.js';
import { EvalGraph } from './eval-graph.js';
import type { LossParts } from './objective.js';
import { stepPlan, trainStep } from './step.js';

export type { TrainBatch } from './batch.js';

export interface EngineStepOptions {
  readonly lr: number;
  /** max global gradient norm, 0 = off */
  readonly clip: number;
  readonly biasRate?: number;
  readonly mtpWeight?: number;
  /** gradient accumulation: the batch in this many equal micro-batches, one optimizer step (default 1) */
  readonly microBatches?: number;
  /** `parallel { recompute = full }`: honoured by the tfjs engine (model/recompute.ts); the cuda engine's note says it is not */
  readonly recompute?: boolean;
}

export interface EngineStep {
  readonly loss: number;
  readonly gradNorm: number;
  readonly loads: ReadonlyMap<string, Float32Array>;
  /** the loss's parts (lm, mtp, aux, z) where the engine reads them with the loss (the tfjs one does) */
  readonly parts?: LossParts;
  /** what was not finite (nothing was updated), or null */
  readonly nonFinite: string | null;
}

export interface EngineSnapshot {
  readonly params: Map<string, TensorData>;
  readonly state: Map<string, TensorData>;
  readonly optimizer: AdamWState;
}

export interface TrainEngine {
  step(batch: TrainBatch, options: EngineStepOptions): Promise<EngineStep>;
  /** the main loss (`loss.main`) of one batch, no update */
  mainLoss(batch: TrainBatch): Promise<number>;
  snapshot(): Promise<EngineSnapshot>;
  /** a one-time note for the user after a step (e.g. why captured graphs are off), or undefined */
  note(): string | undefined;
  dispose(): void;
}

/** The tfjs engine over a ParamStore: trainStep, AdamW and the captured graphs where the backend has them. */
export function tfjsEngine(model: ModelGraph, store: ParamStore, config: AdamWConfig, optimizerState?: AdamWState): TrainEngine {
  const optimizer = AdamW.forStore(store, config);
  if (optimizerState) optimizer.restore(optimizerState);
  const plan = stepPlan(model, store);
  const evalGraph = EvalGraph.forBackend();
  let noted = false;
  const tensors = (b: TrainBatch): [tf.Tensor2D, tf.Tensor2D] => [tf.tensor2d(b.inputIds, [b.batch, b.seqLen], 'int32'), tf.tensor2d(b.lossMask, [b.batch, b.seqLen], 'float32')];
  return {
    async step(batch, options) {
      if ((options.microBatches ?? 1) > 1) return accumulatedStep(model, store, optimizer, batch, options.microBatches!, options, plan);
      const [inputIds, lossMask] = tensors(batch);
      try {
        return await trainStep(model, store, optimizer, { inputIds, lossMask }, options, plan);
      } finally {
        inputIds.dispose();
        lossMask.dispose();
      }
    },
    async mainLoss(batch) {
      const [inputIds, lossMask] = tensors(batch);
      try {
        if (evalGraph) return await evalGraph.loss(model, store, [inputIds, lossMask]);
        const out = forward(model, store, { inputIds, lossMask }, ['loss.main']);
        const loss = (await out.get('loss.main')!.data())[0]!;
        out.forEach((t) => t.dispose());
        return loss;
      } finally {
        inputIds.dispose();
        lossMask.dispose();
      }
    },
    async snapshot() {
      const { params, state } = await store.snapshot();
      return { params, state, optimizer: await optimizer.state() };
    },
    note() {
      if (noted || !plan.graphs?.refused) return undefined;
      noted = true;
      return `GPU step graphs are off (${plan.graphs.refused}): every step runs through tfjs, several times slower`;
    },
    dispose() {
      plan.graphs?.dispose();
      evalGraph?.dispose();
      store.dispose();
      optimizer.dispose();
    },
  };
}
