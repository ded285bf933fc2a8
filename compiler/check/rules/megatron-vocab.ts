/**
 * A pretrain stage on a cluster is what `moe compile --emit megatron` exports. Megatron-Core pads the
 * tokenizer's vocabulary to a multiple of `--make-vocab-size-divisible-by` × tensor parallel; the
 * script (compiler/codegen/megatron.ts) picks the divisor that lands on the spec's vocab, which
 * exists only when vocab is a multiple of tensor. Warned here, where the vocab is written.
 */
import type { Rule } from '../context.js';

/** Megatron-Core's default `--make-vocab-size-divisible-by`. */
export const MEGATRON_VOCAB_DIVISOR = 128;

export const megatronVocab: Rule = {
  name: 'megatron-vocab',
  check(ctx) {
    const reported = new Set<string>();
    for (const stage of ctx.stages()) {
      if (stage.kind !== 'pretrain' || !stage.config.has('on')) continue;
      const modelName = ctx.inherited(stage, 'model');
      const model = modelName ? ctx.blocks.get(modelName) : undefined;
      const vocab = model?.config.num('vocab');
      if (!model || vocab === undefined) continue;
      const tensor = stage.config.sub('parallel')?.num('tensor') ?? 1;
      const key = `${model.name}|${tensor}`;
      if (vocab % tensor === 0 || reported.has(key)) continue;
      reported.add(key);
      const suggestion = Math.ceil(vocab / (MEGATRON_VOCAB_DIVISOR * tensor)) * MEGATRON_VOCAB_DIVISOR * tensor;
      ctx.diagnostics.report('MOE5008', model.config.spanOf('vocab'), { vocab, tensor }, {
        related: [{ span: stage.config.spanOf('on'), message: `pretrain \`${stage.name}\` runs on a cluster` }],
        help: `a vocab of ${suggestion} (a multiple of 128 × tensor) keeps Megatron-Core's default padding`,
      });
    }
  },
};
