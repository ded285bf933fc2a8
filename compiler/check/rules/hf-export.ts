/**
 * A model block with `export = hf` must be one HF transformers computes (ir/hf-config/ picks the
 * family): said at the `export` line by `moe check`, and so before `moe train` spends anything, the
 * same reason `moe export hf` would refuse with (MOE7201). The model is lowered to ask, which needs
 * a spec without errors: with other errors the question waits until they are fixed.
 */
import { hfConfig } from '../../../ir/hf-config/index.js';
import { lowerModel } from '../../lower/model.js';
import type { Rule } from '../context.js';

export const hfExport: Rule = {
  name: 'hf-export',
  check(ctx) {
    if (ctx.diagnostics.errorCount > 0) return;
    for (const model of ctx.ofKind('model')) {
      if (model.config.str('export') !== 'hf') continue;
      const graph = lowerModel(model.name, model.config, model.decl.node.name.span, () => ({ file: '', line: 1, col: 1 }));
      const result = hfConfig(graph);
      if (!result.ok) ctx.diagnostics.report('MOE7201', model.config.spanOf('export'), { model: model.name, reason: result.reason });
    }
  },
};
