/** The reward runtime's public surface: build a scorer from a plan's reward, score batches. */
export { createRewardScorer, clampScore, type RewardScorer, type RewardScores, type RewardProblem } from './score.js';
export type { RewardItem } from './types.js';
export type { RuleOptions } from './rules/index.js';
export { loadRewardFunction, type RewardFunction } from './rules/custom.js';
