/** Stages that generate need prompts: `prompt` or `prompts` (GRPO, sampling and eval: `prompts`). */
import type { Rule } from '../context.js';

export const stagePrompts: Rule = {
  name: 'stage-prompts',
  check(ctx) {
    for (const stage of ctx.stages()) {
      const span = stage.decl.node.name.span;
      if (stage.kind === 'generate' && !stage.config.sets('prompt') && !stage.config.sets('prompts')) {
        ctx.diagnostics.report('MOE6009', span, { stage: stage.name, what: '`prompt = "..."` or `prompts = DATA`' });
      }
      if ((stage.kind === 'grpo' || stage.kind === 'sample' || stage.kind === 'eval') && !stage.config.sets('prompts')) {
        ctx.diagnostics.report('MOE6009', span, { stage: stage.name, what: '`prompts = DATA`' });
      }
      if (stage.kind === 'generate' && stage.config.sets('prompt') && stage.config.sets('prompts')) {
        ctx.diagnostics.report('MOE2011', stage.config.spanOf('prompts'), { what: 'the prompt (`prompt` and `prompts`)' }, {
          related: [{ span: stage.config.spanOf('prompt'), message: '`prompt` is set here' }],
          help: 'give one of `prompt` or `prompts`',
        });
      }
    }
  },
};
