/**
 * Where the GRPO stage's policy lives and learns. On tfjs: a ParamStore and tfjs AdamW, the update
 * runtime/rl/update.ts, rollouts through stageDecoding. Under `--backend cuda`: runtime/cuda/grpo.ts —
 * the weights and AdamW's moments stay on the device across rollouts and updates, the decoder reads
 * the trainer's weights, and only checkpoints bring them back to the host.
 */
import type { ModelGraph } from '../../ir/types.js';
import { CudaGrpoPolicy } from '../cuda/grpo.js';
import type { TokenizerFiles } from '../data/tokenizer.js';
import type { ParamStore } from '../model/params.js';
import type { PolicyBatch } from '../rl/batch.js';
import { grpoUpdate, referenceLogprobs, type UpdateOptions, type UpdateResult } from '../rl/update.js';
import { saveRunCheckpoint, saveTrainingCheckpoint, type LoadedTrainingCheckpoint } from '../run/checkpoints.js';
import type { tf } from '../tf.js';
import { AdamW, type AdamWConfig } from '../train/adamw.js';
import { stageDecoding, type StageDecoding } from './decode-source.js';
import type { StageContext } from './stage-runner.js';

export interface GrpoPolicy {
  /** 'cuda' or 'tfjs': where the updates run */
  readonly runsOn: 'cuda' | 'tfjs';
  /** what this step's rollouts decode with: the current weights */
  decoding(): Promise<StageDecoding>;
  /** the frozen reference's log-probabilities of the batch (undefined when β = 0) */
  referenceLogprobs(batch: PolicyBatch, temperature: number, parts: number): Promise<tf.Tensor2D | undefined>;
  update(batch: PolicyBatch, refLogp: tf.Tensor2D | undefined, options: UpdateOptions): Promise<UpdateResult>;
  /** writes checkpoint-STEP with the weights, optimizer and `trainer` state */
  save(runDir: string, run: { document: StageContext['document']; tokenizer: TokenizerFiles; trainer: { readonly step: number } }, keep: number): Promise<string>;
  dispose(): void;
}

export interface GrpoPolicyStart {
  readonly model: ModelGraph;
  /** the starting policy (a resumed checkpoint's, the `from` checkpoint's or a fresh initialisation) */
  readonly policy: ParamStore;
  /** the frozen reference (β > 0) */
  readonly reference: ParamStore | undefined;
  readonly resumed: LoadedTrainingCheckpoint | undefined;
  readonly config: AdamWConfig;
  /** `parallel { recompute = full }` (cuda: the plan's re-run forwards; tfjs reads it per update from the stage settings) */
  readonly recompute?: boolean;
}

/** The policy on `ctx.cuda` when the run has it, else on tfjs. Takes ownership of the stores (the cuda one frees them once uploaded). */
export async function grpoPolicy(ctx: Pick<StageContext, 'cuda'>, start: GrpoPolicyStart): Promise<GrpoPolicy> {
  return ctx.cuda ? cudaPolicy(ctx as Required<Pick<StageContext, 'cuda'>>, start) : tfjsPolicy(ctx, start);
}

function tfjsPolicy(ctx: Pick<StageContext, 'cuda'>, { model, policy, reference, resumed, config }: GrpoPolicyStart): GrpoPolicy {
  const optimizer = AdamW.forStore(policy, config);
  if (resumed) optimizer.restore(resumed.optimizer);
  return {
    runsOn: 'tfjs',
    decoding: () => stageDecoding(ctx, model, policy),
    referenceLogprobs: (batch, temperature, parts) => Promise.resolve(reference ? referenceLogprobs(model, reference, batch, temperature, parts) : undefined),
    update: (batch, refLogp, options) => grpoUpdate(model, policy, optimizer, batch, refLogp, options),
    save: (runDir, run, keep) => saveRunCheckpoint(runDir, { ...run, model: model.name, store: policy, optimizer }, keep),
    dispose() {
      policy.dispose();
      reference?.dispose();
      optimizer.dispose();
    },
  };
}

async function cudaPolicy(ctx: Required<Pick<StageContext, 'cuda'>>, { model, policy, reference, resumed, config, recompute = false }: GrpoPolicyStart): Promise<GrpoPolicy> {
  let gpu: CudaGrpoPolicy;
  try {
    const start = await policy.snapshot();
    const frozen = reference ? await reference.snapshot() : undefined;
    gpu = new CudaGrpoPolicy(ctx.cuda, model, { ...start, ...(resumed ? { optimizer: resumed.optimizer } : {}), ...(frozen ? { reference: frozen } : {}) }, config, 'fp32', recompute);
  } finally {
    // the device holds them now: the host copies would only take memory
    policy.dispose();
    reference?.dispose();
  }
  return {
    runsOn: 'cuda',
    // the decoder reads the trainer's device weights: nothing to copy, nothing to free per rollout
    decoding: () => Promise.resolve({ source: gpu.decodeEngine(), dispose: () => undefined }),
    referenceLogprobs: (batch, temperature, parts) => gpu.referenceLogprobs(batch, temperature, parts),
    update: (batch, refLogp, options) => gpu.update(batch, refLogp, options),
    save(runDir, run, keep) {
      const { params, state, optimizer } = gpu.snapshot();
      return Promise.resolve(saveTrainingCheckpoint(runDir, { document: run.document, model: model.name, params, state, tokenizer: run.tokenizer, optimizer, trainer: run.trainer as { step: number } & Record<string, unknown> }, keep));
    },
    dispose: () => gpu.dispose(),
  };
}
