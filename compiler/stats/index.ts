/** Model statistics: parameters, FLOPs, KV cache, training memory, and their formatting. */

export type {
  AttentionShape,
  ClusterShape,
  FfnShape,
  ModelShape,
  ParallelPlan,
  Precision,
  TrainingSetup,
} from './shape.js';
export { countParams, layerParams, mtpParams } from './params.js';
export type { LayerParams, MtpParams, ParamBreakdown } from './params.js';
export { flopsPerToken } from './flops.js';
export type { FlopsPerToken } from './flops.js';
export { kvCachePerToken } from './kv-cache.js';
export type { KvCache } from './kv-cache.js';
export { estimateMemory } from './memory.js';
export type { MemoryEstimate, MemoryTerm } from './memory.js';
export { applyFix, checkFit } from './fit.js';
export type { FitReport, PlanField, PlanFix } from './fit.js';
export { formatBytes, formatCount, formatFlops } from './format.js';
