/** `from` names an existing earlier stage (or a checkpoint path); a stage has a model; no cycles. */
import type { Rule } from '../context.js';

export const stageFrom: Rule = {
  name: 'stage-from',
  check(ctx) {
    for (const stage of ctx.stages()) {
      const from = stage.config.ref('from');
      if (!stage.config.has('model') && !from) {
        ctx.diagnostics.report('MOE6005', stage.decl.node.name.span, { stage: stage.name }, {
          help: stage.kind === 'pretrain' ? 'add `model = NAME`' : 'add `from = STAGE` or `model = NAME`',
        });
      }
      if (stage.kind === 'pretrain' && from?.kind === 'ref') continue;
      // follow the chain: a cycle returns to this stage
      const chain = [stage.name];
      let current = from?.kind === 'ref' ? from.name : undefined;
      while (current !== undefined) {
        if (current === stage.name) {
          ctx.diagnostics.report('MOE6003', stage.config.spanOf('from'), {
            stage: stage.name,
            from: chain[1] ?? current,
            reason: `leads back to it: ${[...chain, current].join(' → ')}`,
          });
          break;
        }
        if (chain.includes(current)) break;
        chain.push(current);
        const next = ctx.blocks.get(current)?.config.ref('from');
        current = next?.kind === 'ref' ? next.name : undefined;
      }
    }
  },
};
