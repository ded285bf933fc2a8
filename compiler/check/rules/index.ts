/** The ordered rule registry: every rule runs on every program, all errors collected in one pass. */
import type { Rule } from '../context.js';
import { attentionHeads } from './attention-heads.js';
import { batchTokens } from './batch-tokens.js';
import { customReward } from './custom-reward.js';
import { dataSource } from './data-source.js';
import { evalAnswer } from './eval-answer.js';
import { grpoClip } from './grpo-clip.js';
import { hfExport } from './hf-export.js';
import { layerCoverage } from './layer-coverage.js';
import { megatronVocab } from './megatron-vocab.js';
import { memoryFit } from './memory-fit.js';
import { modelFeatures } from './model-features.js';
import { moeRouting } from './moe-routing.js';
import { parallelLayout } from './parallel-layout.js';
import { pipelineOrder } from './pipeline-order.js';
import { rewardWeights } from './reward-weights.js';
import { schedule } from './schedule.js';
import { stageContext } from './stage-context.js';
import { stageFrom } from './stage-from.js';
import { stagePrompts } from './stage-prompts.js';
import { tokenizerVocab } from './tokenizer-vocab.js';
import { trainingLength } from './training-length.js';
import { unusedConst } from './unused-const.js';
import { yarnScaling } from './yarn-scaling.js';

export const rules: readonly Rule[] = [
  layerCoverage,
  attentionHeads,
  moeRouting,
  modelFeatures,
  yarnScaling,
  stageContext,
  tokenizerVocab,
  dataSource,
  trainingLength,
  batchTokens,
  stageFrom,
  stagePrompts,
  grpoClip,
  schedule,
  rewardWeights,
  evalAnswer,
  customReward,
  pipelineOrder,
  parallelLayout,
  memoryFit,
  megatronVocab,
  unusedConst,
  // last: it lowers the model, which needs every other rule to have passed
  hfExport,
];
