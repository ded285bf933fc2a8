/** A batch given in tokens must be a whole number of sequences. */
import type { Rule } from '../context.js';

export const batchTokens: Rule = {
  name: 'batch-tokens',
  check(ctx) {
    for (const stage of ctx.stages()) {
      const batch = stage.config.quantity('batch');
      const seqLen = stage.config.num('seq_len');
      if (batch?.dim !== 'tokens' || seqLen === undefined || batch.value % seqLen === 0) continue;
      ctx.diagnostics.report('MOE3006', stage.config.spanOf('batch'), { left: `batch (${batch.value} tokens)`, right: `seq_len (${seqLen})` }, {
        help: `a batch is whole sequences: use ${Math.max(1, Math.round(batch.value / seqLen)) * seqLen} tokens`,
      });
    }
  },
};
