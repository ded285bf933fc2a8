/**
 * A pretrain stage on a cluster is what `moe compile --emit megatron` exports; Megatron-Core pads the
 * tokenizer's vocabulary to a multiple of 128 × tensor parallel (`--make-vocab-size-divisible-by`),
 * so a spec vocab off that multiple gets a different embedding shape unless the script changes the
 * divisor (compiler/codegen/megatron.ts does, and says so). Warned here, where the vocab is written.
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
      const multiple = MEGATRON_VOCAB_DIVISOR * tensor;
      const key = `${model.name}|${tensor}`;
      if (vocab % multiple === 0 || reported.has(key)) continue;
      reported.add(key);
      ctx.diagnostics.report('MOE5008', model.config.spanOf('vocab'), { vocab, tensor, multiple }, {
        related: [{ span: stage.config.spanOf('on'), message: `pretrain \`${stage.name}\` runs on a cluster` }],
        help:
          vocab % tensor === 0
            ? `the Megatron script sets --make-vocab-size-divisible-by ${vocab / tensor}; a vocab of ${Math.ceil(vocab / multiple) * multiple} keeps Megatron's default`
            : `vocab is not a multiple of tensor ${tensor}: Megatron cannot build this vocabulary; use ${Math.ceil(vocab / multiple) * multiple}`,
      });
    }
  },
};
