/** YaRN: the extended context is at most original_context × factor. */
import type { Rule } from '../context.js';

export const yarnScaling: Rule = {
  name: 'yarn-scaling',
  check(ctx) {
    for (const model of ctx.ofKind('model')) {
      const scaling = model.config.sub('rope')?.sub('scaling');
      if (scaling?.tag !== 'yarn') continue;
      const factor = scaling.num('factor');
      const original = scaling.num('original_context');
      const context = model.config.num('context');
      if (factor === undefined || original === undefined || context === undefined) continue;
      if (original >= context) {
        ctx.diagnostics.report('MOE4109', scaling.spanOf('original_context'), {
          reason: `original_context (${original}) must be below the model context (${context})`,
        });
      } else if (context > original * factor) {
        ctx.diagnostics.report('MOE4109', scaling.spanOf('factor'), {
          reason: `context ${context} exceeds original_context × factor = ${original * factor}`,
        }, { help: `raise factor to ${Math.ceil(context / original)}` });
      }
    }
  },
};
