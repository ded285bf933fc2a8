/** The cuda training engine (runtime/train/engine.ts's contract) over a CudaModel. */
import type { ModelGraph } from '../../ir/types.js';
import type { TensorData } from '../model/params.js';
import type { AdamWConfig, AdamWState } from '../train/adamw.js';
import type { TrainEngine } from '../train/engine.js';
import { mtpTerms } from '../train/objective.js';
import { CudaModel } from './executor.js';
import type { CudaRuntime } from './runtime.js';

/** The final loss.sum weights with the MTP weight λ spread over the MTP terms (objective.ts's rule). */
export function mtpReweighted(model: ModelGraph, lambda: number): number[] | undefined {
  const node = model.nodes.find((n) => n.op === 'loss.sum' && n.outputs.includes('loss'));
  const terms = mtpTerms(model);
  if (!node || terms.length === 0) return undefined;
  const weights = (node.attrs.weights as number[]).slice();
  const mtp = new Set(terms.map((t) => t.value));
  node.inputs.forEach((value, i) => {
    if (mtp.has(value)) weights[i] = lambda / terms.length;
  });
  return weights;
}

export interface CudaEngineOptions {
  readonly precision?: 'fp32' | 'bf16';
  /** `recompute = full`: each layer's forward re-runs in its backward (executor.ts) */
  readonly recompute?: boolean;
}

export function cudaEngine(
  gpu: CudaRuntime,
  model: ModelGraph,
  start: { params: ReadonlyMap<string, TensorData>; state: ReadonlyMap<string, TensorData>; optimizer?: AdamWState },
  config: AdamWConfig,
  { precision = 'fp32', recompute = false }: CudaEngineOptions = {},
): TrainEngine {
  const cuda = new CudaModel(gpu, model, start.params, start.state, {
    training: true,
    precision,
    recompute,
    ...(start.optimizer ? { moments: { m: start.optimizer.m, v: start.optimizer.v }, step: start.optimizer.step } : {}),
  });
  return {
    step(batch, options) {
      const weights = options.mtpWeight === undefined ? undefined : mtpReweighted(model, options.mtpWeight);
      const result = cuda.trainStep(
        batch.inputIds,
        batch.batch,
        batch.seqLen,
        { lr: options.lr, clip: options.clip, betas: config.betas, weightDecay: config.weightDecay, eps: config.eps, ...(options.biasRate === undefined ? {} : { biasRate: options.biasRate }), ...(weights ? { lossWeights: weights } : {}), ...(options.microBatches === undefined ? {} : { microBatches: options.microBatches }) },
        batch.lossMask,
      );
      return Promise.resolve(result);
    },
    mainLoss(batch) {
      return Promise.resolve(cuda.forward(batch.inputIds, batch.batch, batch.seqLen, ['loss.main'], batch.lossMask).get('loss.main')![0]!);
    },
    snapshot() {
      const { params, m, v, state } = cuda.snapshot();
      return Promise.resolve({ params, state, optimizer: { step: cuda.step, m, v } });
    },
    note: () => undefined,
    dispose() {
      // MOE_CUDA_PROFILE's table, a diagnostic asked for on the command line
      const report = cuda.profileReport();
      if (report) process.stderr.write(report);
      cuda.dispose();
    },
  };
}
