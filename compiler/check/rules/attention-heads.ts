/** GQA: kv_heads divides heads; without head_dim, dim divides by heads. */
import type { Rule } from '../context.js';

export const attentionHeads: Rule = {
  name: 'attention-heads',
  check(ctx) {
    for (const model of ctx.ofKind('model')) {
      const attention = model.config.sub('attention');
      const heads = attention?.num('heads');
      if (!attention || heads === undefined) continue;
      const kvHeads = attention.tag === 'gqa' ? attention.num('kv_heads') : undefined;
      if (kvHeads !== undefined && heads % kvHeads !== 0) {
        ctx.diagnostics.report('MOE4101', attention.spanOf('kv_heads'), { kvHeads, heads });
      }
      const dim = model.config.num('dim');
      if (attention.tag !== 'mla' && !attention.has('head_dim') && dim !== undefined && dim % heads !== 0) {
        ctx.diagnostics.report('MOE4106', attention.spanOf('heads'), { dim, heads }, { help: 'set `head_dim` explicitly' });
      }
    }
  },
};
