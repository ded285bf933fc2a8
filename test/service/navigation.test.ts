import { describe, expect, it } from 'vitest';
import { definition, references, type Location } from '../../compiler/service/index.js';
import { analyzeText, cursor, SPEC } from './helpers.js';

const SPEC_TEXT = `const D = 64
model Tiny {
  vocab = 300, dim = D, layers = 2, context = 128
  attention mha { heads = 4 }
  layers 0..1 { ffn swiglu { hidden = 4 * dim } }
}
model Wide extends Tiny { dim = 2 * Tiny.dim }
tokenizer bytes { kind = byte }
data corpus { source = "data/corpus.txt" }
pretrain p { model = Tiny, data = corpus, tokenizer = bytes, seq_len = 64, batch = 8, steps = 10 }
sft s { from = p, data = corpus }
pipeline all { p -> s }
`;

function textAt(l: Location, text: string): string {
  return text.slice(l.start, l.end);
}

function defAt(marked: string, others: Record<string, string> = {}): Location[] {
  const { text, offset } = cursor(marked);
  return definition(analyzeText(text, others), offset);
}

function refsAt(needle: string, delta: number, includeDeclaration = true): Location[] {
  return references(analyzeText(SPEC_TEXT), SPEC_TEXT.indexOf(needle) + delta, includeDeclaration);
}

describe('go to definition', () => {
  it('a block reference goes to the block\'s name', () => {
    const [loc] = defAt(SPEC_TEXT.replace('model = Tiny', 'model = Ti¦ny'));
    expect(loc!.file).toBe(SPEC);
    expect(loc!.range.start).toEqual({ line: 1, character: 6 });
    expect(textAt(loc!, SPEC_TEXT)).toBe('Tiny');
  });

  it('consts, extends bases, pipeline stages and `from`', () => {
    expect(defAt(SPEC_TEXT.replace('dim = D', 'dim = ¦D'))[0]!.range.start).toEqual({ line: 0, character: 6 });
    expect(defAt(SPEC_TEXT.replace('extends Tiny', 'extends T¦iny'))[0]!.range.start.line).toBe(1);
    expect(defAt(SPEC_TEXT.replace('p -> s', 'p -> ¦s'))[0]!.range.start.line).toBe(10);
    expect(defAt(SPEC_TEXT.replace('from = p', 'from = ¦p'))[0]!.range.start.line).toBe(9);
  });

  it('a field read by name goes to the field of the enclosing block; a qualified one to the named block\'s', () => {
    const [local] = defAt(SPEC_TEXT.replace('4 * dim', '4 * d¦im'));
    expect(local!.range.start).toEqual({ line: 2, character: 15 });
    const [qualified] = defAt(SPEC_TEXT.replace('Tiny.dim', 'Tiny.di¦m'));
    expect(qualified!.range.start).toEqual({ line: 2, character: 15 });
  });

  it('into an imported file, and from an import path to the file', () => {
    const lib = { 'lib/models.moe': 'model Base {\n  vocab = 300, dim = 64, layers = 1, context = 8\n  attention mha { heads = 4 }\n  layers 0..0 { ffn swiglu { hidden = 4 } }\n}\n' };
    const [loc] = defAt('import "lib/models.moe"\nmodel M extends Ba¦se { dim = 32 }', lib);
    expect(loc).toMatchObject({ file: '/mem/lib/models.moe', range: { start: { line: 0, character: 6 } } });
    const [file] = defAt('import "lib/mod¦els.moe"\nmodel M extends Base { dim = 32 }', lib);
    expect(file).toMatchObject({ file: '/mem/lib/models.moe', start: 0 });
  });

  it('nothing on a field name that nothing reads, on numbers, or on unknown names', () => {
    expect(defAt(SPEC_TEXT.replace('context = 128', 'context = 1¦28'))).toEqual([]);
    expect(defAt('pretrain p { model = Nob¦ody }')).toEqual([]);
  });
});

describe('find references', () => {
  it('every use of a block, with or without its declaration', () => {
    const all = refsAt('model Tiny', 7);
    expect(all.map((l) => l.range.start.line)).toEqual([1, 6, 6, 9]);
    expect(refsAt('model Tiny', 7, false).map((l) => l.range.start.line)).toEqual([6, 6, 9]);
  });

  it('from a use, the same set', () => {
    expect(refsAt('model = Tiny', 9).map((l) => l.range.start.line)).toEqual([1, 6, 6, 9]);
  });

  it('stages in pipelines and `from`', () => {
    expect(refsAt('pretrain p', 9).map((l) => textAt(l, SPEC_TEXT))).toEqual(['p', 'p', 'p']);
  });

  it('a const and a field', () => {
    expect(refsAt('const D', 6).map((l) => l.range.start)).toEqual([
      { line: 0, character: 6 },
      { line: 2, character: 21 },
    ]);
    // `4 * dim` in its layer range, and `Tiny.dim` in the derived model
    expect(refsAt('dim = D', 0).map((l) => l.range.start.line)).toEqual([2, 4, 6]);
  });

  it('across the imports of the document', () => {
    const text = 'import "lib/c.moe"\ncluster mine { devices = N, memory = 8GiB }';
    const refs = references(analyzeText(text, { 'lib/c.moe': 'const N = 8\n' }), text.indexOf('N,'), true);
    expect(refs.map((r) => [r.file, r.range.start.line])).toEqual([
      ['/mem/spec.moe', 1],
      ['/mem/lib/c.moe', 0],
    ]);
  });
});
