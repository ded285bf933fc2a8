/**
 * What a stage's generation (generate, sample and eval stages; GRPO rollouts on tfjs) decodes on:
 * under `--backend cuda` the cuda decoder, with the weights copied to the device once; otherwise the
 * tfjs weights. GRPO under `--backend cuda` decodes from its trainer's device weights instead
 * (grpo-policy.ts).
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
