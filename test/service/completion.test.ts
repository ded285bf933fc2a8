import { describe, expect, it } from 'vitest';
import { completions, type CompletionItem } from '../../compiler/service/index.js';
import { analyzeText, cursor } from './helpers.js';

const MODEL = `model Tiny {
  vocab = 300, dim = 64, layers = 2, context = 128
  attention mha { heads = 4 }
  layers 0..1 { ffn swiglu { hidden = 256 } }
}
tokenizer bytes { kind = byte }
data corpus { source = "data/corpus.txt" }
reward r { accuracy 1.0 = answer {} }
const WIDTH = 64
`;

function complete(marked: string): CompletionItem[] {
  const { text, offset } = cursor(marked);
  return completions(analyzeText(text), offset);
}

function labels(marked: string): string[] {
  return complete(marked).map((c) => c.label);
}

describe('completion', () => {
  it('block kinds and declarations at the top level', () => {
    const items = complete(`${MODEL}¦`);
    expect(items.map((c) => c.label)).toEqual(['cluster', 'data', 'tokenizer', 'model', 'reward', 'pretrain', 'sft', 'grpo', 'sample', 'generate', 'eval', 'import', 'const', 'pipeline']);
    expect(items.find((c) => c.label === 'model')).toMatchObject({ snippet: true, insertText: 'model ${1:Name} {\n\t$0\n}' });
  });

  it('the fields a block may still take, with `layers` ranges in a model', () => {
    const items = complete('model M {\n  vocab = 8\n  ¦\n}');
    const names = items.map((c) => c.label);
    expect(names).toContain('dim');
    expect(names).toContain('attention');
    expect(names).toContain('layers');
    expect(names).not.toContain('vocab');
    expect(items.find((c) => c.label === 'attention')).toMatchObject({ insertText: 'attention ${1|mla,gqa,mha,mqa|} {\n\t$0\n}', kind: 'field' });
    expect(items.find((c) => c.label === 'tie_embeddings')!.insertText).toBe('tie_embeddings = ${1|true,false|}');
    expect(items.find((c) => c.label === 'dim')!.documentation).toContain('model width');
  });

  it('fields of nested blocks, variant cases and layer ranges, even in unfinished text', () => {
    expect(labels('model M {\n  attention mla {\n    hea¦')).toContain('heads');
    expect(labels('model M {\n  attention mla {\n    ¦')).toContain('kv_rank');
    expect(labels('model M {\n  layers 0..3 {\n    moe {\n      router {\n        ¦')).toEqual(
      expect.arrayContaining(['score', 'groups', 'top_groups', 'balance', 'aux_loss']),
    );
    expect(labels('model M {\n  layers 0..3 {\n    ¦')).toEqual(['ffn', 'moe']);
    expect(labels('model M { layers 0..3 { moe { router { balance = bias { ¦ } } } } }')).toEqual(['rate']);
  });

  it('the word being typed is what a completion replaces', () => {
    const { text, offset } = cursor('model M {\n  voc¦\n}');
    const item = completions(analyzeText(text), offset).find((c) => c.label === 'vocab')!;
    expect(text.slice(item.replace.start, item.replace.end)).toBe('voc');
  });

  it('variant cases after a field name', () => {
    expect(labels('model M {\n  attention ¦')).toEqual(['mla', 'gqa', 'mha', 'mqa']);
  });

  it('enum values and variant cases after `=`', () => {
    expect(labels('model M { layers 0..1 { moe { router { score = ¦ } } } }')).toEqual(['sigmoid', 'softmax']);
    const balance = complete('model M { layers 0..1 { moe { router { balance = ¦ } } } }');
    expect(balance.map((c) => [c.label, c.insertText])).toEqual([
      ['bias', 'bias { $0 }'],
      ['none', 'none'],
    ]);
    expect(labels('pretrain p { precision = b¦ }')).toEqual(['fp32', 'bf16', 'fp16']);
  });

  it('names of blocks of the kinds a reference field accepts', () => {
    expect(labels(`${MODEL}pretrain p { model = ¦ }`)).toEqual(['Tiny']);
    expect(labels(`${MODEL}pretrain p { data = ¦ }`)).toEqual(['corpus']);
    expect(labels(`${MODEL}pretrain p { tokenizer = ¦ }`)).toEqual(['bytes']);
    expect(labels(`${MODEL}pretrain p { model = Tiny }\nsft s { from = ¦ }`)).toEqual(['p', 's']);
    expect(labels(`${MODEL}grpo g { reward = ¦ }`)).toEqual(['r']);
    expect(labels(`${MODEL}cluster c { devices = 8, memory = 8GiB }\npretrain p { on = ¦ }`)).toEqual(['c']);
  });

  it('units after a number, for the field\'s dimensions only', () => {
    expect(labels(`sft s { batch = 16 ¦ }`)).toEqual(['token', 'tokens', 'sequence', 'sequences']);
    const bytes = ['KiB', 'MiB', 'GiB', 'TiB', 'KB', 'MB', 'GB', 'TB', 'bytes'];
    expect(labels(`cluster c { memory = 80 G¦`)).toEqual(bytes);
    // attached, as in `80GiB`
    expect(labels(`cluster c { memory = 80¦`)).toEqual(bytes);
    expect(labels(`cluster c { devices = 80 ¦`)).toEqual([]);
  });

  it('consts in expressions', () => {
    expect(labels(`${MODEL}model N { dim = 2 * ¦ }`)).toEqual(['WIDTH']);
    expect(complete(`${MODEL}model N { dim = ¦ }`)[0]).toMatchObject({ label: 'WIDTH', detail: 'const WIDTH = 64', kind: 'const' });
  });

  it('reward rules: the rule kinds after a weight, rule snippets at a member', () => {
    expect(labels('reward r {\n  accuracy 0.5 = ¦')).toEqual(['answer', 'regex', 'language_consistency', 'length', 'repetition', 'tests', 'custom']);
    expect(labels('reward r {\n  ¦\n}')).toEqual(expect.arrayContaining(['normalize', 'answer rule', 'regex rule']));
  });

  it('stage names in a pipeline, bases after `extends`', () => {
    expect(labels(`${MODEL}pretrain p { model = Tiny }\nsft s { from = p }\npipeline all { p -> ¦ }`)).toEqual(['p', 's']);
    expect(labels(`${MODEL}model Big extends ¦`)).toEqual(['Tiny']);
  });

  it('nothing inside comments and strings, or after a complete value', () => {
    expect(labels('model M {\n  // vo¦\n}')).toEqual([]);
    expect(labels('data d { source = "da¦ta" }')).toEqual([]);
    expect(labels('model M { vocab = 8 ¦')).toEqual([]);
  });
});
