/** A tokenizer's ids fit the model's vocabulary; each tokenizer kind has what it needs. */
import type { Rule } from '../context.js';
import type { Config } from '../values.js';

/** Byte tokenizer: 256 byte ids + <bos>, <eos>, <pad>. */
export const BYTE_TOKENIZER_SIZE = 259;

export function tokenizerSize(tokenizer: Config): number | undefined {
  const kind = tokenizer.str('kind');
  if (kind === 'byte') return BYTE_TOKENIZER_SIZE;
  if (kind === 'bpe') return tokenizer.num('vocab');
  return undefined;
}

export const tokenizerVocab: Rule = {
  name: 'tokenizer-vocab',
  check(ctx) {
    for (const tokenizer of ctx.ofKind('tokenizer')) {
      const kind = tokenizer.config.str('kind');
      const where = `tokenizer \`${tokenizer.name}\``;
      const need = kind === 'bpe' ? ['vocab', 'train_on'] : kind === 'hf' ? ['file'] : [];
      for (const field of need) {
        if (!tokenizer.config.sets(field)) {
          ctx.diagnostics.report('MOE2010', tokenizer.decl.node.name.span, { name: field, where }, {
            help: `a \`${kind}\` tokenizer needs \`${field}\``,
          });
        }
      }
    }
    const reported = new Set<string>();
    for (const stage of ctx.stages()) {
      const modelName = ctx.inherited(stage, 'model');
      const tokenizerName = ctx.inherited(stage, 'tokenizer');
      const vocab = modelName ? ctx.blocks.get(modelName)?.config.num('vocab') : undefined;
      const tokenizer = tokenizerName ? ctx.blocks.get(tokenizerName) : undefined;
      if (!modelName || !tokenizerName || vocab === undefined || !tokenizer) continue;
      const size = tokenizerSize(tokenizer.config);
      const pair = `${tokenizerName}|${modelName}`;
      if (size !== undefined && size > vocab && !reported.has(pair)) {
        reported.add(pair);
        ctx.diagnostics.report('MOE4108', stage.config.spanOf('tokenizer'), { tokenizer: tokenizerName, size, model: modelName, vocab }, {
          help: `raise \`vocab\` of \`${modelName}\` to at least ${size}`,
        });
      }
    }
  },
};
