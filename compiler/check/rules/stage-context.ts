/** A stage's sequences fit its model's context. */
import type { Rule } from '../context.js';

export const stageContext: Rule = {
  name: 'stage-context',
  check(ctx) {
    for (const stage of ctx.stages()) {
      const modelName = ctx.inherited(stage, 'model');
      const model = modelName ? ctx.blocks.get(modelName) : undefined;
      const context = model?.config.num('context');
      if (!modelName || context === undefined) continue;
      const seqLen = stage.config.num('seq_len');
      if (seqLen !== undefined && seqLen > context) {
        ctx.diagnostics.report('MOE4107', stage.config.spanOf('seq_len'), { seqLen, stage: stage.name, context, model: modelName });
      }
      const newTokens = stage.config.num('max_new_tokens');
      if (stage.config.has('max_new_tokens') && newTokens !== undefined && newTokens >= context) {
        ctx.diagnostics.report('MOE4110', stage.config.spanOf('max_new_tokens'), { requested: newTokens, context });
      }
    }
  },
};
