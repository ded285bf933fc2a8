/** Block kind → schema: the single description that drives checking, hover, completion and docs. */
import type { BlockKindName } from '../../grammar/tokens.js';
import type { BlockSpec } from './dsl.js';
import { modelSpec } from './model.js';
import { clusterSpec, dataSpec, rewardSpec, tokenizerSpec } from './resources.js';
import { stageSpecs } from './stages.js';

export const blockSpecs: Readonly<Record<BlockKindName, BlockSpec>> = {
  cluster: clusterSpec,
  data: dataSpec,
  tokenizer: tokenizerSpec,
  model: modelSpec,
  reward: rewardSpec,
  ...stageSpecs,
};

export * from './dsl.js';
export { rewardRules } from './resources.js';
