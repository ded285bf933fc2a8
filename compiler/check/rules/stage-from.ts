/** `from` names an existing earlier stage (or a checkpoint path); a stage has a model; no cycles. */
import type { Rule } from '../context.js';

export const stageFrom: Rule = {
  name: 'stage-from',
  check(ctx) {
    // a cycle is one error, reported at its first stage: the stages in it are not reported again
    const inReportedCycle = new Set<string>();
    for (const stage of ctx.stages()) {
      const from = stage.config.ref('from');
      if (!stage.config.sets('model') && !stage.config.sets('from')) {
        ctx.diagnostics.report('MOE6005', stage.decl.node.name.span, { stage: stage.name }, {
          help: stage.kind === 'pretrain' ? 'add `model = NAME`' : 'add `from = STAGE` or `model = NAME`',
        });
      }
      if ((stage.kind === 'pretrain' && from?.kind === 'ref') || inReportedCycle.has(stage.name)) continue;
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
          chain.forEach((name) => inReportedCycle.add(name));
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
