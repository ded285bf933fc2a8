/** Warmup ends before training does; multistep milestones increase within (0, 1]. */
import type { Rule } from '../context.js';
import { trainingSteps } from '../plan.js';
import { isPair } from '../values.js';

export const schedule: Rule = {
  name: 'schedule',
  check(ctx) {
    for (const stage of ctx.stages()) {
      const sched = stage.config.sub('schedule');
      if (!sched) continue;
      const warmup = sched.num('warmup') ?? 0;
      const steps = trainingSteps(stage.config);
      if (steps !== undefined && warmup > 0 && warmup >= steps) {
        ctx.diagnostics.report('MOE6007', sched.spanOf('warmup'), { warmup, steps }, {
          related: [{ span: stage.config.spanOf('steps'), message: 'training length' }],
        });
      }
      const decay = sched.list('decay') ?? [];
      let previous = 0;
      for (const item of decay) {
        if (!isPair(item) || typeof item.key !== 'number') continue;
        if (item.key <= previous || item.key > 1) {
          const reason = item.key > 1 ? `${item.key} is past the end` : `${item.key} does not come after ${previous}`;
          ctx.diagnostics.report('MOE6008', sched.spanOf('decay'), { reason });
          break;
        }
        previous = item.key;
      }
    }
  },
};
