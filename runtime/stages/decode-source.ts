/**
 * What a stage's generation (generate, sample, eval stages and GRPO rollouts) decodes on: under
 * `--backend cuda` the cuda decoder, with the policy's current weights copied to the device (a GRPO
 * policy changes every step, so each rollout copies them again); otherwise the tfjs weights.
 */
import type { ModelGraph } from '../../ir/types.js';
import { cudaDecodeEngine } from '../cuda/decoder.js';
import type { DecodeSource } from '../infer/generate.js';
import type { Weights } from '../model/forward.js';
import type { StageContext } from './stage-runner.js';

export interface StageDecoding {
  readonly source: DecodeSource;
  /** frees the device copy (nothing on tfjs: the caller owns the policy) */
  dispose(): void;
}

export async function stageDecoding(ctx: Pick<StageContext, 'cuda'>, model: ModelGraph, policy: Weights): Promise<StageDecoding> {
  if (!ctx.cuda) return { source: policy, dispose: () => undefined };
  const engine = await cudaDecodeEngine(ctx.cuda, model, policy);
  return { source: engine, dispose: () => engine.dispose() };
}
