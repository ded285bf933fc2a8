/** Reward weights sum to 1 unless `normalize = true` (each is in [0, 1] by the schema). */
import type { Rule } from '../context.js';
import { formatNumber } from '../values.js';

export const rewardWeights: Rule = {
  name: 'reward-weights',
  check(ctx) {
    for (const reward of ctx.ofKind('reward')) {
      const rules = reward.config.rules;
      // a rule that failed to read (unknown kind, bad weight) is reported; its weight is unknown
      const written = ctx.elaborator.mergedBody(reward.decl).members.filter((m) => m.kind === 'Weighted').length;
      if (written > rules.length) continue;
      if (rules.length === 0) {
        ctx.diagnostics.report('MOE6012', reward.decl.node.name.span, { name: reward.name }, {
          help: 'add e.g. `accuracy 1.0 = answer { compare = numeric }`',
        });
        continue;
      }
      if (reward.config.bool('normalize')) continue;
      const sum = rules.reduce((s, r) => s + r.weight, 0);
      if (Math.abs(sum - 1) > 1e-9) {
        ctx.diagnostics.report('MOE6001', reward.decl.node.name.span, { sum: formatNumber(sum) }, {
          related: rules.map((r) => ({ span: r.weightSpan, message: `\`${r.name}\` weighs ${formatNumber(r.weight)}` })),
          help: 'make the weights sum to 1, or set `normalize = true`',
        });
      }
    }
  },
};
