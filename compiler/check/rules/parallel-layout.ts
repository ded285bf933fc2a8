/** The parallel plan uses every device once and splits the model evenly (LANGUAGE.md §5). */
import type { Rule } from '../context.js';
import { batchSequences, clusterShape, parallelPlan } from '../plan.js';
import type { CheckContext, CheckedBlock } from '../context.js';
import type { Config } from '../values.js';

/** Even split, or a stated uneven one: first and last stage sizes, the middle stages equal. */
function checkPipelineSplit(ctx: CheckContext, parallel: Config, pipeline: number, layers: number): void {
  const first = parallel.num('first_stage_layers');
  const last = parallel.num('last_stage_layers');
  if (first === undefined && last === undefined) {
    if (layers % pipeline !== 0) {
      ctx.diagnostics.report('MOE5003', parallel.spanOf('pipeline'), { pipeline, layers }, {
        help: 'change `pipeline`, or state an uneven split with `first_stage_layers` / `last_stage_layers`',
      });
    }
    return;
  }
  const outer = (first === undefined ? 0 : 1) + (last === undefined ? 0 : 1);
  const stated = (first ?? 0) + (last ?? 0);
  const middleStages = pipeline - outer;
  const middleLayers = layers - stated;
  const ok = middleStages <= 0 ? middleLayers === 0 : middleLayers >= 0 && middleLayers % middleStages === 0;
  if (ok) return;
  const label =
    middleStages <= 0 || middleLayers < 0
      ? `the first and last stages hold ${stated} layers${middleStages <= 0 ? ' and there is no middle stage' : ''}`
      : `${middleLayers} layers remain for ${middleStages} middle stages`;
  ctx.diagnostics.report('MOE5003', parallel.spanOf(first === undefined ? 'last_stage_layers' : 'first_stage_layers'), { pipeline, layers }, { label });
}

/** A layout over several devices: data/tensor/pipeline/expert above 1, ZeRO sharding, or a stated pipeline split. */
function needsCluster(parallel: Config): boolean {
  const above = (key: string, floor: number): boolean => (parallel.num(key) ?? floor) > floor;
  return above('data', 1) || above('tensor', 1) || above('pipeline', 1) || above('expert', 1) || above('zero', 0) || parallel.has('first_stage_layers') || parallel.has('last_stage_layers');
}

/** The step's sequences split over the data ranks and micro-batches: a grpo stage's are its rollout batch, prompts × group. */
function checkBatchSplit(ctx: CheckContext, stage: CheckedBlock, parallel: Config, divisor: number): void {
  const related = [{ span: parallel.span, message: 'the parallel plan' }];
  if (stage.kind === 'grpo') {
    const prompts = stage.config.num('batch');
    const group = stage.config.num('group');
    if (prompts === undefined || group === undefined || (prompts * group) % divisor === 0) return;
    ctx.diagnostics.report('MOE5009', stage.config.spanOf('batch'), { prompts, group, rows: prompts * group, divisor }, {
      related: [...(stage.config.sets('group') ? [{ span: stage.config.spanOf('group'), message: 'completions per prompt' }] : []), ...related],
    });
    return;
  }
  const batch = batchSequences(stage.config);
  if (batch !== undefined && batch % divisor !== 0) ctx.diagnostics.report('MOE5005', stage.config.spanOf('batch'), { batch, divisor }, { related });
}

export const parallelLayout: Rule = {
  name: 'parallel-layout',
  check(ctx) {
    for (const stage of ctx.stages()) {
      const parallel = stage.config.sub('parallel');
      if (!parallel) continue;
      const cluster = clusterShape(ctx, stage);
      // micro_batches and recompute alone run on one device: only a layout needs a cluster
      if (!stage.config.has('on') && needsCluster(parallel)) {
        ctx.diagnostics.report('MOE5007', parallel.span, {});
        continue;
      }
      const plan = parallelPlan(parallel);
      const product = plan.data * plan.tensor * plan.pipeline;
      if (cluster && product !== cluster.shape.devices) {
        const rest = plan.tensor * plan.pipeline;
        ctx.diagnostics.report('MOE5001', parallel.span, { product, cluster: cluster.name, devices: cluster.shape.devices }, {
          ...(cluster.shape.devices % rest === 0 ? { help: `set \`data = ${cluster.shape.devices / rest}\` to use every device` } : {}),
        });
      }
      const modelName = ctx.inherited(stage, 'model');
      const shape = modelName ? ctx.shape(modelName) : undefined;
      if (shape) {
        const experts = shape.layers.flatMap((l) => (l.kind === 'moe' ? [l.experts] : []));
        const fewest = experts.length ? Math.min(...experts) : undefined;
        if (fewest !== undefined && fewest % plan.expert !== 0) {
          ctx.diagnostics.report('MOE5002', parallel.spanOf('expert'), { expert: plan.expert, what: 'the routed experts', value: fewest });
        } else if ((plan.data * plan.tensor) % plan.expert !== 0) {
          ctx.diagnostics.report('MOE5002', parallel.spanOf('expert'), { expert: plan.expert, what: 'data × tensor', value: plan.data * plan.tensor });
        }
        checkPipelineSplit(ctx, parallel, plan.pipeline, shape.layers.length);
        const tensorSplits: [string, number][] = [['heads', shape.attention.heads]];
        if (shape.attention.kind === 'gqa') tensorSplits.push(['kv_heads', shape.attention.kvHeads]);
        for (const l of shape.layers) tensorSplits.push([l.kind === 'moe' ? 'the expert hidden size' : 'the ffn hidden size', l.hidden]);
        const bad = tensorSplits.find(([, v]) => v % plan.tensor !== 0);
        if (bad) ctx.diagnostics.report('MOE5004', parallel.spanOf('tensor'), { tensor: plan.tensor, what: bad[0], value: bad[1] });
      }
      checkBatchSplit(ctx, stage, parallel, plan.data * plan.microBatches);
    }
  },
};
