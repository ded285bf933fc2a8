/** The statistics `moe check --stats` reports: per model, and per stage that has a cluster plan. */
import { countParams, estimateMemory, flopsPerToken, kvCachePerToken } from '../stats/index.js';
import type { FlopsPerToken, KvCache, MemoryEstimate, ParamBreakdown } from '../stats/index.js';
import type { CheckContext } from './context.js';
import { clusterShape, parallelPlan, trainingSetup } from './plan.js';

export interface ModelStats {
  readonly model: string;
  readonly params: ParamBreakdown;
  readonly flops: FlopsPerToken;
  readonly kvCache: KvCache;
}

export interface StageMemory {
  readonly stage: string;
  readonly model: string;
  readonly cluster: string;
  readonly devices: number;
  readonly deviceMemory: number;
  readonly memory: MemoryEstimate;
}

export interface SpecStats {
  readonly models: ModelStats[];
  readonly stages: StageMemory[];
}

/** FLOPs are quoted at the sequence length the model is pretrained at, else at its context. */
function trainingLength(ctx: CheckContext, model: string): number | undefined {
  const stage = ctx.stages().find((s) => s.kind === 'pretrain' && ctx.inherited(s, 'model') === model);
  return stage?.config.num('seq_len');
}

export function specStats(ctx: CheckContext): SpecStats {
  const models: ModelStats[] = [];
  for (const model of ctx.ofKind('model')) {
    const shape = ctx.shape(model.name);
    if (!shape) continue;
    models.push({ model: model.name, params: countParams(shape), flops: flopsPerToken(shape, trainingLength(ctx, model.name) ?? shape.context), kvCache: kvCachePerToken(shape) });
  }
  const stages: StageMemory[] = [];
  for (const stage of ctx.stages()) {
    const parallel = stage.config.sub('parallel');
    const cluster = clusterShape(ctx, stage);
    const model = ctx.inherited(stage, 'model');
    const shape = model ? ctx.shape(model) : undefined;
    const setup = trainingSetup(stage.config);
    if (!parallel || !cluster || !shape || !setup || !model) continue;
    const memory = estimateMemory(shape, parallelPlan(parallel), setup, cluster.shape);
    stages.push({
      stage: stage.name,
      model,
      cluster: cluster.name,
      devices: cluster.shape.devices,
      deviceMemory: cluster.shape.memory,
      memory,
    });
  }
  return { models, stages };
}
