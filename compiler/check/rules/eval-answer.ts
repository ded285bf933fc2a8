/**
 * An eval stage's answer rule exists: `answer = RULE` names a rule of the stage's reward, or, when
 * absent, the reward has exactly one rule of kind `answer` (the one accuracy is counted by).
 */
import { didYouMean } from '../../../util/did-you-mean.js';
import type { CheckContext, Rule } from '../context.js';
import type { RuleConfig } from '../values.js';

/** The rules of the reward an eval stage names, or undefined when it names none (reported elsewhere). */
function rewardRules(ctx: CheckContext, rewardName: string | undefined): readonly RuleConfig[] | undefined {
  if (rewardName === undefined) return undefined;
  return ctx.blocks.get(rewardName)?.config.rules;
}

export const evalAnswer: Rule = {
  name: 'eval-answer',
  check(ctx) {
    for (const stage of ctx.stages()) {
      if (stage.kind !== 'eval') continue;
      const reward = stage.config.ref('reward');
      const rules = rewardRules(ctx, reward?.kind === 'ref' ? reward.name : undefined);
      // a reward without rules is MOE6012 already; there is nothing to name
      if (!rules || rules.length === 0 || reward?.kind !== 'ref') continue;
      const names = rules.map((r) => r.name);
      const answer = stage.config.str('answer');
      if (answer !== undefined) {
        if (!names.includes(answer)) {
          ctx.diagnostics.report('MOE6014', stage.config.spanOf('answer'), { stage: stage.name, reason: `reward \`${reward.name}\` has no rule \`${answer}\`` }, {
            help: didYouMean(answer, names) ?? `its rules are ${names.map((n) => `\`${n}\``).join(', ')}`,
          });
        }
        continue;
      }
      if (stage.config.sets('answer')) continue;
      const answers = rules.filter((r) => r.ruleKind === 'answer');
      if (answers.length === 1) continue;
      ctx.diagnostics.report(
        'MOE6014',
        stage.config.spanOf('reward'),
        { stage: stage.name, reason: `reward \`${reward.name}\` has ${answers.length === 0 ? 'no rule' : `${answers.length} rules`} of kind \`answer\`` },
        {
          related: answers.map((r) => ({ span: r.nameSpan, message: `\`${r.name}\` is an answer rule` })),
          help: `name the rule that decides a right answer: \`answer = ${names[0]}\``,
        },
      );
    }
  },
};
