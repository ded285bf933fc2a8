/** Training stages say how long to train; pretraining says what to read and how. */
import type { Rule } from '../context.js';

export const trainingLength: Rule = {
  name: 'training-length',
  check(ctx) {
    for (const stage of ctx.stages()) {
      const where = `${stage.kind} \`${stage.name}\``;
      const span = stage.decl.node.name.span;
      const training = stage.kind === 'pretrain' || stage.kind === 'sft' || stage.kind === 'grpo';
      if (training && !stage.config.sets('steps') && !stage.config.sets('epochs')) {
        ctx.diagnostics.report('MOE2010', span, { name: 'steps', where }, { help: 'add `steps = N` (or `epochs = N`)' });
      }
      if (stage.config.sets('steps') && stage.config.sets('epochs')) {
        ctx.diagnostics.report('MOE2011', stage.config.spanOf('epochs'), { what: 'the training length (`steps` and `epochs`)' }, {
          related: [{ span: stage.config.spanOf('steps'), message: '`steps` is set here' }],
          help: 'give the training length once: `steps` or `epochs`',
        });
      }
      if ((stage.kind === 'pretrain' || stage.kind === 'sft') && !stage.config.sets('seq_len')) {
        ctx.diagnostics.report('MOE2010', span, { name: 'seq_len', where }, { help: 'add `seq_len = N` (tokens per sequence)' });
      }
      if (stage.kind === 'pretrain' && ctx.lacks(stage, 'tokenizer')) {
        ctx.diagnostics.report('MOE2010', span, { name: 'tokenizer', where }, { help: 'add `tokenizer = NAME`' });
      }
    }
  },
};
