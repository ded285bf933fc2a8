/**
 * The generation loop the sample and eval stages share: the prompt set in batches, `n` completions of
 * each prompt from the policy, scored by the reward, with a progress line per batch. The caller keeps
 * what it needs of each batch and owns the scorer and the policy.
 */
import type { DataRecord } from '../data/record.js';
import type { ParamStore } from '../model/params.js';
import { tensorSeed } from '../random.js';
import type { RewardScorer } from '../reward/index.js';
import { rollout, type Rollout } from '../rl/rollout.js';
import type { GenerationStage } from './generation.js';
import type { StageContext } from './stage-runner.js';
import { stageDecoding } from './decode-source.js';

/** Prompts per generation batch: n completions each. */
const PROMPTS_PER_BATCH = 8;

export interface BatchedRollout {
  readonly stage: GenerationStage;
  readonly policy: ParamStore;
  readonly scorer: RewardScorer;
  readonly records: readonly DataRecord[];
  /** completions per prompt */
  readonly n: number;
  /** names the stage kind in the seeds (`sample batch 8`) and the progress line (`sampled 8/40 prompts`) */
  readonly verb: 'sample' | 'evaluate';
}

/** Runs every batch; `each` takes a batch's rollout and returns what the progress line adds (e.g. `, kept 3`). */
export async function rolloutInBatches(ctx: StageContext, r: BatchedRollout, each: (result: Rollout) => string): Promise<void> {
  const { tty } = ctx.progress;
  const seedName = r.verb === 'sample' ? 'sample' : 'eval';
  // the policy is fixed for the stage: one device copy under --backend cuda
  const decoding = await stageDecoding(ctx, r.stage.model, r.policy);
  try {
    for (let start = 0; start < r.records.length; start += PROMPTS_PER_BATCH) {
      const batch = r.records.slice(start, start + PROMPTS_PER_BATCH);
      const result = await rollout(r.stage.model, decoding.source, r.stage.tokenizer, r.scorer, batch, {
        group: r.n,
        maxNewTokens: r.stage.maxNewTokens,
        sampling: r.stage.sampling,
        seed: tensorSeed(r.stage.seed, `${seedName} batch ${start}`),
        stop: r.stage.stop,
      });
      const extra = each(result);
      ctx.progress.write(`${tty ? '\r\u001b[2K' : ''}${r.verb}d ${Math.min(start + batch.length, r.records.length)}/${r.records.length} prompts${extra}${tty ? '' : '\n'}`);
    }
  } finally {
    decoding.dispose();
    if (tty) ctx.progress.write('\n');
  }
}
