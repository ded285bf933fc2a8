/** top_k fits the experts; groups divide the experts; top_k fits inside the allowed groups. */
import type { Rule } from '../context.js';

export const moeRouting: Rule = {
  name: 'moe-routing',
  check(ctx) {
    for (const model of ctx.ofKind('model')) {
      for (const range of model.config.ranges) {
        const moe = range.config.sub('moe');
        const router = moe?.sub('router');
        const experts = moe?.num('experts');
        const topK = moe?.num('top_k');
        if (!moe || !router || experts === undefined || topK === undefined) continue;
        if (topK > experts) {
          ctx.diagnostics.report('MOE4103', moe.spanOf('top_k'), { topK, experts });
          continue;
        }
        const groups = router.num('groups') ?? 1;
        const topGroups = router.num('top_groups') ?? groups;
        if (experts % groups !== 0) {
          ctx.diagnostics.report('MOE4104', router.spanOf('groups'), { groups, experts });
          continue;
        }
        if (topGroups > groups) {
          ctx.diagnostics.report('MOE4105', router.spanOf('top_groups'), { topGroups, groups });
          continue;
        }
        const perGroup = experts / groups;
        if (topK > topGroups * perGroup) {
          ctx.diagnostics.report('MOE4102', moe.spanOf('top_k'), { topK, topGroups, perGroup }, {
            label: `at most ${topGroups * perGroup} experts are reachable`,
            related: [{ span: router.spanOf('top_groups'), message: 'the allowed groups are set here' }],
            help: `raise top_groups to ${Math.ceil(topK / perGroup)} or lower top_k`,
          });
        }
      }
    }
  },
};
