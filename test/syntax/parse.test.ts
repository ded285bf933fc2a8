import { describe, expect, it } from 'vitest';
import { DiagnosticBag } from '../../compiler/diagnostics/diagnostic.js';
import type * as A from '../../compiler/syntax/ast.js';
import { MAX_FILE_CHARS, parseText } from '../../compiler/syntax/parse.js';

function parse(text: string) {
  const diagnostics = new DiagnosticBag();
  const result = parseText('/t.moe', text, diagnostics);
  return { ...result, diagnostics: diagnostics.sorted() };
}

function firstBlock(text: string): A.Block {
  const { ast, diagnostics } = parse(text);
  expect(diagnostics).toEqual([]);
  const block = ast.items.find((i): i is A.Block => i.kind === 'Block');
  if (!block) throw new Error('no block');
  return block;
}

function field(block: A.Block, name: string): A.Expr {
  const f = block.body.members.find((m): m is A.Field => m.kind === 'Field' && m.name.name === name);
  if (!f) throw new Error(`no field ${name}`);
  return f.value;
}

describe('lexing numbers and units', () => {
  const block = firstBlock(`x y {
    a = 4_096
    b = 3e-4
    c = 14.8T tokens
    d = 80GiB
    e = 80%
    f = 2000 steps
    g = 80TB
    h = 989 TFLOPs
    i = 2s
  }`);
  const num = (name: string) => field(block, name) as A.NumberLit;

  it('reads separators, exponents, count suffixes and percent', () => {
    expect(num('a').value).toBe(4096);
    expect(num('b').value).toBeCloseTo(3e-4);
    expect(num('c').value).toBeCloseTo(1.48e13);
    expect(num('e').value).toBeCloseTo(0.8);
    expect(num('e').percent).toBe(true);
  });

  it('attaches units written on the same line, with or without a space', () => {
    expect(num('c').unit?.name).toBe('tokens');
    expect(num('d').unit?.name).toBe('GiB');
    expect(num('f').unit?.name).toBe('steps');
    expect(num('g').unit?.name).toBe('TB');
    expect(num('g').value).toBe(80);
    expect(num('h').unit?.name).toBe('TFLOPs');
    expect(num('i').unit?.name).toBe('s');
  });

  it('never takes a unit from the next line', () => {
    const b = firstBlock('x y {\n  batch = 32\n  steps = 2000\n}');
    expect((field(b, 'batch') as A.NumberLit).unit).toBeUndefined();
    expect((field(b, 'steps') as A.NumberLit).value).toBe(2000);
  });
});

describe('parsing', () => {
  it('reads the member forms: field, nested, variant, layer range, weighted rule', () => {
    const b = firstBlock(`model M extends Base {
      dim = 4 * (D + 1)
      init { std = 0.02 }
      attention mla { heads = 8 }
      layers 1..N-1 { moe { experts = 16 } }
      accuracy 0.4 = answer { extract = r"<a>(.*?)</a>" }
    }`);
    expect(b.base?.name).toBe('Base');
    expect(b.body.members.map((m) => m.kind)).toEqual(['Field', 'Nested', 'Nested', 'LayerRange', 'Weighted']);
    const dim = field(b, 'dim') as A.BinaryExpr;
    expect(dim.op).toBe('*');
    expect(dim.right.kind).toBe('Paren');
    const range = b.body.members[3] as A.LayerRange;
    expect((range.to as A.BinaryExpr).op).toBe('-');
    const rule = b.body.members[4] as A.Weighted;
    expect((rule.value as A.VariantExpr).tag.name).toBe('answer');
  });

  it('keeps backslashes in raw strings and decodes JSON escapes in strings', () => {
    const b = firstBlock(String.raw`x y { p = r"^\d+\s$", q = "a\nb\u0041", r = r#"say "hi""# }`);
    expect((field(b, 'p') as A.StringLit).value).toBe(String.raw`^\d+\s$`);
    expect((field(b, 'q') as A.StringLit).value).toBe('a\nbA');
    expect((field(b, 'r') as A.StringLit).value).toBe('say "hi"');
  });

  it('reads lists with trailing commas, pairs, variants and dotted references', () => {
    const b = firstBlock('x y { decay = [80% -> 0.316, 90% -> 0.1,], balance = bias { rate = 1e-3 }, w = Base.dim }');
    const decay = field(b, 'decay') as A.ListExpr;
    expect(decay.items.map((i) => i.kind)).toEqual(['Pair', 'Pair']);
    expect(field(b, 'balance').kind).toBe('Variant');
    expect((field(b, 'w') as A.RefExpr).path.map((p) => p.name)).toEqual(['Base', 'dim']);
  });

  it('reads pipelines with several chains, and `pipeline` as an ordinary field name', () => {
    const { ast, diagnostics } = parse('pipeline p { a -> b -> c, b -> d }\nx y { parallel { pipeline = 2 } }');
    expect(diagnostics).toEqual([]);
    const p = ast.items[0] as A.Pipeline;
    expect(p.chains.map((c) => c.map((i) => i.name))).toEqual([
      ['a', 'b', 'c'],
      ['b', 'd'],
    ]);
  });

  it('recovers: a broken member still yields the rest of the tree', () => {
    const { ast, diagnostics } = parse('model M {\n  dim = \n  layers = 2\n}\nmodel N { dim = 3 }');
    expect(diagnostics.map((d) => d.code)).toContain('MOE1002');
    expect(ast.items.filter((i) => i.kind === 'Block').map((b) => (b as A.Block).name.name)).toEqual(['M', 'N']);
  });

  it('points the unterminated-string error at the opening quote', () => {
    const { diagnostics } = parse('x y {\n  s = "abc\n}');
    const d = diagnostics.find((x) => x.code === 'MOE1003');
    expect(d?.span.start).toBe('x y {\n  s = '.length);
  });

  it('refuses files over the size limit with one diagnostic', () => {
    const { diagnostics } = parse(`const A = 1\n${' '.repeat(MAX_FILE_CHARS)}`);
    expect(diagnostics.map((d) => d.code)).toEqual(['MOE1007']);
  });

  it('refuses pathological nesting instead of overflowing the stack', () => {
    const { diagnostics } = parse(`const A = ${'('.repeat(10_000)}1${')'.repeat(10_000)}`);
    expect(diagnostics.map((d) => d.code)).toEqual(['MOE1006']);
  });
});
