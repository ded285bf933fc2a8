/** The estimated memory per device fits the cluster's devices; otherwise name the biggest term and a fix. */
import { checkFit } from '../../stats/fit.js';
import { formatBytes } from '../../stats/format.js';
import type { Rule } from '../context.js';
import { clusterShape, parallelPlan, trainingSetup } from '../plan.js';

export const memoryFit: Rule = {
  name: 'memory-fit',
  check(ctx) {
    for (const stage of ctx.stages()) {
      const parallel = stage.config.sub('parallel');
      const cluster = clusterShape(ctx, stage);
      const modelName = ctx.inherited(stage, 'model');
      const shape = modelName ? ctx.shape(modelName) : undefined;
      const setup = trainingSetup(stage.config);
      if (!parallel || !cluster || !shape || !setup) continue;
      const plan = parallelPlan(parallel);
      if (plan.data * plan.tensor * plan.pipeline !== cluster.shape.devices) continue;
      const report = checkFit(shape, plan, setup, cluster.shape);
      if (report.fits) continue;
      const m = report.memory;
      ctx.diagnostics.report('MOE5006', parallel.span, {
        total: formatBytes(m.total),
        cluster: cluster.name,
        memory: formatBytes(cluster.shape.memory),
      }, {
        notes: [
          `weights ${formatBytes(m.weights)}, gradients ${formatBytes(m.gradients)}, optimizer ${formatBytes(m.optimizer)}, activations ${formatBytes(m.activations)}`,
        ],
        ...(report.suggestion ? { help: report.suggestion } : { help: `${m.biggest} is the biggest term` }),
      });
    }
  },
};
